import Foundation

/// Runs at most `slots` plans at once, each through a ``PlanRunner``.
///
/// ``run()`` is the pool's lifetime: every run happens in its one task group, so cancelling it
/// (graceful shutdown) stops every run. ``start(_:attempt:events:onFinish:)`` reserves a slot
/// inside the actor before the run is handed to that group, so the group never holds more runs
/// than slots; a start with no free slot is refused, never queued.
public actor WorkerPool {
    /// A run handed to the pool.
    private struct Job: Sendable {
        let plan: Plan
        let attempt: Int
        let control: RunControl
        let events: @Sendable (RunEvent) -> Void
        let onFinish: @Sendable (RunReport) async -> Void
    }

    public nonisolated let slots: Int
    private let runner: any PlanRunner
    private var running: [Int64: RunControl] = [:]
    private let jobs: AsyncStream<Job>
    private let submit: AsyncStream<Job>.Continuation
    private let freedSlots: AsyncStream<Void>.Continuation?

    /// - Parameters:
    ///   - slots: How many plans may run at once (at least 1).
    ///   - slotFreed: Called each time a run has ended and its slot is free again, so that the
    ///     orchestrator can claim the next plan at once.
    public init(slots: Int, runner: any PlanRunner, slotFreed: AsyncStream<Void>.Continuation? = nil) {
        self.slots = max(1, slots)
        self.runner = runner
        (jobs, submit) = AsyncStream.makeStream(of: Job.self)
        freedSlots = slotFreed
    }

    /// Slots in use.
    public var busy: Int { running.count }

    /// Slots free for new runs.
    public var free: Int { slots - running.count }

    /// The plans running now, in id order.
    public var runningPlanIDs: [Int64] { running.keys.sorted() }

    /// Starts `plan` if a slot is free. `onFinish` gets the report when the run is over; the slot
    /// is given back after `onFinish` returns, so the outcome is recorded before another plan can
    /// take the slot.
    /// - Returns: `false`, and nothing happens, when every slot is busy or the plan already runs here.
    @discardableResult
    public func start(_ plan: Plan, attempt: Int, events: @escaping @Sendable (RunEvent) -> Void = { _ in },
                      onFinish: @escaping @Sendable (RunReport) async -> Void) -> Bool {
        guard running.count < slots, running[plan.id] == nil else { return false }
        let control = RunControl()
        guard case .enqueued = submit.yield(Job(plan: plan, attempt: attempt, control: control, events: events, onFinish: onFinish)) else {
            return false  // the pool has shut down
        }
        running[plan.id] = control
        return true
    }

    /// Stops the run of `planID` (SIGTERM, grace period, SIGKILL; or SIGKILL at once when
    /// `immediately`); it ends `canceled`.
    /// - Returns: `false` when that plan is not running here.
    @discardableResult
    public func cancel(planID: Int64, reason: String, immediately: Bool = false) -> Bool {
        guard let control = running[planID] else { return false }
        control.cancel(reason: reason, immediately: immediately)
        return true
    }

    /// Runs the pool until the calling task is cancelled, then stops every run and returns once
    /// all of them have reported.
    public func run() async {
        await withDiscardingTaskGroup { group in
            for await job in jobs {
                group.addTask { await self.execute(job) }
            }
        }
    }

    private nonisolated func execute(_ job: Job) async {
        let report = await runner.run(job.plan, attempt: job.attempt, control: job.control, events: job.events)
        // During shutdown this task is cancelled; the outcome must be recorded all the same.
        await Task { await job.onFinish(report) }.value
        await release(job.plan.id)
    }

    private func release(_ planID: Int64) {
        running[planID] = nil
        freedSlots?.yield()
    }
}
