import Foundation
import Logging
import ServiceLifecycle

/// The queue's upkeep, on the node that leads (design §10): lease recovery, the promotion of due
/// scheduled plans, marking lost nodes, forgetting old control commands, and — with a retention
/// set — pruning plans that ended long ago.
///
/// It runs at start-up and on every tick of its own interval, beside the orchestrator rather
/// than inside its cycles, so it goes on while the orchestrator is paused, restarting, or cannot
/// start a generation. On a node that does not lead, ticks do nothing. What it queues reaches
/// orchestrators as a ``QueueSignal/plansAvailable`` through the ``PlanQueue``. A forced poll
/// runs it on any node (``runNow()``; every step is safe to run on two nodes at once); a retry
/// due soon asks for an early round (``runSoon(after:)``), and so does the first running plan's
/// lease end, so that a lost run is recovered as soon as its lease allows.
public actor MaintenanceService: Service {
    /// How often the upkeep runs, and what it keeps.
    public struct Configuration: Sendable {
        public var interval: Duration = .seconds(5)
        public var jitter = 0.1
        /// Plans that ended longer ago than this are deleted (`--retention`); `nil` keeps them.
        public var retention: Duration?
        /// Time between two retention prunes.
        public var pruneInterval: Duration = .seconds(600)

        public init() {}
    }

    private let configuration: Configuration
    private let store: any PlanStore
    private let rescuer: LeaseRescuer
    private let promoter: ScheduledPromoter
    private let cluster: any ClusterStore
    private let pruner: Pruner
    private let leadership: Leadership
    private let ticker: PollTicker
    private let now: @Sendable () -> Date
    private let logger: Logger
    private var round: Task<Void, any Error>?
    private var failedRounds = 0
    private var lastPrune: Date?

    /// - Parameters:
    ///   - pruner: The node's pruner, which retention uses.
    ///   - leadership: Whether this node leads; alone, it always does.
    public init(queue: PlanQueue, cluster: any ClusterStore, pruner: Pruner, leadership: Leadership = .alone(),
                configuration: Configuration = .init(),
                clock: any Clock<Duration> = ContinuousClock(), now: @escaping @Sendable () -> Date = Date.init,
                logger: Logger = Logger(label: "baton.maintenance")) {
        self.configuration = configuration
        store = queue.store
        rescuer = LeaseRescuer(queue: queue)
        promoter = ScheduledPromoter(queue: queue)
        self.cluster = cluster
        self.pruner = pruner
        self.leadership = leadership
        ticker = PollTicker(interval: configuration.interval, jitter: configuration.jitter, clock: clock, now: now)
        self.now = now
        self.logger = logger
    }

    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.ticker.run() }
            group.addTask {
                for await _ in self.ticker.ticks.cancelOnGracefulShutdown() where self.leadership.isLeading(at: self.now()) {
                    try? await self.runNow()
                }
            }
            ticker.tick()
            await group.next()
            group.cancelAll()
        }
    }

    /// Runs a round now, after any round in progress, whether or not this node leads. Throws
    /// what a failing store threw.
    public func runNow() async throws {
        let previous = round
        let next = Task {
            _ = await previous?.result
            try await self.performRound()
        }
        round = next
        try await next.value
    }

    /// Asks for a round after `delay`, if that comes before the next regular one.
    nonisolated func runSoon(after delay: Duration) {
        ticker.tick(after: delay)
    }

    private func performRound() async throws {
        let now = now()
        do {
            _ = try await rescuer.rescue(now: now)
            _ = try await promoter.promote(now: now)
            try await scheduleNextRecovery()
            try await tidyCluster(now: now)
            try await pruneIfDue(now: now)
            failedRounds = 0
            logger.trace("maintenance round")
        } catch {
            failedRounds += 1
            logger.error("maintenance failed; trying again on the next round",
                         metadata: ["error": "\(error)", "rounds.failed": "\(failedRounds)"])
            throw error
        }
    }

    /// Asks for a round just after the first running plan's lease runs out, so that a run lost
    /// with its node is recovered then, not up to an interval later.
    private func scheduleNextRecovery() async throws {
        guard let expiry = try await store.nextLeaseExpiry() else { return }
        // A lease is recovered once it has run out: one millisecond past its end.
        let wait = max(0, expiry.timeIntervalSince(now())) + 0.001
        ticker.tick(after: .milliseconds(Int64((wait * 1000).rounded(.up))))
    }

    /// Marks nodes lost that stopped heartbeating, and forgets what is no longer needed.
    private func tidyCluster(now: Date) async throws {
        let forgetBefore = now.addingTimeInterval(-ClusterRules.goneNodeRetention.timeInterval)
        for name in try await cluster.markLostNodes(now: now, forgetBefore: forgetBefore) {
            logger.warning("node lost: not seen for one lease; its running plans are recovered when their leases expire",
                           metadata: ["node": "\(name)"])
        }
        _ = try await cluster.pruneCommands(issuedBefore: now.addingTimeInterval(-ClusterRules.commandRetention.timeInterval))
    }

    private func pruneIfDue(now: Date) async throws {
        guard let retention = configuration.retention else { return }
        if let lastPrune, now.timeIntervalSince(lastPrune) < configuration.pruneInterval.timeInterval { return }
        lastPrune = now
        let deleted = try await pruner.prune(olderThan: retention, actor: "retention", now: now, includingAudit: true, recordNothingDone: false)
        if deleted > 0 { logger.info("pruned plans past the retention", metadata: ["plans": "\(deleted)", "retention": "\(retention)"]) }
    }
}
