import Foundation

/// What operators and admins ask of the orchestrator: a poll now, pause and resume, a restart,
/// and what it is doing.
extension Orchestrator {
    /// Runs lease recovery and scheduling, then a cycle (which claims unless paused).
    public func poll() async throws -> PollReport {
        try await maintenance?.runNow()
        let claimed = try await runCycle()
        return PollReport(claimed: claimed, queue: try await queue.store.countsByStatus(), polledAt: lastPollAt ?? now(), state: state)
    }

    /// Stops claiming; running plans continue. Once it returns, no further plan starts (a cycle
    /// in flight hands back what it claimed).
    @discardableResult
    public func pause() async -> OrchestratorState {
        paused = true
        _ = await lastCycle?.result
        logger.info("orchestrator paused")
        return state
    }

    /// Starts claiming again.
    @discardableResult
    public func resume() -> OrchestratorState {
        paused = false
        wake()
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
        guard phase != .idle else { throw OrchestratorError.notRunning }
        guard !shutdownRequested else { throw OrchestratorError.shuttingDown }
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
        while phase != .idle, !shutdownRequested, generation == ending || phase == .starting || phase.isEnding {
            await withCheckedContinuation { generationWaiters.append($0) }
        }
        guard phase != .idle, !shutdownRequested else { throw OrchestratorError.shuttingDown }
        if phase == .broken { throw OrchestratorError.generationFailed(lastError ?? "unknown error") }
        metrics.restarted()
        let log = drainLog ?? DrainLog()
        return RestartReport(generation: generation, drained: log.drained.sorted(), requeued: log.requeued.sorted(), python: interpreter)
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
            nextPollAt: state == .stopped ? nil : currentTicker.withLock { $0 }?.nextTickAt, lastError: lastError, failedCycles: failedCycles,
            workersTotal: configuration.workers, workersBusy: await pool?.busy ?? 0,
            runningPlanIDs: await pool?.runningPlanIDs ?? [], queue: try await queue.store.countsByStatus(), python: interpreter
        )
    }
}

extension Orchestrator {
    /// What the node's heartbeat says of this orchestrator. Reads no database, so a heartbeat
    /// costs one write however large the queue.
    public func presence() -> (state: OrchestratorState, generation: Int, busy: Int) {
        (state, generation, runs.count)
    }
}
