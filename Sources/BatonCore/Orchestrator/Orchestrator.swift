import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Claims plans from the queue and runs them on a worker pool (design §2–§4).
///
/// A cycle claims up to the number of free slots. Cycles run on every tick of a ``PollTicker``:
/// every `pollInterval`, and at once when plans become available (a ``QueueSignal`` from the
/// ``PlanQueue``), when a slot frees up, or when ``poll()`` asks. A ``LeaseKeeper`` renews the
/// leases of running plans; a ``RunRecorder`` records each run's end. Lease recovery and
/// scheduling are the ``MaintenanceService``'s.
///
/// The pool, the loops and the interpreter form a *generation*; ``restart(_:)`` drains or
/// stops the running plans, hands them back to the queue, and starts generation + 1.
/// Graceful shutdown (SIGTERM through the `ServiceGroup`) drains the same way and returns.
public actor Orchestrator: Service {
    /// Where the service is in its life. The public ``OrchestratorState`` is derived from it
    /// and from whether an operator paused claiming.
    enum Phase: Equatable {
        /// `run()` has not started, or has returned.
        case idle
        /// Preparing a generation: resolving the interpreter, building the pool.
        case starting
        /// A generation runs; it claims unless paused.
        case active
        /// The generation could not start; nothing runs until a restart succeeds.
        case broken
        /// The generation is ending: running plans drain, or are being stopped and handed back.
        case ending(draining: Bool)
    }

    /// Why a generation ends.
    enum GenerationEnd {
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
    struct Run {
        let attempt: AttemptRef
        let output: RunOutputWriter
        /// The end of the lease the claim took; the lease keeper renews it from there.
        let claimedUntil: Date
        /// Set when the orchestrator stops the run on purpose: it goes back to the queue.
        var handBackReason: String?
        /// Stopped because its lease could not be renewed: handed back, never recorded as canceled.
        var fenced = false
    }

    /// Plans that ended while a restart drained or stopped them.
    struct DrainLog {
        var drained: [Int64] = []
        var requeued: [Int64] = []
    }

    public nonisolated let configuration: Configuration
    let queue: PlanQueue
    let maintenance: MaintenanceService?
    let recorder: RunRecorder
    private let prepareRunner: @Sendable () async throws -> PreparedRunner
    private let clock: any Clock<Duration>
    let now: @Sendable () -> Date
    let logger: Logger
    let metrics: BatonMetrics
    private let instance = String(UUID().uuidString.prefix(8)).lowercased()

    var phase = Phase.idle
    /// The operator's pause: kept across restarts until a resume.
    var paused = false
    var shutdownRequested = false
    var generation = 0
    var startedAt: Date?
    var lastPollAt: Date?
    var lastError: String?
    var failedCycles = 0
    var pool: WorkerPool?
    /// The current generation's ticker; readable without the actor, so ``wake()`` never waits.
    nonisolated let currentTicker = Mutex<PollTicker?>(nil)
    var interpreter: PythonInterpreter?
    var runs: [Int64: Run] = [:]
    var lastCycle: Task<[Int64], any Error>?
    var drainLog: DrainLog?
    private var pendingEnd: GenerationEnd?
    private var endWaiter: CheckedContinuation<GenerationEnd, Never>?
    var restartInProgress: Task<RestartReport, any Error>?
    var generationWaiters: [CheckedContinuation<Void, Never>] = []

    /// - Parameters:
    ///   - queue: Where plans are claimed and recorded; its signals wake the poll loop.
    ///   - maintenance: Run before each forced ``poll()``, and early when a retry comes due.
    ///   - clock: Times the poll ticks and heartbeats; tests pass a clock they drive.
    ///   - now: Wall-clock time for the store (claims, leases, events).
    ///   - prepareRunner: Makes the runner of each generation (resolving the interpreter anew).
    public init(
        configuration: Configuration,
        queue: PlanQueue,
        maintenance: MaintenanceService? = nil,
        clock: any Clock<Duration> = ContinuousClock(),
        now: @escaping @Sendable () -> Date = Date.init,
        logger: Logger = Logger(label: "baton.orchestrator"),
        metrics: BatonMetrics = .none,
        prepareRunner: @escaping @Sendable () async throws -> PreparedRunner
    ) {
        var configuration = configuration
        configuration.workers = max(1, configuration.workers)
        self.configuration = configuration
        self.queue = queue
        self.maintenance = maintenance
        self.clock = clock
        self.now = now
        self.logger = logger
        self.metrics = metrics
        self.prepareRunner = prepareRunner
        recorder = RunRecorder(queue: queue, retryPolicy: configuration.retryPolicy,
                               writeDeadline: configuration.leaseDuration / 2, now: now)
    }

    /// What the orchestrator is doing, as operators see it.
    var state: OrchestratorState {
        switch phase {
        case .idle, .broken: .stopped
        case .starting: .restarting
        case .active: paused ? .paused : .running
        case .ending(let draining): draining ? .draining : .restarting
        }
    }

    /// Whether a cycle may claim and start plans now.
    var isClaiming: Bool { phase == .active && !paused }

    /// The name this generation claims plans under.
    var owner: String {
        RunOwner(instance: instance, generation: generation).description
    }

    // MARK: Service

    /// Runs generations until graceful shutdown (or cancellation), then drains and returns.
    public func run() async {
        startedAt = now()
        phase = .starting
        logger.info("orchestrator starting", metadata: ["workers": "\(configuration.workers)", "poll.interval": "\(configuration.pollInterval)"])
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await self.followSignals() }
                    await runGenerations()
                    group.cancelAll()
                }
            } onCancel: {
                Task { await self.requestEnd(.shutdown) }
            }
        } onGracefulShutdown: {
            Task { await self.requestEnd(.shutdown) }
        }
        phase = .idle
        notifyGenerationStarted()  // a restart still waiting learns that none will come
        logger.info("orchestrator stopped", metadata: ["generation": "\(generation)"])
    }

    /// Acts on the queue's signals: a poll when plans became available, a stop when a plan
    /// running here was canceled.
    private func followSignals() async {
        for await signal in queue.notifier.signals() {
            switch signal {
            case .plansAvailable:
                wake()
            case .cancelRequested(let planID, let actor):
                await pool?.cancel(planID: planID, reason: "canceled by \(actor)")
            case .controlIssued:
                break  // the node's ClusterControl reads commands
            }
        }
    }

    private func runGenerations() async {
        while !shutdownRequested {
            if case .shutdown = await runGeneration() { return }
        }
    }

    /// One generation: a fresh runner and pool, the poll, timer and heartbeat loops, until a
    /// restart or shutdown is asked for; then the drain.
    private func runGeneration() async -> GenerationEnd {
        generation += 1
        phase = .starting
        let prepared: PreparedRunner
        do {
            prepared = try await prepareRunner()
        } catch {
            phase = .broken
            interpreter = nil
            lastError = "cannot start generation \(generation): \(error)"
            logger.error("cannot start a generation; nothing runs until a restart succeeds (fix the cause, then baton restart)",
                         metadata: ["generation": "\(generation)", "error": "\(error)"])
            notifyGenerationStarted()
            return await waitForEnd()
        }
        interpreter = prepared.interpreter
        let (slotFreed, slotFreedContinuation) = AsyncStream.makeStream(of: Void.self)
        let pool = WorkerPool(slots: configuration.workers, runner: prepared.runner, slotFreed: slotFreedContinuation)
        let ticker = PollTicker(interval: configuration.pollInterval, jitter: configuration.pollJitter, clock: clock, now: now)
        let keeper = LeaseKeeper(store: queue.store, lease: configuration.leaseDuration, interval: configuration.effectiveHeartbeatInterval,
                                 clock: clock, now: now, logger: logger)
        self.pool = pool
        currentTicker.withLock { $0 = ticker }
        phase = .active
        lastError = nil
        logger.info("generation started", metadata: [
            "generation": "\(generation)", "owner": "\(owner)",
            "python.path": "\(prepared.interpreter?.path ?? "-")", "python.version": "\(prepared.interpreter?.version ?? "-")",
        ])

        let end = await withTaskGroup(of: Void.self) { group in
            group.addTask { await pool.run() }
            group.addTask { await ticker.run() }
            group.addTask { await self.pollLoop(ticker.ticks) }
            group.addTask {
                await keeper.run(running: { await self.runningAttempts() }, stop: { await self.stop($0, because: $1) })
            }
            group.addTask {
                for await _ in slotFreed { ticker.tick() }
            }
            ticker.tick()
            notifyGenerationStarted()
            let end = await waitForEnd()
            await drain(for: end)
            // Cancelling the pool stops every run still going; each reports `shutdown` and is
            // handed back before the group returns.
            group.cancelAll()
            return end
        }
        slotFreedContinuation.finish()
        currentTicker.withLock { $0 = nil }
        self.pool = nil
        return end
    }

    /// Stops claiming and, for a graceful end, lets running plans finish within the timeout.
    private func drain(for end: GenerationEnd) async {
        phase = .ending(draining: !end.isImmediate)
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
        phase = .ending(draining: false)
    }

    /// Runs a cycle for every tick: a timer tick, plans available, a freed slot.
    private func pollLoop(_ ticks: AsyncStream<Void>) async {
        var consecutiveFailures = 0
        for await _ in ticks {
            do {
                _ = try await runCycle()
                consecutiveFailures = 0
            } catch {
                consecutiveFailures += 1
                // Back off a little, so a broken database is not hammered; the next tick (at
                // the latest the next regular one) tries again.
                let pause = min(.milliseconds(100) * (1 << min(consecutiveFailures, 6)), configuration.pollInterval)
                try? await clock.sleep(for: pause)
            }
        }
    }

    /// Wakes the poll loop: a cycle runs as soon as the one in progress (if any) ends.
    public nonisolated func wake() {
        currentTicker.withLock { $0 }?.tick()
    }

    /// Asks for a round of maintenance after `delay` (a retry coming due).
    func maintenanceSoon(after delay: Duration) {
        maintenance?.runSoon(after: delay)
    }

    // MARK: Generation hand-over

    func requestEnd(_ end: GenerationEnd) {
        if end.isShutdown { shutdownRequested = true }
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

extension Orchestrator.Phase {
    var isEnding: Bool {
        if case .ending = self { return true }
        return false
    }
}
