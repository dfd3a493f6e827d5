import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// One Baton node, wired in one place: the ``PlanQueue`` over a store, its
/// ``MaintenanceService``, the ``Orchestrator``, the node's ``NodePresence`` among the others
/// sharing the store, and its ``ClusterControl``, with the services to run in start order.
///
/// `baton serve`, the test fixtures and the benchmarks all build their node here; the HTTP API
/// (`BatonServer.buildApplication`) goes on top as one more service.
public struct BatonNode: Sendable {
    /// What a node is made of, beside its store and runner.
    public struct Configuration: Sendable {
        /// The node's name among the nodes sharing the store (`--node-name`).
        public var name = BatonNode.defaultName(port: nil)
        public var orchestrator = Orchestrator.Configuration()
        /// The upkeep's own beat; the orchestrator's poll interval unless set.
        public var maintenanceInterval: Duration?
        /// Plans that ended longer ago are pruned by the leader (`--retention`); `nil` keeps them.
        public var retention: Duration?

        public init() {}
    }

    public let store: any BatonStore
    public let queue: PlanQueue
    public let maintenance: MaintenanceService
    public let orchestrator: Orchestrator
    public let presence: NodePresence
    public let control: ClusterControl
    /// Prunes plans on request, recording it in the audit log.
    public let pruner: Pruner
    private let makeLogger: @Sendable (String) -> Logger

    /// Live notices of every plan, for the API's streams.
    public var bus: EventBus { queue.bus }

    /// The node's name among the nodes sharing the store.
    public var name: String { presence.name }

    /// - Parameters:
    ///   - notifier: Carries queue signals to orchestrators: within this process by default; a
    ///     shared store's notifier reaches every node (it runs as a service when it is one).
    ///   - clock: Times polls, heartbeats and upkeep; tests pass one they drive.
    ///   - now: Wall-clock time for the store.
    ///   - logger: Makes the logger of each part from its label (`baton.orchestrator`).
    ///   - prepareRunner: Makes the runner of each orchestrator generation.
    public init(
        store: any BatonStore,
        notifier: any QueueNotifier = LocalQueueNotifier(),
        configuration: Configuration = .init(),
        metrics: BatonMetrics = .none,
        clock: any Clock<Duration> = ContinuousClock(),
        now: @escaping @Sendable () -> Date = Date.init,
        logger: @escaping @Sendable (_ label: String) -> Logger = { Logger(label: $0) },
        prepareRunner: @escaping @Sendable () async throws -> PreparedRunner
    ) {
        self.store = store
        makeLogger = logger
        queue = PlanQueue(store: store, bus: EventBus(), notifier: notifier, metrics: metrics, logger: logger("baton.queue"))
        let leadership = Leadership.elected()
        var upkeep = MaintenanceService.Configuration()
        upkeep.interval = configuration.maintenanceInterval ?? configuration.orchestrator.pollInterval
        upkeep.jitter = configuration.orchestrator.pollJitter
        upkeep.retention = configuration.retention
        let pruner = Pruner(store: store, cluster: store)
        self.pruner = pruner
        maintenance = MaintenanceService(queue: queue, cluster: store, pruner: pruner, leadership: leadership, configuration: upkeep, clock: clock, now: now,
                                         logger: logger("baton.maintenance"))
        orchestrator = Orchestrator(configuration: configuration.orchestrator, queue: queue, maintenance: maintenance, clock: clock,
                                    now: now, logger: logger("baton.orchestrator"), metrics: metrics, prepareRunner: prepareRunner)
        let control = ClusterControl(name: configuration.name, store: store, notifier: notifier, orchestrator: orchestrator, now: now,
                                     logger: logger("baton.control"))
        self.control = control
        let beat = NodePresence.Configuration(name: configuration.name, interval: configuration.orchestrator.effectiveHeartbeatInterval,
                                              lease: configuration.orchestrator.leaseDuration)
        presence = NodePresence(configuration: beat, store: store, orchestrator: orchestrator, leadership: leadership, maintenance: maintenance,
                                onBeat: { await control.followCommands() }, clock: clock, now: now, logger: logger("baton.node"))
    }

    /// The name a node takes unless told otherwise: `host:port`, or `host:pid` when the port is
    /// picked at start.
    public static func defaultName(port: Int?) -> String {
        "\(RunOwner.thisHost):\(port.flatMap { $0 == 0 ? nil : $0 } ?? Int(getpid()))"
    }

    /// The node's services in start order, then `others` (the HTTP server). A group shuts them
    /// down in reverse: the server stops taking requests, the orchestrator hands its runs back,
    /// the node says it stopped, and the store closes last, after every write shutdown causes.
    public func services(then others: [any Service] = []) -> [any Service] {
        let notifier = (queue.notifier as? any Service).map { [$0] } ?? []
        return [PlanStoreService(store: store, logger: makeLogger("baton.store"))] + notifier
            + [presence, maintenance, orchestrator, control] + others
    }

    /// A `ServiceGroup` of ``services(then:)``.
    public func serviceGroup(then others: [any Service] = [], gracefulShutdownSignals: [UnixSignal] = [], logger: Logger) -> ServiceGroup {
        ServiceGroup(configuration: .init(services: services(then: others), gracefulShutdownSignals: gracefulShutdownSignals, logger: logger))
    }
}
