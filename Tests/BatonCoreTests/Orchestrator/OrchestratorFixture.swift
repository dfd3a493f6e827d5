@testable import BatonCore
import BatonTestSupport
import BatonSQLite
import Foundation
import Logging
import ServiceLifecycle
import Testing

/// A node — store, queue, upkeep and orchestrator, as `baton serve` builds it — running in a
/// `ServiceGroup`, and a workspace of scripts for it to run.
final class OrchestratorFixture: Sendable {
    let directory: String
    let workspace: String
    let store: SQLitePlanStore
    let node: BatonNode
    var queue: PlanQueue { node.queue }
    var bus: EventBus { node.bus }
    var orchestrator: Orchestrator { node.orchestrator }
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    init(
        workers: Int = 2,
        pollInterval: Duration = .seconds(600),
        pollClock: any Clock<Duration> = ContinuousClock(),
        lease: Duration = .seconds(60),
        busyTimeout: Duration = .seconds(10),
        configure: (inout Orchestrator.Configuration) -> Void = { _ in }
    ) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("baton-orchestrator-\(UUID().uuidString)").path
        workspace = directory + "/workspace"
        try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
        var storeConfiguration = SQLitePlanStore.Configuration(path: directory + "/baton.sqlite")
        storeConfiguration.busyTimeout = busyTimeout
        store = try await SQLitePlanStore(configuration: storeConfiguration, logger: quietLogger)
        var configuration = Orchestrator.Configuration()
        configuration.workers = workers
        configuration.pollInterval = pollInterval
        configuration.leaseDuration = lease
        configuration.retryBaseDelay = .milliseconds(200)
        configuration.shutdownDrainTimeout = .milliseconds(300)
        configure(&configuration)
        var nodeConfiguration = BatonNode.Configuration()
        nodeConfiguration.orchestrator = configuration
        let workspace = workspace
        node = BatonNode(store: store, configuration: nodeConfiguration, clock: pollClock, logger: { _ in quietLogger }) {
            var runner = PythonRunner.Configuration(interpreter: try await sharedInterpreter.value, workspaceRoot: workspace)
            runner.killGracePeriod = .milliseconds(500)
            return PreparedRunner(runner: PythonRunner(configuration: runner, logger: quietLogger), interpreter: try await sharedInterpreter.value)
        }
        group = node.serviceGroup(logger: quietLogger)
        let group = group
        running = Task { try await group.run() }
        // Running, and its first cycle done: from here on only the test's actions wake it.
        #expect(await eventually {
            let status = try? await self.orchestrator.status()
            return status?.state == .running && status?.lastPollAt != nil
        })
    }

    /// Runs `body` with a fresh fixture, and always shuts it down afterwards: the orchestrator
    /// stops, its running plans' process groups with it, and the files go.
    static func with(
        workers: Int = 2,
        pollInterval: Duration = .seconds(600),
        pollClock: any Clock<Duration> = ContinuousClock(),
        lease: Duration = .seconds(60),
        busyTimeout: Duration = .seconds(10),
        configure: (inout Orchestrator.Configuration) -> Void = { _ in },
        _ body: (OrchestratorFixture) async throws -> Void
    ) async throws {
        let fixture = try await OrchestratorFixture(workers: workers, pollInterval: pollInterval, pollClock: pollClock,
                                                    lease: lease, busyTimeout: busyTimeout, configure: configure)
        do {
            try await body(fixture)
        } catch {
            await fixture.tearDown()
            throw error
        }
        await fixture.tearDown()
    }

    /// Graceful shutdown, as SIGTERM would trigger it; returns when the orchestrator has stopped.
    func shutDown() async throws {
        await group.triggerGracefulShutdown()
        try await running.value
    }

    /// A new store on the fixture's database: after ``shutDown()`` the node's own is closed.
    func reopenStore() async throws -> SQLitePlanStore {
        try await SQLitePlanStore(configuration: .init(path: directory + "/baton.sqlite"), logger: quietLogger)
    }

    /// How many loops of a running node sleep on its clock when idle: the poll ticker, the lease
    /// keeper, the upkeep's ticker and the node's heartbeat.
    static let idleSleepers = 4

    /// Shuts down (if still running) and removes everything.
    func tearDown() async {
        await group.triggerGracefulShutdown()
        _ = try? await running.value
        await store.close()  // closed by the group already, unless it failed to start
        try? FileManager.default.removeItem(atPath: directory)
    }

    func script(_ name: String, _ source: String) throws {
        try source.write(toFile: workspace + "/" + name, atomically: true, encoding: .utf8)
    }

    /// A script that appends `start <plan id>` and `end <plan id>` to `log`, sleeping between.
    func recorder(_ name: String = "record.py", seconds: Double = 0) throws {
        try script(name, """
            import os, sys, time
            def mark(what):
                fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                os.write(fd, f"{what} {os.environ['BATON_PLAN_ID']}\\n".encode())
                os.close(fd)
            mark("start")
            time.sleep(\(seconds))
            mark("end")

            """)
    }

    var log: String { directory + "/runs.log" }

    /// The lines the recorder scripts wrote, in order.
    func logLines() -> [String] {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// Enqueues in this process, as the API does: through the queue, which wakes the orchestrator.
    @discardableResult
    func enqueue(_ spec: PlanSpec) async throws -> Plan {
        try await queue.enqueue(spec).plan
    }

    /// Waits (up to a generous safety limit) until plan `id` is in `status`.
    func waitFor(_ id: Int64, _ status: PlanStatus, within deadline: Duration = .seconds(30)) async -> Plan? {
        var last: Plan?
        let reached = await eventually(within: deadline) {
            last = try? await self.store.plan(id)
            return last?.status == status
        }
        return reached ? last : nil
    }
}
