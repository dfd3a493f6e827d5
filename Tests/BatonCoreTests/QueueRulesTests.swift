@testable import BatonCore
import BatonTestSupport
import Foundation
import Testing

/// The queue's rules on plain values: what every store writes, decided without a database.
@Suite struct QueueRulesTests {
    let policy = QueuePolicy()

    /// A plan as `node-a` runs it: claimed, attempt `attempt`.
    func running(attempt: Int = 1, maxAttempts: Int = 3, _ configure: (inout Plan) -> Void = { _ in }) -> (Plan, AttemptRef) {
        var plan = QueueRules.enqueuing(spec { $0.maxAttempts = maxAttempts }, policy: policy, now: t0).plan
        plan.id = 7
        plan.status = .running
        plan.owner = "node-a"
        plan.attempt = attempt
        plan.leaseExpiresAt = t0.adding(seconds: 60)
        plan.processGroup = 4242
        configure(&plan)
        return (plan, AttemptRef(planID: 7, owner: "node-a", attempt: attempt))
    }

    @Test func anEnqueueStoresTheSpecWithDefaultsAtStoredPrecision() {
        let now = Date(timeIntervalSince1970: 1_800_000_000.123_456)
        let (plan, event) = QueueRules.enqueuing(spec { $0.runAfter = now.adding(seconds: -5) }, policy: policy, now: now)
        #expect(plan.status == .queued, "a run_after in the past is due")
        #expect(plan.enqueuedAt == now.storedPrecision)
        #expect(plan.enqueuedAt.timeIntervalSince1970 == 1_800_000_000.123)
        #expect(plan.timeoutSeconds == policy.limits.defaultTimeoutSeconds)
        #expect(plan.name == "tests/run.py")
        #expect(event.kind == .enqueued && event.toStatus == .queued)

        let later = QueueRules.enqueuing(spec { $0.runAfter = now.adding(seconds: 1) }, policy: policy, now: now).plan
        #expect(later.status == .scheduled)
        #expect(later.runAfter == now.adding(seconds: 1).storedPrecision)
    }

    @Test func aBatchNamesEveryFailingIndexAndHasACap() throws {
        let error = try #require(throws: PlanValidationError.self) {
            try QueueRules.validateBatch([spec(), spec(priority: 12), spec(), spec(priority: -1)], policy: policy)
        }
        #expect(error.issues.map(\.field) == ["plans[1].priority", "plans[3].priority"])
        var small = policy
        small.maxBatchSize = 2
        let tooMany = try #require(throws: PlanValidationError.self) { try QueueRules.validateBatch([spec(), spec(), spec()], policy: small) }
        #expect(tooMany.issues.map(\.field) == ["plans"])
    }

    @Test func onlyTheRunHoldingThePlanMayEndIt() throws {
        let (plan, attempt) = running(attempt: 2)
        for stale in [AttemptRef(planID: 7, owner: "node-b", attempt: 2), AttemptRef(planID: 7, owner: "node-a", attempt: 1)] {
            #expect(throws: PlanStoreError.self) { try QueueRules.finishing(plan, stale, outcome: PlanOutcome(status: .succeeded), now: t0) }
            #expect(throws: PlanStoreError.self) { try QueueRules.requeueing(plan, stale, .handBack(reason: "x"), now: t0) }
        }
        var finished = plan
        finished.status = .succeeded
        #expect(throws: PlanStoreError.self) { try QueueRules.finishing(finished, attempt, outcome: PlanOutcome(status: .succeeded), now: t0) }
        #expect(throws: PlanStoreError.self) { try QueueRules.finishing(plan, attempt, outcome: PlanOutcome(status: .running), now: t0) }
    }

    @Test func aFinishRecordsTheOutcomeAndAddsItsUsage() throws {
        let (plan, attempt) = running { $0.usage = PlanUsage(inputTokens: 10, outputTokens: 1, costUSD: 0.1) }
        let outcome = PlanOutcome(status: .failed, exitCode: 2, durationMs: 30, error: PlanFailure(kind: .nonzeroExit, message: "exit 2"),
                                  usage: PlanUsage(inputTokens: 5, outputTokens: 2, costUSD: 0.2))
        let change = try QueueRules.finishing(plan, attempt, outcome: outcome, now: t0.adding(seconds: 1))
        #expect(change.from == plan)
        #expect(change.plan.status == .failed)
        #expect(change.plan.exitCode == 2 && change.plan.durationMs == 30)
        #expect(change.plan.usage == PlanUsage(inputTokens: 15, outputTokens: 3, costUSD: 0.1 + 0.2))
        #expect(change.plan.leaseExpiresAt == nil)
        #expect(change.plan.finishedAt == t0.adding(seconds: 1))
        #expect(change.event.kind == .finished && change.event.detail == "nonzero_exit: exit 2")
    }

    @Test func aRetryIsOnlyForFailedRunsWithAttemptsLeftAndWaitsForItsTime() throws {
        let (plan, attempt) = running(maxAttempts: 2)
        let failed = PlanOutcome(status: .failed, exitCode: 1)
        #expect(throws: PlanStoreError.self) { try QueueRules.requeueing(plan, attempt, .retry(failedRun: PlanOutcome(status: .succeeded), runAt: t0), now: t0) }
        let later = try QueueRules.requeueing(plan, attempt, .retry(failedRun: failed, runAt: t0.adding(seconds: 5)), now: t0)
        #expect(later.plan.status == .scheduled && later.plan.runAfter == t0.adding(seconds: 5))
        #expect(later.plan.processGroup == nil && later.plan.leaseExpiresAt == nil)
        let now = try QueueRules.requeueing(plan, attempt, .retry(failedRun: failed, runAt: t0), now: t0)
        #expect(now.plan.status == .queued)

        let (last, lastAttempt) = running(attempt: 2, maxAttempts: 2)
        #expect(throws: PlanStoreError.self) { try QueueRules.requeueing(last, lastAttempt, .retry(failedRun: failed, runAt: t0), now: t0) }
    }

    @Test func aHandBackCostsNoAttempt() throws {
        let (plan, attempt) = running(attempt: 1, maxAttempts: 1)
        let change = try QueueRules.requeueing(plan, attempt, .handBack(reason: "the orchestrator restarted"), now: t0)
        #expect(change.plan.status == .queued)
        #expect(change.plan.handBacks == 1)
        #expect(change.plan.hasAttemptsLeft)
        #expect(change.event.detail == "handed back: the orchestrator restarted")
    }

    @Test func cancelWinsOverARetryAHandBackAndARecovery() throws {
        let (plan, attempt) = running { $0.cancelRequested = true }
        let retried = try QueueRules.requeueing(plan, attempt, .retry(failedRun: PlanOutcome(status: .failed), runAt: t0), now: t0)
        let handed = try QueueRules.requeueing(plan, attempt, .handBack(reason: "restart"), now: t0)
        let recovered = QueueRules.recovering(plan, policy: policy, now: t0)
        for change in [retried, handed, recovered] {
            #expect(change.plan.status == .canceled)
            #expect(change.plan.error?.kind == .canceled)
            #expect(change.plan.finishedAt == t0)
        }
    }

    @Test func aCancelEndsAWaitingPlanFlagsARunningOneOnceAndRefusesAFinishedOne() throws {
        var waiting = QueueRules.enqueuing(spec(), policy: policy, now: t0).plan
        waiting.id = 3
        guard case .cancelNow(let now) = try QueueRules.canceling(waiting, actor: "ops", now: t0) else {
            Issue.record("a waiting plan is canceled at once")
            return
        }
        #expect(now.plan.status == .canceled && now.plan.error?.message == "canceled by ops before it ran")

        let (plan, _) = running()
        guard case .request(let request) = try QueueRules.canceling(plan, actor: "ops", now: t0) else {
            Issue.record("a running plan is flagged")
            return
        }
        #expect(request.plan.status == .running && request.plan.cancelRequested)
        #expect(try QueueRules.canceling(request.plan, actor: "ops", now: t0) == .alreadyRequested)

        var done = plan
        done.status = .succeeded
        #expect(throws: PlanStoreError.self) { try QueueRules.canceling(done, actor: "ops", now: t0) }
    }

    @Test func aRecoveryRequeuesUntilTheOrphanCap() {
        var capped = policy
        capped.maxRecoveries = 2
        let (plan, _) = running { $0.recoveries = 1 }
        let again = QueueRules.recovering(plan, policy: capped, now: t0)
        #expect(again.plan.status == .queued)
        #expect(again.plan.recoveries == 2)
        #expect(again.event.detail == "lease of node-a expired")

        let orphaned = QueueRules.recovering(again.plan.with { $0.status = .running }, policy: capped, now: t0)
        #expect(orphaned.plan.status == .failed)
        #expect(orphaned.plan.error?.kind == .orphaned)
        #expect(orphaned.event.kind == .heartbeatLost)
    }
}

extension Plan {
    fileprivate func with(_ change: (inout Plan) -> Void) -> Plan {
        var plan = self
        change(&plan)
        return plan
    }
}
