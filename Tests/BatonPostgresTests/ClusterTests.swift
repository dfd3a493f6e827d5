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
        try await Cluster.with { a, b in
            await a.orchestrator.pause()
            let plan = try await a.queue.enqueue(PlanSpec(entryPoint: .code("print('ran on b')"))).plan
            #expect(await eventually(within: .seconds(60)) { (try? await a.store.plan(plan.id))?.status == .succeeded })
            let claimedBy = try await a.store.events(of: plan.id).first { $0.kind == .claimed }?.actor
            #expect(claimedBy == (await b.orchestrator.owner))
        }
    }

    @Test func aCancelOnOneNodeStopsThePlanRunningOnTheOther() async throws {
        try await Cluster.with { a, b in
            await a.orchestrator.pause()
            let plan = try await a.queue.enqueue(PlanSpec(entryPoint: .code("import time\nprint('up', flush=True)\ntime.sleep(600)"))).plan
            #expect(await eventually(within: .seconds(60)) { (try? await b.store.plan(plan.id))?.processGroup != nil })
            // The lease keeper checks for cancels every 100 s here: only the notification can stop it sooner.
            _ = try await a.queue.cancel(plan.id, actor: "ops")
            #expect(await eventually(within: .seconds(60)) { (try? await a.store.plan(plan.id))?.status == .canceled })
        }
    }
}

/// Nodes for one test, on a database of their own.
private enum Cluster {
    static func with(_ body: (BatonNode, BatonNode) async throws -> Void) async throws {
        guard let server = TestPostgres.serverURL else {
            print("note: BATON_TEST_POSTGRES_URL is not set; several nodes on PostgreSQL are not tested")
            return
        }
        let database = try await TestPostgres.createDatabase(on: server)
        let workspace = try TemporaryDirectory()
        let interpreter = try await PythonInterpreter.resolve()
        var nodes: [BatonNode] = []
        var groups: [ServiceGroup] = []
        for _ in 0..<2 {
            let store = try await PostgresPlanStore(configuration: .init(url: try PostgresURL(database)), logger: quietLogger)
            var configuration = BatonNode.Configuration()
            configuration.orchestrator.workers = 1
            configuration.orchestrator.pollInterval = .seconds(600)
            configuration.orchestrator.leaseDuration = .seconds(600)
            let path = workspace.path
            let node = BatonNode(store: store, notifier: PostgresQueueNotifier(store: store, logger: quietLogger),
                                 configuration: configuration, logger: { _ in quietLogger }) {
                PreparedRunner(runner: PythonRunner(configuration: .init(interpreter: interpreter, workspaceRoot: path), logger: quietLogger),
                               interpreter: interpreter)
            }
            nodes.append(node)
            groups.append(node.serviceGroup(logger: quietLogger))
        }
        let running = groups.map { group in Task { try await group.run() } }
        do {
            for node in nodes {
                #expect(await eventually { (try? await node.orchestrator.status())?.lastPollAt != nil })
            }
            try await body(nodes[0], nodes[1])
        } catch {
            await stop(groups, running)
            await TestPostgres.dropDatabase(database, on: server)
            throw error
        }
        await stop(groups, running)
        await TestPostgres.dropDatabase(database, on: server)
    }

    private static func stop(_ groups: [ServiceGroup], _ running: [Task<Void, any Error>]) async {
        for group in groups { await group.triggerGracefulShutdown() }
        for task in running { _ = try? await task.value }
    }
}
