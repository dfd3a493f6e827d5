import Foundation
import Logging
import ServiceLifecycle

/// The queue's upkeep: lease recovery and the promotion of due scheduled plans, at start-up and
/// on every tick of its own poll interval.
///
/// It runs beside the orchestrator, not inside its cycles, so it goes on while the orchestrator
/// is paused, restarting, or cannot start a generation. What it queues reaches orchestrators as
/// a ``QueueSignal/plansAvailable`` through the ``PlanQueue``. A forced poll runs it first
/// (``runNow()``); a retry due soon asks for an early round (``runSoon(after:)``).
public actor MaintenanceService: Service {
    /// How often the upkeep runs.
    public struct Configuration: Sendable {
        public var interval: Duration = .seconds(5)
        public var jitter = 0.1

        public init() {}
    }

    private let rescuer: LeaseRescuer
    private let promoter: ScheduledPromoter
    private let ticker: PollTicker
    private let now: @Sendable () -> Date
    private let logger: Logger
    private var round: Task<Void, any Error>?
    private var failedRounds = 0

    public init(queue: PlanQueue, configuration: Configuration = .init(), clock: any Clock<Duration> = ContinuousClock(),
                now: @escaping @Sendable () -> Date = Date.init, logger: Logger = Logger(label: "baton.maintenance")) {
        rescuer = LeaseRescuer(queue: queue)
        promoter = ScheduledPromoter(queue: queue)
        ticker = PollTicker(interval: configuration.interval, jitter: configuration.jitter, clock: clock, now: now)
        self.now = now
        self.logger = logger
    }

    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.ticker.run() }
            group.addTask {
                for await _ in self.ticker.ticks.cancelOnGracefulShutdown() {
                    try? await self.runNow()
                }
            }
            ticker.tick()
            await group.next()
            group.cancelAll()
        }
    }

    /// Recovers expired leases and promotes due plans now, after any round in progress. Throws
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
            failedRounds = 0
            logger.trace("maintenance round")
        } catch {
            failedRounds += 1
            logger.error("lease recovery or scheduling failed; trying again on the next round",
                         metadata: ["error": "\(error)", "rounds.failed": "\(failedRounds)"])
            throw error
        }
    }
}
