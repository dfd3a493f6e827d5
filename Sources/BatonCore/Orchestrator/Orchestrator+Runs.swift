import Foundation
import Logging

/// Claiming plans, starting their runs, and recording their ends.
extension Orchestrator {
    /// Runs one cycle after the previous one has ended, so cycles never overlap.
    func runCycle() async throws -> [Int64] {
        let previous = lastCycle
        let cycle = Task {
            _ = await previous?.result
            return try await self.cycle()
        }
        lastCycle = cycle
        return try await cycle.value
    }

    /// Claims up to the free slots (unless paused or ending) and starts the claimed plans.
    private func cycle() async throws -> [Int64] {
        let now = now()
        do {
            var started: [Int64] = []
            if isClaiming, let pool {
                let free = await pool.free
                if free > 0 {
                    for plan in try await queue.claim(limit: free, owner: owner, leaseDuration: configuration.leaseDuration, now: now) {
                        if await start(plan, on: pool) { started.append(plan.id) }
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
        guard isClaiming, runs[plan.id] == nil else {
            // Paused or ending since this cycle began, or an earlier run of this plan (recovered
            // while this node stalled) is still stopping here: never two runs of one plan at once.
            let reason = isClaiming ? "its previous run here is still stopping" : "the orchestrator stopped claiming"
            await handBack(attempt, reason: reason)
            return false
        }
        let output = RunOutputWriter(store: queue.store, attempt: attempt, interval: configuration.outputFlushInterval,
                                     liveLimit: configuration.liveOutputLimit, now: now, logger: logger)
        let claimedUntil = plan.leaseExpiresAt ?? now().addingTimeInterval(configuration.leaseDuration.timeInterval)
        runs[plan.id] = Run(attempt: attempt, output: output, claimedUntil: claimedUntil)
        metrics.workers(busy: runs.count, total: configuration.workers)
        logger.debug("starting plan", metadata: ["plan.id": "\(plan.id)", "plan.attempt": "\(plan.attempt)", "plan.priority": "\(plan.priority)"])
        let bus = queue.bus
        let started = await pool.start(plan, attempt: plan.attempt, events: { event in
            switch event {
            case .started(let processGroup):
                output.recordStart(processGroup: processGroup)
            case .output(let stream, let bytes):
                let offset = output.append(bytes, stream: stream)
                bus.publish(.output(planID: plan.id, attempt: plan.attempt, stream: stream, offset: offset, bytes: bytes))
            case .setup(let detail):
                output.recordSetup(detail)
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
            _ = try await queue.requeue(attempt, .handBack(reason: reason), now: now())
        } catch {
            logger.error("cannot hand a plan back; it returns to the queue when its lease runs out",
                         metadata: ["plan.id": "\(attempt.planID)", "lease": "\(configuration.leaseDuration)", "error": "\(error)"])
        }
    }

    /// Records how a run ended. While this goes on, the run stays in `runs`, so heartbeats keep
    /// its lease.
    private func record(_ report: RunReport, of plan: Plan) async {
        guard let run = runs[plan.id], run.attempt == plan.currentAttempt else {
            logger.error("a run ended that this orchestrator does not know; its outcome is not recorded", metadata: ["plan.id": "\(plan.id)"])
            return
        }
        defer {
            runs[plan.id] = nil
            metrics.workers(busy: runs.count, total: configuration.workers)
        }
        await run.output.finish()
        let log = logger.with(plan: plan.id, attempt: run.attempt.attempt)
        // Handed back only if the orchestrator itself stopped the run (shutting down, or fencing
        // a run it could not renew); a run that ended on its own (even during a drain) keeps its
        // outcome, and a timeout counts as an attempt.
        let stoppedHere = report.termination == .shutdown || (run.fenced && report.termination != nil && report.termination != .timeout)
        let handBackReason = stoppedHere ? (run.handBackReason ?? "the orchestrator stopped") : nil
        guard let recorded = await recorder.record(report, of: plan, attempt: run.attempt, handBackReason: handBackReason, log: log) else {
            return
        }
        switch recorded {
        case .handedBack:
            drainLog?.requeued.append(plan.id)
        case .retried(_, let delay):
            drainLog?.drained.append(plan.id)
            maintenanceSoon(after: delay)
        case .finished:
            drainLog?.drained.append(plan.id)
        }
        log.info("plan run ended", metadata: [
            "plan.status": "\(recorded.plan.status.rawValue)", "run.outcome": "\(report.outcome.status.rawValue)",
            "run.duration_ms": "\(report.outcome.durationMs ?? 0)",
        ])
    }

    /// The runs whose leases the heartbeat renews, with the lease end of their claims.
    func runningAttempts() -> [AttemptRef: Date] {
        Dictionary(runs.values.map { ($0.attempt, $0.claimedUntil) }, uniquingKeysWith: { first, _ in first })
    }

    /// Stops a run the lease keeper says must not go on — if it is still the run going here.
    func stop(_ attempt: AttemptRef, because verdict: LeaseKeeper.Verdict) async {
        guard runs[attempt.planID]?.attempt == attempt else { return }
        switch verdict {
        case .lost:
            logger.warning("a running plan lost its lease (it was recovered elsewhere); stopping this run",
                           metadata: ["plan.id": "\(attempt.planID)", "plan.attempt": "\(attempt.attempt)"])
            await pool?.cancel(planID: attempt.planID, reason: "stopped: this run no longer holds the plan")
        case .canceled:
            await pool?.cancel(planID: attempt.planID, reason: "canceled")
        case .fenced:
            runs[attempt.planID]?.fenced = true
            runs[attempt.planID]?.handBackReason = "its node could not renew the lease (database unreachable) and stopped the run"
            await pool?.cancel(planID: attempt.planID, reason: "stopped: the lease could not be renewed", immediately: true)
        }
    }
}
