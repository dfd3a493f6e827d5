import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Claims plans from the store and runs them on a worker pool (design §2–§4).
///
/// A poll cycle recovers expired leases, promotes due scheduled plans and claims up to the
/// number of free slots. Cycles run every `pollInterval` (jittered a little), and at once when a
/// plan is enqueued in this process (``wake()``), when a slot frees up, or when ``poll()`` asks.
/// Running plans keep their leases through heartbeats. Each run's output goes to the
/// ``EventBus`` live and to the store in batches; its outcome is recorded with the guarded
/// `finish`, or the plan is retried with exponential backoff while it has attempts left.
///
/// The pool, the loops and the interpreter form a *generation*; ``restart(_:)`` drains or
/// stops the running plans, hands them back to the queue, and starts generation + 1.
/// Graceful shutdown (SIGTERM through the `ServiceGroup`) drains the same way and returns.
public actor Orchestrator: Service {
    /// How the orchestrator polls, leases and retries.
    public struct Configuration: Sendable {
        /// Plans running at once.
        public var workers = ProcessInfo.processInfo.activeProcessorCount
        /// Time between regular poll cycles (`--poll-interval`).
        public var pollInterval: Duration = .seconds(5)
        /// Each interval is stretched or shrunk by up to this fraction, so that several nodes
        /// do not poll in step.
        public var pollJitter = 0.1
        /// How long a claim holds a plan without a heartbeat (`--lease`). Heartbeats come every
        /// sixth of it.
        public var leaseDuration: Duration = .seconds(60)
        /// Delay before the first retry; it doubles for each further one, up to `maxRetryDelay`.
        public var retryBaseDelay: Duration = .seconds(1)
        public var maxRetryDelay: Duration = .seconds(300)
        /// How long graceful shutdown lets running plans finish before stopping and requeuing them.
        public var shutdownDrainTimeout: Duration = .seconds(30)
        /// How often a run's live output is written to the store.
        public var outputFlushInterval: Duration = .milliseconds(250)
        /// Live output kept per stream while a plan runs (the store's cap).
        public var liveOutputLimit = 1 << 20

        public init() {}

        var heartbeatInterval: Duration { leaseDuration / 6 }
    }

    /// Why a generation ends.
    private enum GenerationEnd {
        case restart(RestartMode)
        case shutdown

        var isShutdown: Bool {
            if case .shutdown = self { return true }
            return false
        }

        var isImmediate: Bool {
            if case .restart(.immediate) = self { return true }
            return false
        }

        /// How long running plans may go on before they are stopped; `nil`: stopped at once.
        func drainTimeout(shutdown: Duration) -> Duration? {
            switch self {
            case .restart(.graceful(let timeout)): timeout
            case .restart(.immediate): nil
            case .shutdown: shutdown
            }
        }

        var handBackReason: String {
            switch self {
            case .restart: "the orchestrator restarted"
            case .shutdown: "the orchestrator shut down"
            }
        }
    }

    /// A plan running in this generation.
    private struct Run {
        let attempt: AttemptRef
        let output: RunOutputWriter
        /// Set when the orchestrator stops the run on purpose: it goes back to the queue.
        var handBackReason: String?
    }

    /// Plans that ended while a restart drained or stopped them.
    private struct DrainLog {
        var drained: [Int64] = []
        var requeued: [Int64] = []
    }

    public nonisolated let configuration: Configuration
    private let store: any PlanStore
    private let prepareRunner: @Sendable () async throws -> PreparedRunner
    private let bus: EventBus
    private let pollClock: any Clock<Duration>
    private let now: @Sendable () -> Date
    private let logger: Logger
    private let metrics: BatonMetrics
    private nonisolated let hostPrefix: String
    private let instance = String(UUID().uuidString.prefix(8)).lowercased()

    private var state: OrchestratorState = .stopped
    private var serviceRunning = false
    private var shuttingDown = false
    private var pauseRequested = false
    private var generation = 0
    private var startedAt: Date?
    private var lastPollAt: Date?
    private var nextPollAt: Date?
    private var lastError: String?
    private var failedCycles = 0
    private var pool: WorkerPool?
    private var interpreter: PythonInterpreter?
    private var runs: [Int64: Run] = [:]
    private var lastCycle: Task<[Int64], any Error>?
    private var drainLog: DrainLog?
    private var pendingEnd: GenerationEnd?
    private var endWaiter: CheckedContinuation<GenerationEnd, Never>?
    private var restartInProgress: Task<RestartReport, any Error>?
    private var generationWaiters: [CheckedContinuation<Void, Never>] = []
    private let wakeUp = Mutex<AsyncStream<Void>.Continuation?>(nil)

    /// - Parameters:
    ///   - prepareRunner: Makes the runner of each generation (resolving the interpreter anew).
    ///   - pollClock: Times the regular poll cycles; tests pass a clock they drive.
    ///   - now: Wall-clock time for the store (claims, leases, events).
    public init(
        configuration: Configuration,
        store: any PlanStore,
        eventBus: EventBus,
        pollClock: any Clock<Duration> = ContinuousClock(),
        now: @escaping @Sendable () -> Date = Date.init,
        logger: Logger = Logger(label: "baton.orchestrator"),
        metrics: BatonMetrics = .none,
        prepareRunner: @escaping @Sendable () async throws -> PreparedRunner
    ) {
        var configuration = configuration
        configuration.workers = max(1, configuration.workers)
        self.configuration = configuration
        self.store = store
        self.bus = eventBus
        self.pollClock = pollClock
        self.now = now
        self.logger = logger
        self.metrics = metrics
        self.prepareRunner = prepareRunner
        hostPrefix = (ProcessInfo.processInfo.hostName.isEmpty ? "localhost" : ProcessInfo.processInfo.hostName) + "/"
    }

    /// The name this generation claims plans under: host, process, instance and generation, so
    /// recovery can tell a run of this host (whose process group it may kill) from another's.
    private var owner: String {
        "\(hostPrefix)\(getpid())/\(instance)/g\(generation)"
    }

    // MARK: Service

    /// Runs generations until graceful shutdown (or cancellation), then drains and returns.
    public func run() async {
        serviceRunning = true
        startedAt = now()
        logger.info("orchestrator starting", metadata: ["workers": "\(configuration.workers)", "poll.interval": "\(configuration.pollInterval)"])
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await runGenerations()
            } onCancel: {
                Task { await self.requestEnd(.shutdown) }
            }
        } onGracefulShutdown: {
            Task { await self.requestEnd(.shutdown) }
        }
        state = .stopped
        serviceRunning = false
        notifyGenerationStarted()  // a restart still waiting learns that none will come
        logger.info("orchestrator stopped", metadata: ["generation": "\(generation)"])
    }

    private func runGenerations() async {
        while !shuttingDown {
            if case .shutdown = await runGeneration() { return }
        }
    }

    /// One generation: a fresh runner and pool, the poll, timer and heartbeat loops, until a
    /// restart or shutdown is asked for; then the drain.
    private func runGeneration() async -> GenerationEnd {
        generation += 1
        state = .restarting
        let prepared: PreparedRunner
        do {
            prepared = try await prepareRunner()
        } catch {
            state = .stopped
            interpreter = nil
            lastError = "cannot start generation \(generation): \(error)"
            logger.error("cannot start a generation; nothing runs until a restart succeeds (fix the cause, then baton restart)",
                         metadata: ["generation": "\(generation)", "error": "\(error)"])
            notifyGenerationStarted()
            // Nothing runs; recovery and scheduling are on hold until a restart or shutdown.
            return await waitForEnd()
        }
        interpreter = prepared.interpreter
        let (slotFreed, slotFreedContinuation) = AsyncStream.makeStream(of: Void.self)
        let pool = WorkerPool(slots: configuration.workers, runner: prepared.runner, slotFreed: slotFreedContinuation)
        self.pool = pool
        let (wakes, wakeContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        wakeUp.withLock { $0 = wakeContinuation }
        state = pauseRequested ? .paused : .running
        lastError = nil
        logger.info("generation started", metadata: [
            "generation": "\(generation)", "owner": "\(owner)",
            "python.path": "\(prepared.interpreter?.path ?? "-")", "python.version": "\(prepared.interpreter?.version ?? "-")",
        ])

        let end = await withTaskGroup(of: Void.self) { group in
            group.addTask { await pool.run() }
            group.addTask { await self.pollLoop(wakes) }
            group.addTask { await self.timerLoop() }
            group.addTask { await self.heartbeatLoop() }
            group.addTask {
                for await _ in slotFreed { self.wake() }
            }
            wake()
            notifyGenerationStarted()
            let end = await waitForEnd()
            await drain(for: end)
            // Cancelling the pool stops every run still going; each reports `shutdown` and is
            // handed back before the group returns.
            group.cancelAll()
            return end
        }
        slotFreedContinuation.finish()
        wakeUp.withLock { $0 = nil }
        self.pool = nil
        return end
    }

    /// Stops claiming and, for a graceful end, lets running plans finish within the timeout.
    private func drain(for end: GenerationEnd) async {
        state = end.isImmediate ? .restarting : .draining
        _ = await lastCycle?.result
        if let timeout = end.drainTimeout(shutdown: configuration.shutdownDrainTimeout), !runs.isEmpty {
            logger.info("draining running plans", metadata: ["plans": "\(runs.count)", "drain.timeout": "\(timeout)"])
            let deadline = ContinuousClock.now + timeout
            while !runs.isEmpty, ContinuousClock.now < deadline {
                await sleepEvenIfCancelled(for: .milliseconds(20))
            }
        }
        for id in runs.keys {
            runs[id]?.handBackReason = end.handBackReason
        }
        state = .restarting
    }

    // MARK: Loops

    /// Runs a cycle for every wake-up: a timer tick, an enqueue, a freed slot.
    private func pollLoop(_ wakes: AsyncStream<Void>) async {
        var consecutiveFailures = 0
        for await _ in wakes {
            do {
                _ = try await runCycle()
                consecutiveFailures = 0
            } catch {
                consecutiveFailures += 1
                // Back off a little, so a broken database is not hammered; the next wake-up
                // (at the latest the next tick) tries again.
                let pause = min(.milliseconds(100) * (1 << min(consecutiveFailures, 6)), configuration.pollInterval)
                try? await Task.sleep(for: pause)
            }
        }
    }

    private func timerLoop() async {
        while !Task.isCancelled {
            let jitter = 1 + Double.random(in: -configuration.pollJitter...configuration.pollJitter)
            let interval = configuration.pollInterval * jitter
            nextPollAt = now().addingTimeInterval(interval.timeInterval)
            do {
                try await pollClock.sleep(for: interval)
            } catch {
                return
            }
            wake()
        }
    }

    /// Renews the leases of the plans running here, and stops runs that lost theirs or whose
    /// cancel was requested from elsewhere (another process, another node).
    private func heartbeatLoop() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: configuration.heartbeatInterval)
            } catch {
                return
            }
            await heartbeat()
        }
    }

    private func heartbeat() async {
        let attempts = runs.values.map(\.attempt)
        guard !attempts.isEmpty else { return }
        let held: Set<AttemptRef>
        do {
            held = try await store.renewLeases(attempts, leaseDuration: configuration.leaseDuration, now: now())
        } catch {
            logger.error("heartbeat failed; running plans keep going, but are recovered elsewhere if this lasts past their lease",
                         metadata: ["plans": "\(attempts.count)", "lease": "\(configuration.leaseDuration)", "error": "\(error)"])
            return
        }
        // Runs may have ended while the store answered: act only on those still running.
        for lost in attempts where !held.contains(lost) && runs[lost.planID]?.attempt == lost {
            logger.warning("a running plan lost its lease (it was recovered elsewhere); stopping this run",
                           metadata: ["plan.id": "\(lost.planID)", "plan.attempt": "\(lost.attempt)"])
            await pool?.cancel(planID: lost.planID, reason: "stopped: this run no longer holds the plan")
        }
        for attempt in attempts where held.contains(attempt) {
            guard let plan = try? await store.plan(attempt.planID), plan.cancelRequested, runs[attempt.planID]?.attempt == attempt else { continue }
            await pool?.cancel(planID: attempt.planID, reason: "canceled")
        }
    }

    /// Wakes the poll loop: a cycle runs as soon as the one in progress (if any) ends. Call it
    /// after enqueueing in this process.
    public nonisolated func wake() {
        _ = wakeUp.withLock { $0?.yield() }
    }

    // MARK: Cycle

    /// Runs one cycle after the previous one has ended, so cycles never overlap.
    private func runCycle() async throws -> [Int64] {
        let previous = lastCycle
        let cycle = Task {
            _ = await previous?.result
            return try await self.cycle()
        }
        lastCycle = cycle
        return try await cycle.value
    }

    private func cycle() async throws -> [Int64] {
        let now = now()
        do {
            let hostPrefix = hostPrefix
            _ = try await store.recoverExpiredLeases(now: now) { lost, processGroup in
                // Only a run of this host can be signalled (another host's group ids mean
                // nothing here), and only if that group still runs this very attempt: its
                // number may have been reused since.
                if lost.owner.hasPrefix(hostPrefix), ProcessGroup.runs(processGroup, planID: lost.planID, attempt: lost.attempt) {
                    kill(-processGroup, SIGKILL)
                }
            }
            _ = try await store.promoteDueScheduled(now: now)
            var started: [Int64] = []
            if state == .running, let pool {
                let free = await pool.free
                if free > 0 {
                    for plan in try await store.claim(limit: free, owner: owner, leaseDuration: configuration.leaseDuration, now: now) {
                        // Paused, or draining, since this cycle began: the plan goes back.
                        if state == .running, await start(plan, on: pool) {
                            started.append(plan.id)
                        }
                    }
                }
            }
            lastPollAt = now
            lastError = nil
            metrics.pollCycle(failed: false)
            logger.trace("poll cycle", metadata: ["claimed": "\(started.count)"])
            return started
        } catch {
            failedCycles += 1
            metrics.pollCycle(failed: true)
            lastError = "poll cycle failed: \(error)"
            logger.error("poll cycle failed", metadata: ["error": "\(error)", "cycles.failed": "\(failedCycles)"])
            throw error
        }
    }

    /// Starts a claimed plan on the pool, or hands it straight back; `true` if it started.
    private func start(_ plan: Plan, on pool: WorkerPool) async -> Bool {
        guard let attempt = plan.currentAttempt else {
            logger.error("a claimed plan has no owner; leaving it to lease recovery", metadata: ["plan.id": "\(plan.id)"])
            return false
        }
        guard state == .running, runs[plan.id] == nil else {
            // Not claiming any more, or an earlier run of this plan (recovered while this node
            // stalled) is still stopping here: never two runs of one plan at once.
            let reason = state == .running ? "its previous run here is still stopping" : "the orchestrator stopped claiming"
            await handBack(attempt, reason: reason)
            return false
        }
        let output = RunOutputWriter(store: store, attempt: attempt, interval: configuration.outputFlushInterval,
                                     liveLimit: configuration.liveOutputLimit, now: now, logger: logger)
        runs[plan.id] = Run(attempt: attempt, output: output)
        metrics.workers(busy: runs.count, total: configuration.workers)
        if plan.attempt == 1, let startedAt = plan.startedAt {
            metrics.dispatched(after: startedAt.timeIntervalSince(max(plan.enqueuedAt, plan.runAfter ?? plan.enqueuedAt)))
        }
        bus.publish(.status(planID: plan.id, status: .running, attempt: plan.attempt))
        logger.debug("starting plan", metadata: ["plan.id": "\(plan.id)", "plan.attempt": "\(plan.attempt)", "plan.priority": "\(plan.priority)"])
        let bus = bus
        let started = await pool.start(plan, attempt: plan.attempt, events: { event in
            switch event {
            case .started(let processGroup):
                output.recordStart(processGroup: processGroup)
            case .output(let stream, let bytes):
                let offset = output.append(bytes, stream: stream)
                bus.publish(.output(planID: plan.id, attempt: plan.attempt, stream: stream, offset: offset, bytes: bytes))
            }
        }, onFinish: { report in
            await self.record(report, of: plan)
        })
        if !started {
            // Cannot happen while claims ask for at most the free slots; if it does, the plan
            // goes straight back rather than waiting for its lease to run out.
            runs[plan.id] = nil
            await output.finish()
            await handBack(attempt, reason: "no free worker slot")
        }
        return started
    }

    private func handBack(_ attempt: AttemptRef, reason: String) async {
        do {
            let plan = try await store.requeue(attempt, .handBack(reason: reason), now: now())
            bus.publish(.status(planID: plan.id, status: plan.status, attempt: plan.attempt))
        } catch {
            logger.error("cannot hand a plan back; it returns to the queue when its lease runs out",
                         metadata: ["plan.id": "\(attempt.planID)", "lease": "\(configuration.leaseDuration)", "error": "\(error)"])
        }
    }

    // MARK: Outcomes

    /// Records how a run ended: its output and steps, then finish, retry or hand-back.
    private func record(_ report: RunReport, of plan: Plan) async {
        guard let run = runs[plan.id], run.attempt == plan.currentAttempt else {
            logger.error("a run ended that this orchestrator does not know; its outcome is not recorded", metadata: ["plan.id": "\(plan.id)"])
            return
        }
        defer {
            runs[plan.id] = nil
            metrics.workers(busy: runs.count, total: configuration.workers)
        }
        let attempt = run.attempt
        await run.output.finish()
        let log = logger.with(plan: plan.id, attempt: attempt.attempt)

        // Retried like the outcome, but a run's outcome matters more than its stored output:
        // failing here never stops the outcome from being recorded.
        do {
            try await withRetries(log: log) { [store] in
                // A stream that carried nothing has nothing stored to replace.
                if report.stdout.totalBytes > 0 { try await store.saveOutput(report.stdout.bytes, stream: .stdout, for: attempt) }
                if report.stderr.totalBytes > 0 { try await store.saveOutput(report.stderr.bytes, stream: .stderr, for: attempt) }
                if !report.steps.isEmpty { try await store.saveSteps(report.steps, for: attempt) }
            }
        } catch {
            log.warning("cannot save the run's final output or steps", metadata: ["error": "\(error)"])
        }

        // Handed back only if the orchestrator itself stopped the run; a run that ended on its
        // own (even during a drain) keeps its outcome, and a timeout counts as an attempt.
        let handBackReason = report.termination == .shutdown ? (run.handBackReason ?? "the orchestrator stopped") : nil
        let retryDelay = handBackReason == nil ? retryDelay(for: plan, outcome: report.outcome) : nil
        let now = now()
        let recorded: Plan
        do {
            // While this retries, the run stays in `runs`, so heartbeats keep its lease.
            recorded = try await withRetries(log: log) { [store] in
                if let handBackReason {
                    return try await store.requeue(attempt, .handBack(reason: handBackReason), now: now)
                } else if let retryDelay {
                    return try await store.requeue(attempt, .retry(failedRun: report.outcome, runAt: now.addingTimeInterval(retryDelay.timeInterval)), now: now)
                } else {
                    return try await store.finish(attempt, outcome: report.outcome, now: now)
                }
            }
        } catch let error as PlanStoreError where error.code == .attemptNotHeld || error.code == .planNotFound {
            log.warning("a run ended after its plan was taken back (recovered elsewhere, or pruned); its outcome is not recorded",
                        metadata: ["error": "\(error)"])
            return
        } catch {
            log.error("cannot record the end of a run; the plan stays running until its lease expires, then is requeued and runs again",
                      metadata: ["lease": "\(configuration.leaseDuration)", "error": "\(error)"])
            return
        }

        if handBackReason != nil {
            drainLog?.requeued.append(plan.id)
        } else {
            drainLog?.drained.append(plan.id)
            bus.publish(.result(planID: plan.id, result: report.outcome.result, error: report.outcome.error))
        }
        if let retryDelay { wake(after: retryDelay) }
        bus.publish(.status(planID: plan.id, status: recorded.status, attempt: recorded.attempt))
        if recorded.status.isTerminal {
            bus.publish(.end(planID: plan.id, status: recorded.status))
            metrics.planEnded(status: recorded.status, runDuration: report.outcome.durationMs.map { .milliseconds($0) })
        }
        log.info("plan run ended", metadata: [
            "plan.status": "\(recorded.status.rawValue)", "run.outcome": "\(report.outcome.status.rawValue)",
            "run.duration_ms": "\(report.outcome.durationMs ?? 0)",
        ])
    }

    /// Runs a store write again after a failure other than "not held" or "not found", with
    /// backoff, for up to about half a lease: a busy database must not cost a run its outcome.
    private func withRetries<T>(log: Logger, _ write: () async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + configuration.leaseDuration / 2
        var delay = Duration.milliseconds(100)
        while true {
            do {
                return try await write()
            } catch let error as PlanStoreError where error.code == .attemptNotHeld || error.code == .planNotFound {
                throw error
            } catch {
                guard ContinuousClock.now + delay < deadline else { throw error }
                log.warning("recording a run's end failed; trying again", metadata: ["error": "\(error)", "retry.in": "\(delay)"])
                await sleepEvenIfCancelled(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    /// The backoff before retrying a failed or timed-out run, or `nil` when it is not retried.
    private func retryDelay(for plan: Plan, outcome: PlanOutcome) -> Duration? {
        guard outcome.status == .failed || outcome.status == .timedOut, plan.hasAttemptsLeft,
              outcome.error?.kind != .scriptNotFound, !plan.cancelRequested
        else { return nil }
        let doublings = min(max(plan.countedAttempts - 1, 0), 20)
        let delay = min(configuration.retryBaseDelay * (1 << doublings), configuration.maxRetryDelay)
        return delay * Double.random(in: 0.9...1.1)
    }

    /// Wakes the loop when a retry is due, if that comes before the next tick anyway.
    private func wake(after delay: Duration) {
        guard delay < configuration.pollInterval else { return }
        Task { [weak self] in
            try? await Task.sleep(for: delay)
            self?.wake()
        }
    }

    // MARK: Control

    /// Runs a cycle now: recovery, scheduling and (unless paused) claiming.
    public func poll() async throws -> PollReport {
        let claimed = try await runCycle()
        return PollReport(claimed: claimed, queue: try await store.countsByStatus(), polledAt: lastPollAt ?? now(), state: state)
    }

    /// Stops claiming; running plans continue. Once it returns, no further plan starts (a cycle
    /// in flight hands back what it claimed).
    @discardableResult
    public func pause() async -> OrchestratorState {
        pauseRequested = true
        if state == .running { state = .paused }
        _ = await lastCycle?.result
        logger.info("orchestrator paused")
        return state
    }

    /// Starts claiming again.
    @discardableResult
    public func resume() -> OrchestratorState {
        pauseRequested = false
        if state == .paused {
            state = .running
            wake()
        }
        logger.info("orchestrator resumed")
        return state
    }

    /// Drains or stops the running plans, requeues what is left, and starts the next
    /// generation (a fresh pool and interpreter). Answers once it runs. A restart asked for while
    /// one is in progress answers with that one.
    /// - Throws: ``OrchestratorError`` when the service is not running or is shutting down.
    public func restart(_ mode: RestartMode) async throws -> RestartReport {
        if let inProgress = restartInProgress {
            return try await inProgress.value
        }
        guard serviceRunning else { throw OrchestratorError.notRunning }
        guard !shuttingDown else { throw OrchestratorError.shuttingDown }
        let task = Task { try await self.performRestart(mode) }
        restartInProgress = task
        defer { restartInProgress = nil }
        return try await task.value
    }

    private func performRestart(_ mode: RestartMode) async throws -> RestartReport {
        logger.info("restart requested", metadata: ["restart.mode": "\(mode)", "generation": "\(generation)"])
        drainLog = DrainLog()
        defer { drainLog = nil }
        let ending = generation
        requestEnd(.restart(mode))
        while serviceRunning, !shuttingDown, generation == ending || state == .restarting {
            await withCheckedContinuation { generationWaiters.append($0) }
        }
        guard serviceRunning, !shuttingDown else { throw OrchestratorError.shuttingDown }
        if state == .stopped { throw OrchestratorError.generationFailed(lastError ?? "unknown error") }
        metrics.restarted()
        let log = drainLog ?? DrainLog()
        return RestartReport(generation: generation, drained: log.drained.sorted(), requeued: log.requeued.sorted(), python: interpreter)
    }

    /// Cancels a plan: at once if it waits in the queue; if it runs here, its process group is
    /// stopped and it ends `canceled`. A plan running elsewhere is stopped by its own
    /// orchestrator at its next heartbeat.
    public func cancel(planID: Int64, actor: String) async throws -> CancelResult {
        let result = try await store.cancel(planID, actor: actor, now: now())
        switch result {
        case .canceled(let plan):
            metrics.planEnded(status: .canceled, runDuration: nil)
            bus.publish(.status(planID: planID, status: .canceled, attempt: plan.attempt))
            bus.publish(.end(planID: planID, status: .canceled))
        case .cancelRequested:
            await pool?.cancel(planID: planID, reason: "canceled by \(actor)")
        }
        return result
    }

    /// The output of a plan running here (run number and bytes of each stream, from the start),
    /// including what has not reached the store yet; `nil` when it does not run here.
    public func liveOutput(of planID: Int64) -> (attempt: Int, output: [StandardStream: [UInt8]])? {
        runs[planID].map { ($0.attempt.attempt, $0.output.snapshot()) }
    }

    /// A snapshot for operators.
    public func status() async throws -> OrchestratorStatus {
        OrchestratorStatus(
            state: state, generation: generation, startedAt: startedAt, lastPollAt: lastPollAt,
            nextPollAt: state == .stopped ? nil : nextPollAt, lastError: lastError, failedCycles: failedCycles,
            workersTotal: configuration.workers, workersBusy: await pool?.busy ?? 0,
            runningPlanIDs: await pool?.runningPlanIDs ?? [], queue: try await store.countsByStatus(), python: interpreter
        )
    }

    // MARK: Generation hand-over

    private func requestEnd(_ end: GenerationEnd) {
        if end.isShutdown { shuttingDown = true }
        if let waiter = endWaiter {
            endWaiter = nil
            waiter.resume(returning: end)
        } else if pendingEnd == nil || end.isShutdown {
            pendingEnd = end
        }
    }

    private func waitForEnd() async -> GenerationEnd {
        if let pending = pendingEnd {
            pendingEnd = nil
            return pending
        }
        return await withCheckedContinuation { endWaiter = $0 }
    }

    private func notifyGenerationStarted() {
        let waiters = generationWaiters
        generationWaiters = []
        for waiter in waiters { waiter.resume() }
    }
}
