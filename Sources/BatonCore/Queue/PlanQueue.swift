import Foundation
import Logging

/// The queue as the rest of Baton changes it: a ``PlanStore`` write, then — after its commit,
/// from here and nowhere else — what the change means to others.
///
/// Whatever causes a change (an API request, a run ending, a restart handing runs back, lease
/// recovery, the scheduler), the same notices follow it:
/// - the live feed: a `status` notice for every status change, the run's `result` when a run is
///   recorded, and `end` when the plan is terminal (so every live stream ends);
/// - metrics: enqueues, finished plans by status, dispatch latency;
/// - orchestrators: ``QueueSignal/plansAvailable`` when plans became claimable, and
///   ``QueueSignal/cancelRequested(planID:actor:)`` for the node running a plan to stop it.
///
/// Reads go to ``store`` directly.
public struct PlanQueue: Sendable {
    public let store: any PlanStore
    public let bus: EventBus
    public let notifier: any QueueNotifier
    let metrics: BatonMetrics
    private let logger: Logger

    public init(store: any PlanStore, bus: EventBus = EventBus(), notifier: any QueueNotifier = LocalQueueNotifier(),
                metrics: BatonMetrics = .none, logger: Logger = Logger(label: "baton.queue")) {
        self.store = store
        self.bus = bus
        self.notifier = notifier
        self.metrics = metrics
        self.logger = logger
    }

    public var policy: QueuePolicy { store.policy }

    // MARK: Enqueue

    public func enqueue(_ spec: PlanSpec, now: Date = Date()) async throws -> EnqueueResult {
        let result = try await store.enqueue(spec, now: now)
        published(enqueued: [result])
        return result
    }

    public func enqueueBatch(_ specs: [PlanSpec], now: Date = Date()) async throws -> [EnqueueResult] {
        let results = try await store.enqueueBatch(specs, now: now)
        published(enqueued: results)
        return results
    }

    // MARK: Runs

    /// Claims up to `limit` plans for `owner` (see ``PlanStore/claim(limit:owner:leaseDuration:now:)``).
    public func claim(limit: Int, owner: String, leaseDuration: Duration, now: Date) async throws -> [Plan] {
        let claimed = try await store.claim(limit: limit, owner: owner, leaseDuration: leaseDuration, now: now)
        for plan in claimed {
            if plan.attempt == 1, let startedAt = plan.startedAt {
                metrics.dispatched(after: startedAt.timeIntervalSince(max(plan.enqueuedAt, plan.runAfter ?? plan.enqueuedAt)))
            }
            statusChanged(plan)
        }
        return claimed
    }

    /// Ends a run with its outcome.
    public func finish(_ attempt: AttemptRef, outcome: PlanOutcome, now: Date) async throws -> Plan {
        let plan = try await store.finish(attempt, outcome: outcome, now: now)
        bus.publish(.result(planID: plan.id, result: outcome.result, error: outcome.error))
        statusChanged(plan, runDuration: outcome.durationMs)
        return plan
    }

    /// Retries a failed run, or hands an unfinished one back; a pending cancel ends it instead.
    public func requeue(_ attempt: AttemptRef, _ requeue: Requeue, now: Date) async throws -> Plan {
        let plan = try await store.requeue(attempt, requeue, now: now)
        var runDuration: Int64?
        if case .retry(let failedRun, _) = requeue, plan.status != .canceled {
            bus.publish(.result(planID: plan.id, result: failedRun.result, error: failedRun.error))
            runDuration = failedRun.durationMs
        }
        statusChanged(plan, runDuration: runDuration)
        if plan.status == .queued { notifier.send(.plansAvailable) }
        return plan
    }

    /// Cancels a plan: a waiting one at once; a running one is stopped by the node running it.
    public func cancel(_ planID: Int64, actor: String, now: Date = Date()) async throws -> CancelResult {
        let result = try await store.cancel(planID, actor: actor, now: now)
        switch result {
        case .canceled(let plan): statusChanged(plan)
        case .cancelRequested: notifier.send(.cancelRequested(planID: planID, actor: actor))
        }
        return result
    }

    // MARK: Maintenance

    /// Takes back runs whose lease ran out (see ``PlanStore/recoverExpiredLeases(now:stopLostRun:)``).
    public func recoverExpiredLeases(
        now: Date,
        stopLostRun: @escaping @Sendable (_ lost: AttemptRef, _ processGroup: Int32) -> Void
    ) async throws -> [Recovery] {
        let recoveries = try await store.recoverExpiredLeases(now: now, stopLostRun: stopLostRun)
        for recovery in recoveries {
            logger.warning("recovered plan from an expired lease", metadata: [
                "plan.id": "\(recovery.planID)", "plan.attempt": "\(recovery.lostAttempt.attempt)",
                "plan.owner": "\(recovery.lostAttempt.owner)", "plan.status": "\(recovery.newStatus.rawValue)",
            ])
            statusChanged(recovery.plan)
        }
        if recoveries.contains(where: { $0.newStatus == .queued }) { notifier.send(.plansAvailable) }
        return recoveries
    }

    /// Queues the scheduled plans that are due.
    public func promoteDueScheduled(now: Date) async throws -> [Plan] {
        let promoted = try await store.promoteDueScheduled(now: now)
        for plan in promoted { statusChanged(plan) }
        if !promoted.isEmpty { notifier.send(.plansAvailable) }
        return promoted
    }

    // MARK: Publishing

    private func published(enqueued results: [EnqueueResult]) {
        var available = false
        var created = 0
        for result in results where result.created {
            created += 1
            available = available || result.plan.status == .queued
            statusChanged(result.plan)
        }
        metrics.plansEnqueued(created)
        if available { notifier.send(.plansAvailable) }
    }

    /// The notices of a plan that just moved to its current status; `runDuration` is the run's
    /// wall time when a run ended with the change.
    private func statusChanged(_ plan: Plan, runDuration: Int64? = nil) {
        bus.publish(.status(planID: plan.id, status: plan.status, attempt: plan.attempt))
        if plan.status.isTerminal {
            bus.publish(.end(planID: plan.id, status: plan.status))
            metrics.planEnded(status: plan.status, runDuration: runDuration.map { .milliseconds($0) })
        }
    }
}
