@testable import BatonCore
@testable import BatonPostgres
import BatonTestSupport
import Foundation
import ServiceLifecycle
import Testing

/// Two nodes on one PostgreSQL database, each as `baton serve` builds it, with polls far apart:
/// whatever happens between them happens through the database's notifications.
@Suite(.timeLimit(.minutes(3))) struct ClusterTests {
    @Test func aPlanEnqueuedOnAPausedNodeIsClaimedByAnIdleOneWithoutItsPoll() async throws {
        try await Cluster.pair { a, b in
            await a.orchestrator.pause()
            let plan = try await a.queue.enqueue(PlanSpec(entryPoint: .code("print('ran on b')"))).plan
            #expect(await eventually(within: .seconds(60)) { (try? await a.store.plan(plan.id))?.status == .succeeded })
            let claimedBy = try await a.store.events(of: plan.id).first { $0.kind == .claimed }?.actor
            #expect(claimedBy == (await b.orchestrator.owner))
        }
    }

    @Test func aCancelOnOneNodeStopsThePlanRunningOnTheOther() async throws {
        try await Cluster.pair { a, b in
            await a.orchestrator.pause()
            let plan = try await a.queue.enqueue(PlanSpec(entryPoint: .code("import time\nprint('up', flush=True)\ntime.sleep(600)"))).plan
            #expect(await eventually(within: .seconds(60)) { (try? await b.store.plan(plan.id))?.processGroup != nil })
            // The lease keeper checks for cancels every 100 s here: only the notification can stop it sooner.
            _ = try await a.queue.cancel(plan.id, actor: "ops")
            #expect(await eventually(within: .seconds(60)) { (try? await a.store.plan(plan.id))?.status == .canceled })
        }
    }

    @Test func pauseOfEveryNodeStopsAllClaimsAndResumeStartsThemAgain() async throws {
        try await Cluster.pair { a, b in
            let paused = try await a.control.perform(.pause, on: .all, actor: "ops")
            #expect(paused.answers.map(\.node) == ["a", "b"])
            #expect(paused.answers.allSatisfy { $0.state == "paused" && $0.error == nil })
            #expect(try await b.orchestrator.status().state == .paused)
            let plan = try await a.queue.enqueue(PlanSpec(entryPoint: .code("print('ok')"))).plan
            let polled = try await b.control.perform(.poll, on: nil, actor: "ops")
            #expect(polled.answers.map(\.node) == ["b", "a"], "the node that took the request answers first")
            #expect(polled.answers.allSatisfy { $0.claimed == [] })
            #expect(try await a.store.plan(plan.id)?.status == .queued)
            let resumed = try await b.control.perform(.resume, on: .all, actor: "ops")
            #expect(resumed.answers.allSatisfy { $0.state == "running" })
            #expect(await eventually(within: .seconds(60)) { (try? await a.store.plan(plan.id))?.status == .succeeded })
            let audit = try await a.store.auditEntries(before: nil, limit: 10).entries
            #expect(audit.map(\.action) == ["resume", "poll", "pause"])
            #expect(audit.allSatisfy { $0.actor == "ops" && $0.target == "*" })
            #expect(audit.last?.outcome == "a: paused; b: paused")
        }
    }

    @Test func aRestartOfOneNamedNodeLeavesTheOthersRunning() async throws {
        try await Cluster.with(nodes: 3) { cluster in
            let (a, b, c) = (cluster.nodes[0], cluster.nodes[1], cluster.nodes[2])
            let before = try await b.orchestrator.status().generation
            let outcome = try await a.control.perform(.restart(.immediate), on: .named("b"), actor: "ops")
            #expect(outcome.local == nil, "a was not named")
            #expect(outcome.answers.map(\.node) == ["b"])
            #expect(outcome.answers.first?.generation == before + 1)
            #expect(try await b.orchestrator.status().generation == before + 1)
            #expect(try await a.orchestrator.status().generation == before)
            #expect(try await c.orchestrator.status().generation == before)
            #expect(try await c.orchestrator.status().state == .running)
        }
    }

    @Test func aCommandForAnUnknownOrGoneNodeIsRefusedNamingTheLiveOnes() async throws {
        try await Cluster.pair { a, _ in
            await #expect(throws: ClusterError.unknownNode("c", known: ["a", "b"])) {
                try await a.control.perform(.pause, on: .named("c"), actor: "ops")
            }
            let now = Date()
            let gone = NodeHeartbeat(name: "z", instance: "old", state: .stopped, generation: 1, workersTotal: 1, workersBusy: 0,
                                     startedAt: now, lease: .seconds(60))
            let written = try await a.store.beat(gone, now: now)
            #expect(written)
            await #expect(throws: ClusterError.nodeGone("z", state: .stopped)) {
                try await a.control.perform(.resume, on: .named("z"), actor: "ops")
            }
            let state = try await a.orchestrator.status().state
            #expect(state == .running, "nothing was done")
        }
    }

    @Test func whenTheLeaderStopsAnotherNodeLeadsAtItsNextHeartbeat() async throws {
        try await Cluster.with(configure: { $0.orchestrator.heartbeatInterval = .milliseconds(200) }) { cluster in
            let (a, b) = (cluster.nodes[0], cluster.nodes[1])
            let nodes = try await a.store.nodes(now: Date())
            #expect(nodes.map(\.name) == ["a", "b"])
            #expect(nodes.map(\.leader) == [true, false], "a registered first")
            #expect(nodes.allSatisfy { $0.state(at: Date()) == .running && $0.heartbeat.workersTotal == 1 })
            await cluster.stop(0)
            #expect(await eventually(within: .seconds(30)) {
                let nodes = (try? await b.store.nodes(now: Date())) ?? []
                return nodes.first { $0.name == "b" }?.leader == true
            })
            let after = try await b.store.nodes(now: Date())
            #expect(after.first { $0.name == "a" }?.state(at: Date()) == .stopped)
        }
    }
}
