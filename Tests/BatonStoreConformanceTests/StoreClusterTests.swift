import BatonCore
import BatonTestSupport
import Foundation
import Testing

/// Node rows, the leader lease, control commands and the audit log (design §10), the same in
/// every store.
@Suite struct StoreClusterTests {
    private func heartbeat(_ name: String, instance: String = "i1", state: NodeState = .running, busy: Int = 0,
                           lease: Duration = .seconds(60)) -> NodeHeartbeat {
        NodeHeartbeat(name: name, instance: instance, state: state, generation: 1, workersTotal: 4, workersBusy: busy,
                      version: "1.2.3", startedAt: t0, lease: lease)
    }

    @Test(arguments: StoreKind.all) func aNodeRegistersThenRefreshesItsRow(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            #expect(try await store.beat(heartbeat("build-1"), now: t0))
            #expect(try await store.beat(heartbeat("build-1", state: .paused, busy: 3), now: t0.adding(seconds: 10)))
            let nodes = try await store.nodes(now: t0.adding(seconds: 10))
            #expect(nodes.count == 1)
            let node = try #require(nodes.first)
            #expect(node.heartbeat == heartbeat("build-1", state: .paused, busy: 3))
            #expect(node.lastSeenAt == t0.adding(seconds: 10))
            #expect(node.state(at: t0.adding(seconds: 10)) == .paused)
            #expect(!node.leader)
        }
    }

    @Test(arguments: StoreKind.all) func aLiveNodesNameIsRefusedToAnotherProcessUntilItStopsOrIsLost(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            #expect(try await store.beat(heartbeat("build-1", instance: "first"), now: t0))
            #expect(try await !store.beat(heartbeat("build-1", instance: "second"), now: t0.adding(seconds: 30)))
            #expect(try await store.nodes(now: t0).first?.heartbeat.instance == "first")
            // Not seen for more than its lease: the name is free again.
            #expect(try await store.beat(heartbeat("build-1", instance: "second"), now: t0.adding(seconds: 61)))
            // A clean stop frees it at once.
            #expect(try await store.beat(heartbeat("build-1", instance: "second", state: .stopped), now: t0.adding(seconds: 62)))
            #expect(try await store.beat(heartbeat("build-1", instance: "third"), now: t0.adding(seconds: 63)))
            #expect(try await store.nodes(now: t0).map(\.heartbeat.instance) == ["third"])
        }
    }

    @Test(arguments: StoreKind.all) func aNodeNotSeenForOneLeaseIsLostThenForgotten(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            #expect(try await store.beat(heartbeat("a", lease: .seconds(10)), now: t0))
            #expect(try await store.beat(heartbeat("b", lease: .seconds(60)), now: t0))
            #expect(try await store.beat(heartbeat("c", state: .stopped), now: t0))
            let later = t0.adding(seconds: 11)
            #expect(try await store.nodes(now: later).map { $0.state(at: later) } == [.lost, .running, .stopped])
            #expect(try await store.markLostNodes(now: later, forgetBefore: t0.adding(seconds: -1)) == ["a"])
            #expect(try await store.markLostNodes(now: later, forgetBefore: t0.adding(seconds: -1)) == [], "already marked")
            #expect(try await store.nodes(now: t0).map(\.heartbeat.state) == [.lost, .running, .stopped], "stored, whatever the reader's clock")
            // Gone nodes are forgotten after a while; a live one never.
            #expect(try await store.markLostNodes(now: later, forgetBefore: t0.adding(seconds: 1)) == [])
            #expect(try await store.nodes(now: later).map(\.name) == ["b"])
        }
    }

    @Test(arguments: StoreKind.all) func oneNodeLeadsUntilItsLeaseRunsOutOrItResigns(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            for name in ["a", "b"] { #expect(try await store.beat(heartbeat(name), now: t0)) }
            #expect(try await store.lead(node: "a", lease: .seconds(30), now: t0))
            #expect(try await !store.lead(node: "b", lease: .seconds(30), now: t0.adding(seconds: 1)))
            #expect(try await store.lead(node: "a", lease: .seconds(30), now: t0.adding(seconds: 20)), "the leader extends its lease")
            #expect(try await !store.lead(node: "b", lease: .seconds(30), now: t0.adding(seconds: 45)), "extended to 50 s")
            #expect(try await store.nodes(now: t0.adding(seconds: 45)).map(\.leader) == [true, false])
            #expect(try await store.nodes(now: t0.adding(seconds: 51)).map(\.leader) == [false, false], "a lease that ran out leads nobody")
            #expect(try await store.lead(node: "b", lease: .seconds(30), now: t0.adding(seconds: 51)))
            #expect(try await !store.lead(node: "a", lease: .seconds(30), now: t0.adding(seconds: 52)))
            try await store.resign(node: "a")  // not the leader: nothing happens
            #expect(try await !store.lead(node: "a", lease: .seconds(30), now: t0.adding(seconds: 53)))
            try await store.resign(node: "b")
            #expect(try await store.lead(node: "a", lease: .seconds(30), now: t0.adding(seconds: 54)), "taken over at once after a resignation")
        }
    }

    @Test(arguments: StoreKind.all) func nodesRacingForTheLeadLeaveExactlyOneLeader(_ kind: StoreKind) async throws {
        try await withDatabase(kind) { database throws in
            let stores = try await [database.open(policy: QueuePolicy()), database.open(policy: QueuePolicy())]
            for round in 0..<20 {
                let now = t0.adding(seconds: Double(round) * 100)  // every round starts with an expired lease
                let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for index in 0..<8 {
                        let store = stores[index % 2]
                        group.addTask { try await store.lead(node: "node-\(index)", lease: .seconds(30), now: now) }
                    }
                    return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
                }
                #expect(winners == 1, "round \(round)")
            }
            for store in stores { await store.close() }
        }
    }

    @Test(arguments: StoreKind.all) func controlCommandsAreStoredAndAnsweredOncePerNode(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            let restart = try await store.issue(.restart(.graceful(drainTimeout: .seconds(12))), target: .named("b"), origin: "a", issuedBy: "ops", now: t0)
            let pause = try await store.issue(.pause, target: .all, origin: "a", issuedBy: "ops", now: t0.adding(seconds: 5))
            let immediate = try await store.issue(.restart(.immediate), target: .all, origin: "b", issuedBy: "ops", now: t0.adding(seconds: 6))
            #expect(restart.id < pause.id && pause.id < immediate.id)
            #expect(try await store.commands(after: 0, issuedSince: t0) == [restart, pause, immediate])
            #expect(try await store.commands(after: restart.id, issuedSince: t0) == [pause, immediate])
            #expect(try await store.commands(after: 0, issuedSince: t0.adding(seconds: 1)) == [pause, immediate])
            #expect(restart.action == .restart(.graceful(drainTimeout: .seconds(12))) && restart.target == .named("b") && restart.origin == "a" && restart.issuedBy == "ops")

            try await store.answer(pause.id, with: ControlAnswer(node: "b", state: "paused"), now: t0)
            try await store.answer(pause.id, with: ControlAnswer(node: "b", error: "a second answer is ignored"), now: t0)
            try await store.answer(pause.id, with: ControlAnswer(node: "a", state: "paused"), now: t0)
            #expect(try await store.answers(to: pause.id) == [ControlAnswer(node: "a", state: "paused"), ControlAnswer(node: "b", state: "paused")])
            #expect(try await store.answers(to: restart.id) == [])

            #expect(try await store.pruneCommands(issuedBefore: t0.adding(seconds: 5)) == 1)
            #expect(try await store.commands(after: 0, issuedSince: t0) == [pause, immediate])
            #expect(try await store.answers(to: pause.id).count == 2)
        }
    }

    @Test(arguments: StoreKind.all) func theAuditLogPagesNewestFirstAndIsPruned(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            var recorded: [AuditEntry] = []
            for index in 0..<5 {
                recorded.append(try await store.record(AuditEntry.Draft(
                    at: t0.adding(seconds: Double(index)), actor: "ops", action: .pause, target: "*", outcome: "ok: node-\(index)")))
            }
            #expect(recorded.map(\.outcome) == (0..<5).map { "ok: node-\($0)" })
            #expect(recorded[0].action == "pause" && recorded[0].at == t0)
            let first = try await store.auditEntries(before: nil, limit: 2)
            #expect(first.entries == [recorded[4], recorded[3]])
            let second = try await store.auditEntries(before: first.nextCursor, limit: 2)
            #expect(second.entries == [recorded[2], recorded[1]])
            let last = try await store.auditEntries(before: second.nextCursor, limit: 2)
            #expect(last.entries == [recorded[0]] && last.nextCursor == nil)
            #expect(try await store.pruneAudit(before: t0.adding(seconds: 3)) == 3)
            #expect(try await store.auditEntries(before: nil, limit: 10).entries == [recorded[4], recorded[3]])
        }
    }
}
