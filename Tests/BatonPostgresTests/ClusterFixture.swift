@testable import BatonCore
@testable import BatonPostgres
import BatonTestSupport
import Foundation
import ServiceLifecycle
import Testing

/// Nodes named `a`, `b`, ... on one PostgreSQL database of their own, each as `baton serve`
/// builds it, one worker each, polls far apart: whatever happens between them happens through
/// the database and its notifications.
enum Cluster {
    static func with(
        nodes count: Int = 2,
        configure: (inout BatonNode.Configuration) -> Void = { _ in },
        _ body: (RunningCluster) async throws -> Void
    ) async throws {
        guard let server = TestPostgres.serverURL else {
            print("note: BATON_TEST_POSTGRES_URL is not set; several nodes on PostgreSQL are not tested")
            return
        }
        let database = try await TestPostgres.createDatabase(on: server)
        let workspace = try TemporaryDirectory()
        let interpreter = try await PythonInterpreter.resolve()
        var nodes: [BatonNode] = []
        var groups: [ServiceGroup] = []
        for index in 0..<count {
            let store = try await PostgresPlanStore(configuration: .init(url: try PostgresURL(database)), logger: quietLogger)
            var configuration = BatonNode.Configuration()
            configuration.name = String(UnicodeScalar(UInt8(ascii: "a") + UInt8(index)))
            configuration.orchestrator.workers = 1
            configuration.orchestrator.pollInterval = .seconds(600)
            configuration.orchestrator.leaseDuration = .seconds(600)
            configure(&configuration)
            let path = workspace.path
            let node = BatonNode(store: store, notifier: PostgresQueueNotifier(store: store, logger: quietLogger),
                                 configuration: configuration, logger: { _ in quietLogger }) {
                PreparedRunner(runner: PythonRunner(configuration: .init(interpreter: interpreter, workspaceRoot: path), logger: quietLogger),
                               interpreter: interpreter)
            }
            // Registered in order, so that the first node leads.
            try await node.presence.register()
            nodes.append(node)
            groups.append(node.serviceGroup(logger: quietLogger))
        }
        let cluster = RunningCluster(nodes: nodes, groups: groups)
        do {
            for node in nodes {
                #expect(await eventually { (try? await node.orchestrator.status())?.lastPollAt != nil })
            }
            try await body(cluster)
        } catch {
            await cluster.stopAll()
            await TestPostgres.dropDatabase(database, on: server)
            throw error
        }
        await cluster.stopAll()
        await TestPostgres.dropDatabase(database, on: server)
    }

    /// Two nodes, `a` and `b`.
    static func pair(_ body: (BatonNode, BatonNode) async throws -> Void) async throws {
        try await with(nodes: 2) { cluster in try await body(cluster.nodes[0], cluster.nodes[1]) }
    }
}

/// The nodes of a ``Cluster`` while they run.
final class RunningCluster: Sendable {
    let nodes: [BatonNode]
    private let groups: [ServiceGroup]
    private let running: [Task<Void, any Error>]

    init(nodes: [BatonNode], groups: [ServiceGroup]) {
        self.nodes = nodes
        self.groups = groups
        running = groups.map { group in Task { try await group.run() } }
    }

    /// Shuts node `index` down gracefully, as SIGTERM does, and waits until it has stopped.
    func stop(_ index: Int) async {
        await groups[index].triggerGracefulShutdown()
        _ = try? await running[index].value
    }

    func stopAll() async {
        for group in groups { await group.triggerGracefulShutdown() }
        for task in running { _ = try? await task.value }
    }
}
