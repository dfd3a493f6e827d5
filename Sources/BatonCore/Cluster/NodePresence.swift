import Foundation
import Logging
import ServiceLifecycle

/// Keeps this node's row in the store and its share of the leadership (design §10).
///
/// Every heartbeat interval it writes the node's state, generation and busy workers, renews
/// or takes the leader lease, and picks up control commands other nodes addressed to it (the
/// notification normally brings them at once; this is the safety net). The leader lease lasts
/// one heartbeat less than the node's lease, so when a leader dies another node takes over
/// within one lease. On graceful shutdown the node says it stopped and resigns, so another
/// takes over at once.
public actor NodePresence: Service {
    /// The node's name and beat.
    public struct Configuration: Sendable {
        /// Unique among live nodes (`--node-name`).
        public var name: String
        /// Time between heartbeats (`--heartbeat-interval`).
        public var interval: Duration
        /// A node not seen for this long is lost (the plan lease, `--lease`).
        public var lease: Duration

        public init(name: String, interval: Duration, lease: Duration) {
            self.name = name
            self.interval = interval
            self.lease = lease
        }

        /// How long an election holds: short enough that a successor is elected within one
        /// node lease of the leader's last renewal.
        public var leaderLease: Duration { max(lease - interval, interval) }
    }

    public nonisolated let configuration: Configuration
    /// Tells this process apart from an earlier or later one with the same name.
    public nonisolated let instance = String(UUID().uuidString.prefix(8)).lowercased()
    private let store: any ClusterStore
    private let orchestrator: Orchestrator
    private let leadership: Leadership
    private let maintenance: MaintenanceService
    private let onBeat: @Sendable () async -> Void
    private let clock: any Clock<Duration>
    private let now: @Sendable () -> Date
    private let logger: Logger
    private var startedAt: Date?
    private var failedBeats = 0

    /// - Parameter onBeat: Called after every heartbeat (the cluster control's look for
    ///   commands it may have missed).
    public init(configuration: Configuration, store: any ClusterStore, orchestrator: Orchestrator, leadership: Leadership,
                maintenance: MaintenanceService, onBeat: @escaping @Sendable () async -> Void = {},
                clock: any Clock<Duration> = ContinuousClock(), now: @escaping @Sendable () -> Date = Date.init,
                logger: Logger = Logger(label: "baton.node")) {
        self.configuration = configuration
        self.store = store
        self.orchestrator = orchestrator
        self.leadership = leadership
        self.maintenance = maintenance
        self.onBeat = onBeat
        self.clock = clock
        self.now = now
        self.logger = logger
    }

    public nonisolated var name: String { configuration.name }

    /// When this node registered; `nil` before.
    public var registeredAt: Date? { startedAt }

    /// Writes the node's first row and stands for election. Throws ``ClusterError/Code/nameTaken``
    /// while another live node has this name. Called by ``run()`` if not before; `baton serve`
    /// calls it first, so a clash stops the start with a clear message.
    public func register() async throws {
        guard startedAt == nil else { return }
        let startedAt = now()
        guard try await store.beat(heartbeat(startedAt: startedAt, state: .running, generation: 0, busy: 0), now: startedAt) else {
            throw ClusterError.nameTaken(name)
        }
        self.startedAt = startedAt
        logger.info("node registered", metadata: ["node": "\(name)", "node.instance": "\(instance)"])
        await standForElection()
    }

    /// Heartbeats until graceful shutdown, then says the node stopped and resigns.
    public func run() async throws {
        try await register()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.beatUntilCancelled() }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        await signOff()
    }

    private func beatUntilCancelled() async {
        while !Task.isCancelled {
            do {
                try await clock.sleep(for: configuration.interval)
            } catch {
                return
            }
            await beat()
        }
    }

    /// One heartbeat: the row, the election, then any missed commands.
    func beat() async {
        guard let startedAt else { return }
        let (state, generation, busy) = await orchestrator.presence()
        do {
            let written = try await store.beat(heartbeat(startedAt: startedAt, state: NodeState(state), generation: generation, busy: busy), now: now())
            if !written {
                logger.error("another process now uses this node's name (this node was not seen for a lease); give each node its own --node-name",
                             metadata: ["node": "\(name)"])
            }
            if failedBeats > 0 { logger.info("node heartbeats reach the database again", metadata: ["beats.failed": "\(failedBeats)"]) }
            failedBeats = 0
        } catch {
            failedBeats += 1
            if failedBeats == 1 {
                logger.warning("node heartbeat failed; other nodes see this one as lost if this lasts a lease",
                               metadata: ["error": "\(error)", "lease": "\(configuration.lease)"])
            }
        }
        await standForElection()
        await onBeat()
    }

    /// Takes or renews the leader lease; a new leader runs maintenance at once.
    private func standForElection() async {
        let askedAt = now()
        let wasLeading = leadership.isLeading(at: askedAt)
        let leads: Bool
        do {
            leads = try await store.lead(node: name, lease: configuration.leaderLease, now: askedAt)
        } catch {
            // Not renewed: the lease it had runs out by itself (Leadership keeps its end).
            if wasLeading, !leadership.isLeading(at: now()) {
                logger.warning("this node no longer leads maintenance: its leader lease ran out while the database was unreachable")
            }
            return
        }
        leadership.leads(until: leads ? askedAt.addingTimeInterval(configuration.leaderLease.timeInterval) : nil)
        if leads, !wasLeading {
            logger.info("this node now leads maintenance (lease recovery, scheduling, pruning, lost nodes)", metadata: ["node": "\(name)"])
            maintenance.runSoon(after: .zero)
        } else if !leads, wasLeading {
            logger.warning("this node no longer leads maintenance; another node took over", metadata: ["node": "\(name)"])
        }
    }

    /// The last heartbeat: stopped, and the lead handed on.
    private func signOff() async {
        guard let startedAt else { return }
        let (_, generation, _) = await orchestrator.presence()
        do {
            _ = try await store.beat(heartbeat(startedAt: startedAt, state: .stopped, generation: generation, busy: 0), now: now())
            if leadership.isLeading(at: now()) { try await store.resign(node: name) }
            leadership.leads(until: nil)
        } catch {
            logger.warning("cannot record that this node stopped; other nodes see it as lost after one lease", metadata: ["error": "\(error)"])
        }
    }

    private func heartbeat(startedAt: Date, state: NodeState, generation: Int, busy: Int) -> NodeHeartbeat {
        NodeHeartbeat(name: name, instance: instance, state: state, generation: generation, workersTotal: orchestrator.configuration.workers,
                      workersBusy: busy, startedAt: startedAt, lease: configuration.lease)
    }
}
