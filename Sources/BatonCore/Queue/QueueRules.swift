import Foundation

/// The rules of the queue (design §3–§4), decided here once for every store.
///
/// A store reads the row a change concerns, inside its write transaction, asks these functions
/// what the change is, and writes the answer (a ``PlanTransition``) with its own SQL. Nothing
/// here touches a database, so both stores make the same decisions, and tests can check each
/// rule on plain values.
public enum QueueRules {
    // MARK: Enqueue

    /// Checks one spec against the policy.
    public static func validate(_ spec: PlanSpec, policy: QueuePolicy) throws(PlanValidationError) {
        try spec.validate(limits: policy.limits)
    }

    /// Checks a batch: its size, then every spec, so one error names every failing index
    /// (`plans[3].priority`).
    public static func validateBatch(_ specs: [PlanSpec], policy: QueuePolicy) throws(PlanValidationError) {
        guard specs.count <= policy.maxBatchSize else {
            throw PlanValidationError(field: "plans", message: "a batch holds at most \(policy.maxBatchSize) plans; got \(specs.count)")
        }
        var issues: [PlanValidationError.Issue] = []
        for (index, spec) in specs.enumerated() {
            do {
                try spec.validate(limits: policy.limits)
            } catch {
                issues += error.nested(under: "plans[\(index)].").issues
            }
        }
        guard issues.isEmpty else { throw PlanValidationError(issues: issues) }
    }

    /// The plan an enqueue of a valid `spec` stores (its id still 0, for the store to assign), and
    /// its first event (with plan id 0 likewise).
    public static func enqueuing(_ spec: PlanSpec, policy: QueuePolicy, now: Date) -> (plan: Plan, event: PlanEvent.Draft) {
        let enqueuedAt = now.storedPrecision
        let runAfter = spec.runAfter?.storedPrecision
        let status: PlanStatus = (runAfter.map { $0 > enqueuedAt } ?? false) ? .scheduled : .queued
        let plan = Plan(
            id: 0, name: spec.name ?? spec.entryPoint.defaultName, entryPoint: spec.entryPoint, args: spec.args,
            input: spec.input, priority: spec.priority, timeoutSeconds: spec.timeoutSeconds ?? policy.limits.defaultTimeoutSeconds,
            maxAttempts: spec.maxAttempts, env: spec.env, labels: spec.labels, idempotencyKey: spec.idempotencyKey,
            runAfter: runAfter, status: status, attempt: 0, recoveries: 0, handBacks: 0, owner: nil, leaseExpiresAt: nil,
            processGroup: nil, cancelRequested: false, enqueuedAt: enqueuedAt, startedAt: nil, finishedAt: nil,
            durationMs: nil, exitCode: nil, signal: nil, result: nil, error: nil, triggeredBy: spec.triggeredBy, usage: nil,
            runtime: spec.runtime
        )
        return (plan, PlanEvent.Draft(planID: 0, at: now, kind: .enqueued, attempt: 0, actor: spec.triggeredBy, to: status))
    }

    // MARK: Claim and run

    /// The event of each claimed plan (the claim itself is one statement of the store's).
    public static func claimed(_ plan: Plan, owner: String, now: Date) -> PlanEvent.Draft {
        PlanEvent.Draft(planID: plan.id, at: now, kind: .claimed, attempt: plan.attempt, actor: owner, from: .queued, to: .running)
    }

    /// The event of a run whose child has started in `processGroup`.
    public static func started(_ attempt: AttemptRef, processGroup: Int32, now: Date) -> PlanEvent.Draft {
        PlanEvent.Draft(planID: attempt.planID, at: now, kind: .started, attempt: attempt.attempt, actor: attempt.owner,
                        detail: "process group \(processGroup)")
    }

    /// The event of a run's setup phase (its environment), described by `detail`.
    public static func setUp(_ attempt: AttemptRef, detail: String, now: Date) -> PlanEvent.Draft {
        PlanEvent.Draft(planID: attempt.planID, at: now, kind: .setup, attempt: attempt.attempt, actor: attempt.owner, detail: detail)
    }

    /// The event of a scheduled plan that came due.
    public static func promoted(planID: Int64, attempt: Int, now: Date) -> PlanEvent.Draft {
        PlanEvent.Draft(planID: planID, at: now, kind: .promoted, attempt: attempt, actor: "scheduler", from: .scheduled, to: .queued)
    }

    /// Ends the run `attempt` with a terminal `outcome`.
    public static func finishing(_ current: Plan, _ attempt: AttemptRef, outcome: PlanOutcome, now: Date) throws(PlanStoreError) -> PlanTransition {
        try requireHeld(current, attempt)
        guard outcome.status.isTerminal else {
            throw PlanStoreError.invalidTransition(current.id, from: .running, to: outcome.status)
        }
        var plan = current
        plan.status = outcome.status
        plan.finishedAt = now.storedPrecision
        plan.leaseExpiresAt = nil
        plan.record(outcome)
        let detail = outcome.error.map { "\($0.kind.rawValue): \($0.message)" }
        return PlanTransition(from: current, plan: plan, event: PlanEvent.Draft(
            planID: current.id, at: now, kind: .finished, attempt: attempt.attempt, actor: attempt.owner,
            from: .running, to: outcome.status, detail: detail))
    }

    /// Puts the running plan back: a retry, or a hand-back. Cancel wins: a plan whose cancel was
    /// requested ends `canceled` instead.
    public static func requeueing(_ current: Plan, _ attempt: AttemptRef, _ requeue: Requeue, now: Date) throws(PlanStoreError) -> PlanTransition {
        try requireHeld(current, attempt)
        if current.cancelRequested {
            return ending(current, attempt: attempt, as: .canceled, error: PlanFailure(kind: .canceled, message: "canceled while running"),
                          kind: .canceled, actor: attempt.owner, detail: "a cancel was requested before the plan could be requeued", now: now)
        }
        var plan = current
        plan.leaseExpiresAt = nil
        plan.processGroup = nil
        let detail: String
        switch requeue {
        case .retry(let outcome, let runAt):
            guard outcome.status == .failed || outcome.status == .timedOut else {
                throw PlanStoreError(.retryRefused, planID: current.id,
                                     "plan \(current.id) cannot be retried after a run that ended \(outcome.status.rawValue): only failed and timed-out runs are retried")
            }
            guard current.hasAttemptsLeft else {
                throw PlanStoreError(.retryRefused, planID: current.id,
                                     "plan \(current.id) has used \(current.countedAttempts) of its \(current.maxAttempts) attempts: finish it instead of retrying")
            }
            let runAt = runAt.storedPrecision
            plan.status = runAt > now.storedPrecision ? .scheduled : .queued
            plan.runAfter = runAt
            plan.record(outcome)
            detail = "retry after \(outcome.status.rawValue)\(outcome.error.map { " (\($0.kind.rawValue))" } ?? "")"
        case .handBack(let reason):
            plan.status = .queued
            plan.handBacks += 1
            detail = "handed back: \(reason)"
        }
        return PlanTransition(from: current, plan: plan, event: PlanEvent.Draft(
            planID: current.id, at: now, kind: .requeued, attempt: attempt.attempt, actor: attempt.owner,
            from: .running, to: plan.status, detail: detail))
    }

    // MARK: Cancel

    /// What a cancel of `current` does.
    public enum Cancel: Sendable, Hashable {
        /// The plan had not started: it ends `canceled` now.
        case cancelNow(PlanTransition)
        /// The plan is running: it is flagged for its orchestrator to stop.
        case request(PlanTransition)
        /// The plan is running and its cancel was asked for already: nothing changes.
        case alreadyRequested
    }

    /// Decides a cancel. A terminal plan cannot be canceled.
    public static func canceling(_ current: Plan, actor: String, now: Date) throws(PlanStoreError) -> Cancel {
        guard current.status.canMove(to: .canceled) else {
            throw PlanStoreError.invalidTransition(current.id, from: current.status, to: .canceled)
        }
        if current.status == .running {
            guard !current.cancelRequested else { return .alreadyRequested }
            var plan = current
            plan.cancelRequested = true
            return .request(PlanTransition(from: current, plan: plan, event: PlanEvent.Draft(
                planID: current.id, at: now, kind: .cancelRequested, attempt: current.attempt, actor: actor)))
        }
        var plan = current
        plan.status = .canceled
        plan.finishedAt = now.storedPrecision
        plan.error = PlanFailure(kind: .canceled, message: "canceled by \(actor) before it ran")
        return .cancelNow(PlanTransition(from: current, plan: plan, event: PlanEvent.Draft(
            planID: current.id, at: now, kind: .canceled, attempt: current.attempt, actor: actor, from: current.status, to: .canceled)))
    }

    // MARK: Recovery

    /// Takes back a running plan whose lease ran out: to the queue at its original priority and
    /// place in line; or `canceled` when a cancel was pending; or `failed` as `orphaned` once it
    /// was recovered `policy.maxRecoveries` times already, so a plan that kills its worker cannot
    /// loop forever.
    public static func recovering(_ expired: Plan, policy: QueuePolicy, now: Date) -> PlanTransition {
        let lost = AttemptRef(planID: expired.id, owner: expired.owner ?? "", attempt: expired.attempt)
        var detail = "lease of \(lost.owner) expired"
        if expired.cancelRequested {
            return ending(expired, attempt: lost, as: .canceled,
                          error: PlanFailure(kind: .canceled, message: "canceled; its orchestrator stopped before it could stop the plan"),
                          kind: .heartbeatLost, actor: "recovery", detail: detail, now: now)
        }
        if expired.recoveries >= policy.maxRecoveries {
            detail += "; recovered \(expired.recoveries) times already, giving up"
            return ending(expired, attempt: lost, as: .failed,
                          error: PlanFailure(kind: .orphaned, message: "its orchestrator stopped heartbeating \(expired.recoveries + 1) times while running it; not retried again"),
                          kind: .heartbeatLost, actor: "recovery", detail: detail, now: now)
        }
        var plan = expired
        plan.status = .queued
        plan.recoveries += 1
        plan.leaseExpiresAt = nil
        plan.processGroup = nil
        return PlanTransition(from: expired, plan: plan, event: PlanEvent.Draft(
            planID: expired.id, at: now, kind: .heartbeatLost, attempt: expired.attempt, actor: "recovery",
            from: .running, to: .queued, detail: detail))
    }

    // MARK: Helpers

    /// A running plan ended by the queue itself (not by its run): canceled or orphaned.
    private static func ending(_ current: Plan, attempt: AttemptRef, as status: PlanStatus, error: PlanFailure,
                               kind: PlanEvent.Kind, actor: String, detail: String, now: Date) -> PlanTransition {
        var plan = current
        plan.status = status
        plan.finishedAt = now.storedPrecision
        plan.leaseExpiresAt = nil
        plan.error = error
        return PlanTransition(from: current, plan: plan, event: PlanEvent.Draft(
            planID: current.id, at: now, kind: kind, attempt: attempt.attempt, actor: actor, from: .running, to: status, detail: detail))
    }

    /// Throws unless `attempt` still holds `current`: running, same owner, same run.
    public static func requireHeld(_ current: Plan, _ attempt: AttemptRef) throws(PlanStoreError) {
        guard current.status == .running, current.owner == attempt.owner, current.attempt == attempt.attempt else {
            throw PlanStoreError.attemptNotHeld(attempt, current: current)
        }
    }
}

extension Plan {
    /// Records how a run went; its cost adds to the plan's total.
    mutating func record(_ outcome: PlanOutcome) {
        durationMs = outcome.durationMs
        exitCode = outcome.exitCode
        signal = outcome.signal
        result = outcome.result
        error = outcome.error
        usage = outcome.usage.map { (usage ?? PlanUsage()).adding($0) } ?? usage
    }
}

extension Date {
    /// The instant as a store keeps it: rounded to the millisecond.
    public var storedPrecision: Date { Date(millisecondsSince1970: millisecondsSince1970) }
}
