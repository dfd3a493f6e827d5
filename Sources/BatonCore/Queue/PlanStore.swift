import Foundation

/// The durable plan queue: the only code that knows how plans are stored.
///
/// A store decides nothing itself: every change is decided by ``QueueRules`` (validation, the
/// stored plan, the status machine, retries, hand-backs, "cancel wins", the orphan cap) and the
/// store writes that decision in one transaction, with the change's ``PlanEvent``. Every write
/// about a running plan is guarded by its ``AttemptRef``. Every store passes one conformance
/// suite (`Tests/BatonStoreConformanceTests`).
///
/// Side effects of a change — live notices, metrics, wake-ups — are not a store's business:
/// ``PlanQueue`` publishes them after the commit. Code that changes plans goes through it.
public protocol PlanStore: Sendable {
    /// The policies specs and runs are held to.
    var policy: QueuePolicy { get }

    /// Validates and stores one plan. A repeated idempotency key returns the plan stored first,
    /// with `created == false`, whatever the new spec says.
    func enqueue(_ spec: PlanSpec, now: Date) async throws -> EnqueueResult

    /// Validates and stores several plans atomically: all of them, or none and an error naming
    /// every failing index (`plans[3].priority`).
    func enqueueBatch(_ specs: [PlanSpec], now: Date) async throws -> [EnqueueResult]

    /// Takes up to `limit` queued plans, most urgent (lowest priority number) first and oldest
    /// first within a priority, and marks them running for `owner` until `now + leaseDuration`.
    func claim(limit: Int, owner: String, leaseDuration: Duration, now: Date) async throws -> [Plan]

    /// Records the process group of a run once its child has started.
    func recordProcessGroup(_ processGroup: Int32, for attempt: AttemptRef, now: Date) async throws

    /// Records how a run's setup phase went (a `setup` event) while the run holds its plan.
    func recordSetup(_ detail: String, for attempt: AttemptRef, now: Date) async throws

    /// Extends the lease of each run in `attempts` (one statement) and returns the runs that
    /// still hold their plan: a run missing from the answer was recovered, finished or canceled
    /// elsewhere, and its orchestrator must stop it.
    func renewLeases(_ attempts: [AttemptRef], leaseDuration: Duration, now: Date) async throws -> Set<AttemptRef>

    /// Ends a run with a terminal `outcome`. Fails with ``PlanStoreError/Code/attemptNotHeld`` when the
    /// run no longer holds the plan (recovered, or already finished).
    func finish(_ attempt: AttemptRef, outcome: PlanOutcome, now: Date) async throws -> Plan

    /// Puts a running plan back: a retry after a failed run, or a hand-back of an unfinished run.
    /// A plan whose cancel was requested ends `canceled` instead.
    func requeue(_ attempt: AttemptRef, _ requeue: Requeue, now: Date) async throws -> Plan

    /// Cancels a plan: a scheduled or queued plan at once; a running one is flagged for its
    /// orchestrator to stop. A terminal plan cannot be canceled.
    func cancel(_ planID: Int64, actor: String, now: Date) async throws -> CancelResult

    /// Returns the running plans whose lease ran out to the queue, at their original priority and
    /// position — or fails them as `orphaned` once they have been recovered too often.
    ///
    /// For each lost run whose process group was recorded, `stopLostRun` is called *before* the
    /// plan is requeued, so that the plan can never have two live runs. It must not block (it
    /// runs inside the write transaction); sending `SIGKILL` to the group is what it is for.
    func recoverExpiredLeases(
        now: Date,
        stopLostRun: @escaping @Sendable (_ lost: AttemptRef, _ processGroup: Int32) -> Void
    ) async throws -> [Recovery]

    /// Moves scheduled plans whose time has come to the queue; returns them, in id order.
    func promoteDueScheduled(now: Date) async throws -> [Plan]

    /// When the first lease of a running plan runs out; `nil` when nothing runs. The leader's
    /// next lease recovery is due then.
    func nextLeaseExpiry() async throws -> Date?

    func plan(_ id: Int64) async throws -> Plan?

    /// A page of plans, newest first.
    func plans(matching query: PlanQuery) async throws -> PlanPage

    /// How many plans are in each status (statuses with none are absent).
    func countsByStatus() async throws -> [PlanStatus: Int]

    /// When the oldest plan still waiting in the queue was enqueued.
    func oldestQueuedEnqueuedAt() async throws -> Date?

    /// Durations of recent runs and token and cost totals, for the metrics summary.
    func runSummary() async throws -> RunSummary

    /// Appends output of a run that still holds its plan, keeping at most the store's cap per
    /// stream and counting the rest.
    func appendOutput(_ bytes: [UInt8], stream: StandardStream, for attempt: AttemptRef) async throws

    /// Replaces the stored output of one stream of a run with its final capture (head and tail,
    /// with its own truncation notice), once the run has ended and while it still holds its plan.
    func saveOutput(_ bytes: [UInt8], stream: StandardStream, for attempt: AttemptRef) async throws

    /// The stored output of one stream of a run (`nil`: the current or last run).
    func output(of planID: Int64, stream: StandardStream, attempt: Int?) async throws -> PlanOutput

    /// Stores the steps a run that still holds its plan reported, replacing any stored before.
    func saveSteps(_ steps: [PlanStep], for attempt: AttemptRef) async throws

    /// The steps of the current or last run.
    func steps(of planID: Int64) async throws -> [PlanStep]

    /// The plan's history, oldest first.
    func events(of planID: Int64) async throws -> [PlanEvent]

    /// Deletes terminal plans that finished before `cutoff`, with their output, steps and events.
    /// Returns how many plans were deleted.
    func prune(finishedBefore cutoff: Date) async throws -> Int

    /// Closes the store; calls after this fail.
    func close() async
}

/// What ``PlanStore/enqueue(_:now:)`` did.
public struct EnqueueResult: Sendable, Hashable {
    public let plan: Plan
    /// `false` when an earlier plan with the same idempotency key was returned instead.
    public let created: Bool

    public init(plan: Plan, created: Bool) {
        self.plan = plan
        self.created = created
    }
}

/// How a running plan goes back to the queue.
public enum Requeue: Sendable, Hashable {
    /// The run failed or timed out and the plan has attempts left (``Plan/hasAttemptsLeft``):
    /// record the run's outcome and run it again at `runAt` (`scheduled` until then).
    case retry(failedRun: PlanOutcome, runAt: Date)
    /// The run was stopped unfinished by its orchestrator (shutdown, restart). Not counted
    /// against `max_attempts`.
    case handBack(reason: String)
}

/// What ``PlanStore/cancel(_:actor:now:)`` did.
public enum CancelResult: Sendable, Hashable {
    /// The plan had not started and is now `canceled`.
    case canceled(Plan)
    /// The plan is running; its orchestrator was asked to stop it.
    case cancelRequested(Plan)

    public var plan: Plan {
        switch self {
        case .canceled(let plan), .cancelRequested(let plan): plan
        }
    }
}

/// One plan taken back from an orchestrator that stopped renewing its lease.
public struct Recovery: Sendable, Hashable {
    /// The plan as recovery left it: `queued`, or `failed` (orphaned too often), or `canceled`
    /// (a cancel was pending).
    public let plan: Plan
    /// The run that was lost.
    public let lostAttempt: AttemptRef
    /// The lost run's process group, if it had started: it may still be alive on this host.
    public let processGroup: Int32?

    public init(plan: Plan, lostAttempt: AttemptRef, processGroup: Int32?) {
        self.plan = plan
        self.lostAttempt = lostAttempt
        self.processGroup = processGroup
    }

    public var planID: Int64 { plan.id }
    public var newStatus: PlanStatus { plan.status }
}

/// Figures about finished runs, for the metrics summary.
public struct RunSummary: Sendable, Hashable {
    /// Wall times of the most recent finished runs, newest first (at most 1,000).
    public let recentDurationsMs: [Int64]
    /// Tokens and cost over every attempt of every plan.
    public let inputTokens: Int64
    public let outputTokens: Int64
    public let costUSD: Double

    public init(recentDurationsMs: [Int64], inputTokens: Int64, outputTokens: Int64, costUSD: Double) {
        self.recentDurationsMs = recentDurationsMs
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.costUSD = costUSD
    }
}
