import Foundation
import BatonTestSupport
import Testing
import BatonCore

@Suite struct StoreLifecycleTests {
    @Test(arguments: StoreKind.all) func finishRecordsTheOutcome(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            try await store.add(spec())
            let plan = try await store.claimOne()
            let attempt = try #require(plan.currentAttempt)
            try await store.recordSetup("environment 1a2b built in 3.2 s", for: attempt, now: t0)
            try await store.recordProcessGroup(4242, for: attempt, now: t0)
            #expect(try await store.plan(plan.id)?.processGroup == 4242)
            let result = try JSONText(validating: #"{"status": "success", "output": {"passed": 12}}"#)
            let finished = try await store.finish(attempt, outcome: PlanOutcome(
                status: .succeeded, exitCode: 0, durationMs: 1234, result: result,
                usage: PlanUsage(inputTokens: 10, outputTokens: 20, costUSD: 0.5)
            ), now: t0.adding(seconds: 2))
            #expect(finished.status == .succeeded)
            #expect(finished.exitCode == 0)
            #expect(finished.durationMs == 1234)
            #expect(finished.result == result)
            #expect(finished.usage == PlanUsage(inputTokens: 10, outputTokens: 20, costUSD: 0.5))
            #expect(finished.finishedAt == t0.adding(seconds: 2))
            #expect(finished.leaseExpiresAt == nil)
            let events = try await store.events(of: plan.id)
            #expect(events.map(\.kind) == [.enqueued, .claimed, .setup, .started, .finished])
            #expect(events.first { $0.kind == .setup }?.detail == "environment 1a2b built in 3.2 s")
        }
    }

    @Test(arguments: StoreKind.all) func aFailureKeepsItsKindAndMessage(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            try await store.add(spec())
            let attempt = try #require(try await store.claimOne().currentAttempt)
            let failed = try await store.finish(attempt, outcome: PlanOutcome(
                status: .failed, exitCode: 2, error: PlanFailure(kind: .nonzeroExit, message: "exited with status 2")
            ), now: t0)
            #expect(failed.error == PlanFailure(kind: .nonzeroExit, message: "exited with status 2"))
            let event = try #require(try await store.events(of: failed.id).last)
            #expect(event.detail == "nonzero_exit: exited with status 2")
        }
    }

    @Test(arguments: StoreKind.all, PlanStatus.terminal)
    func aTerminalPlanNeverChanges(_ kind: StoreKind, _ terminal: PlanStatus) async throws {
        try await withStore(kind) { store throws in
            try await store.add(spec { $0.maxAttempts = 5 })
            let attempt = try #require(try await store.claimOne().currentAttempt)
            let done = try await store.finish(attempt, outcome: PlanOutcome(status: terminal, exitCode: 3), now: t0)
            #expect(done.status == terminal)
            #expect(done.exitCode == 3)
            await expectStoreError(.attemptNotHeld) {
                _ = try await store.finish(attempt, outcome: PlanOutcome(status: .succeeded), now: t0)
            }
            await expectStoreError(.attemptNotHeld) { _ = try await store.requeue(attempt, .handBack(reason: "late"), now: t0) }
            await expectStoreError(.attemptNotHeld) {
                _ = try await store.requeue(attempt, .retry(failedRun: PlanOutcome(status: .failed), runAt: t0), now: t0)
            }
            await expectStoreError(.attemptNotHeld) { try await store.recordProcessGroup(1, for: attempt, now: t0) }
            await expectStoreError(.attemptNotHeld) { try await store.recordSetup("late", for: attempt, now: t0) }
            await expectStoreError(.invalidTransition) { _ = try await store.cancel(done.id, actor: "ops", now: t0) }
            #expect(try await store.renewLeases([attempt], leaseDuration: .seconds(60), now: t0).isEmpty)
            #expect(try await store.recoverExpiredLeases(now: t0.adding(seconds: 3600)).isEmpty)
            #expect(try await store.promoteDueScheduled(now: t0.adding(seconds: 3600)).isEmpty)
            #expect(try await store.claim(limit: 10, owner: "b", leaseDuration: .seconds(60), now: t0).isEmpty)
            #expect(try await store.plan(done.id) == done)
        }
    }

    @Test(arguments: StoreKind.all) func aCanceledWaitingPlanNeverChanges(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            let plan = try await store.add(spec())
            let canceled = try await store.cancel(plan.id, actor: "ops", now: t0).plan
            await expectStoreError(.invalidTransition) { _ = try await store.cancel(plan.id, actor: "ops", now: t0) }
            #expect(try await store.claim(limit: 10, owner: "b", leaseDuration: .seconds(60), now: t0).isEmpty)
            #expect(try await store.plan(plan.id) == canceled)
        }
    }

    @Test(arguments: StoreKind.all) func finishNeedsATerminalStatus(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            try await store.add(spec())
            let attempt = try #require(try await store.claimOne().currentAttempt)
            for status in [PlanStatus.queued, .scheduled, .running] {
                await expectStoreError(.invalidTransition) { _ = try await store.finish(attempt, outcome: PlanOutcome(status: status), now: t0) }
            }
            #expect(try await store.plan(attempt.planID)?.status == .running)
        }
    }

    @Test(arguments: StoreKind.all) func writesNamingAnotherOwnerOrAttemptAreRefused(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            try await store.add(spec())
            let attempt = try #require(try await store.claimOne(owner: "node-a").currentAttempt)
            let wrongOwner = AttemptRef(planID: attempt.planID, owner: "node-b", attempt: attempt.attempt)
            let wrongAttempt = AttemptRef(planID: attempt.planID, owner: attempt.owner, attempt: attempt.attempt + 1)
            for stale in [wrongOwner, wrongAttempt] {
                await expectStoreError(.attemptNotHeld) { _ = try await store.finish(stale, outcome: PlanOutcome(status: .succeeded), now: t0) }
            }
            await expectStoreError(.planNotFound) {
                _ = try await store.finish(AttemptRef(planID: 999, owner: "node-a", attempt: 1), outcome: PlanOutcome(status: .succeeded), now: t0)
            }
            #expect(try await store.plan(attempt.planID)?.status == .running)
        }
    }

    @Test(arguments: StoreKind.all) func aFinishAfterRecoveryRequeuedThePlanIsRefused(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            try await store.add(spec())
            let lost = try #require(try await store.claimOne(owner: "node-a", at: t0).currentAttempt)
            let recoveries = try await store.recoverExpiredLeases(now: t0.adding(seconds: 61))
            #expect(recoveries.map(\.newStatus) == [.queued])
            await expectStoreError(.attemptNotHeld) {
                _ = try await store.finish(lost, outcome: PlanOutcome(status: .succeeded), now: t0.adding(seconds: 62))
            }
            // Even once another node runs it again, the stale run cannot write.
            let rerun = try await store.claimOne(owner: "node-b", at: t0.adding(seconds: 63))
            #expect(rerun.attempt == 2)
            await expectStoreError(.attemptNotHeld) {
                _ = try await store.finish(lost, outcome: PlanOutcome(status: .failed), now: t0.adding(seconds: 64))
            }
            #expect(try await store.plan(rerun.id)?.owner == "node-b")
            #expect(try await store.plan(rerun.id)?.status == .running)
        }
    }

    @Test(arguments: StoreKind.all) func recoveryNeverOverwritesAFinishedPlan(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            try await store.add(spec())
            let attempt = try #require(try await store.claimOne(at: t0).currentAttempt)
            let finished = try await store.finish(attempt, outcome: PlanOutcome(status: .succeeded, exitCode: 0), now: t0.adding(seconds: 30))
            #expect(try await store.recoverExpiredLeases(now: t0.adding(seconds: 1000)).isEmpty)
            #expect(try await store.plan(finished.id) == finished)
        }
    }

    @Test(arguments: StoreKind.all) func renewedLeasesAreNotRecovered(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            try await store.add(spec())
            try await store.add(spec())
            let mine = try await store.claimOne(owner: "node-a", at: t0)
            let theirs = try await store.claimOne(owner: "node-b", at: t0)
            let attempt = try #require(mine.currentAttempt)
            #expect(try await store.renewLeases([attempt], leaseDuration: .seconds(60), now: t0.adding(seconds: 50)) == [attempt])
            let recoveries = try await store.recoverExpiredLeases(now: t0.adding(seconds: 61))
            #expect(recoveries.map(\.planID) == [theirs.id])
            #expect(try await store.plan(mine.id)?.status == .running)
            #expect(try await store.plan(theirs.id)?.status == .queued)
        }
    }

    @Test(arguments: StoreKind.all) func theNextLeaseExpiryIsTheFirstRunningPlansLeaseEnd(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            #expect(try await store.nextLeaseExpiry() == nil)
            try await store.add(spec())
            try await store.add(spec())
            try await store.add(spec())
            let first = try await store.claimOne(owner: "node-a", at: t0)
            let second = try await store.claimOne(owner: "node-b", at: t0.adding(seconds: 5))
            #expect(try await store.nextLeaseExpiry() == t0.adding(seconds: 60))
            #expect(try await store.renewLeases([try #require(first.currentAttempt)], leaseDuration: .seconds(60),
                                                now: t0.adding(seconds: 10)).count == 1)
            #expect(try await store.nextLeaseExpiry() == t0.adding(seconds: 65), "the other plan's lease now ends first")
            _ = try await store.finish(try #require(second.currentAttempt), outcome: PlanOutcome(status: .succeeded, exitCode: 0),
                                       now: t0.adding(seconds: 11))
            #expect(try await store.nextLeaseExpiry() == t0.adding(seconds: 70), "an ended plan holds no lease")
        }
    }

    @Test(arguments: StoreKind.all) func recoveryRequeuesAtTheOriginalPlaceInLine(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            let first = try await store.add(spec(priority: 3))
            _ = try await store.claimOne(owner: "node-a", at: t0)
            let later = try await store.add(spec(priority: 3), at: t0.adding(seconds: 1))
            let recovered = try await store.recoverExpiredLeases(now: t0.adding(seconds: 61))
            #expect(recovered.map(\.planID) == [first.id])
            let plan = try #require(try await store.plan(first.id))
            #expect(plan.priority == 3)
            #expect(plan.recoveries == 1)
            #expect(plan.countedAttempts == 0, "a recovery does not use up an attempt")
            #expect(try await store.claimOne(owner: "node-b", at: t0.adding(seconds: 62)).id == first.id, "ahead of the plan enqueued after it")
            _ = later
            let event = try #require(try await store.events(of: first.id).first { $0.kind == .heartbeatLost })
            #expect(event.toStatus == .queued)
            #expect(event.actor == "recovery")
        }
    }

    @Test(arguments: StoreKind.all) func aHeartbeatNamingAStaleRunRenewsNothing(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            try await store.add(spec())
            let stale = try #require(try await store.claimOne(owner: "node-a", at: t0).currentAttempt)
            _ = try await store.recoverExpiredLeases(now: t0.adding(seconds: 61))
            let current = try #require(try await store.claimOne(owner: "node-a", at: t0.adding(seconds: 62)).currentAttempt)
            // Same owner, same plan: only the run that holds it now is renewed.
            let held = try await store.renewLeases([stale, current], leaseDuration: .seconds(60), now: t0.adding(seconds: 70))
            #expect(held == [current])
            #expect(try await store.plan(current.planID)?.leaseExpiresAt == t0.adding(seconds: 130))
        }
    }

    @Test(arguments: StoreKind.all) func aPlanRecoveredTooOftenFailsAsOrphaned(_ kind: StoreKind) async throws {
        try await withStore(kind, { $0.maxRecoveries = 3 }) { store throws in
            let plan = try await store.add(spec())
            var now = t0
            for round in 1...3 {
                _ = try await store.claimOne(at: now)
                now = now.adding(seconds: 61)
                #expect(try await store.recoverExpiredLeases(now: now).map(\.newStatus) == [.queued], "recovery \(round)")
            }
            _ = try await store.claimOne(at: now)
            now = now.adding(seconds: 61)
            #expect(try await store.recoverExpiredLeases(now: now).map(\.newStatus) == [.failed])
            let orphaned = try #require(try await store.plan(plan.id))
            #expect(orphaned.status == .failed)
            #expect(orphaned.error?.kind == .orphaned)
            #expect(orphaned.attempt == 4)
            #expect(orphaned.finishedAt == now)
        }
    }

    @Test(arguments: StoreKind.all) func aRecoveredPlanWithAPendingCancelEndsCanceled(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            let plan = try await store.add(spec())
            _ = try await store.claimOne(at: t0)
            _ = try await store.cancel(plan.id, actor: "ops", now: t0.adding(seconds: 1))
            #expect(try await store.recoverExpiredLeases(now: t0.adding(seconds: 61)).map(\.newStatus) == [.canceled])
            #expect(try await store.plan(plan.id)?.status == .canceled)
        }
    }

    @Test(arguments: StoreKind.all) func cancelStopsAWaitingPlanAtOnce(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            let queued = try await store.add(spec())
            let scheduled = try await store.add(spec { $0.runAfter = t0.adding(seconds: 600) })
            for plan in [queued, scheduled] {
                let result = try await store.cancel(plan.id, actor: "ops", now: t0.adding(seconds: 1))
                guard case .canceled(let canceled) = result else {
                    Issue.record("expected canceled, got \(result)")
                    continue
                }
                #expect(canceled.status == .canceled)
                #expect(canceled.error?.kind == .canceled)
                #expect(canceled.finishedAt == t0.adding(seconds: 1))
                let event = try #require(try await store.events(of: plan.id).last)
                #expect(event.kind == .canceled)
                #expect(event.fromStatus == plan.status)
                #expect(event.actor == "ops")
            }
            #expect(try await store.claim(limit: 10, owner: "a", leaseDuration: .seconds(60), now: t0).isEmpty)
            #expect(try await store.promoteDueScheduled(now: t0.adding(seconds: 700)).isEmpty)
            await expectStoreError(.planNotFound) { _ = try await store.cancel(12345, actor: "ops", now: t0) }
        }
    }

    @Test(arguments: StoreKind.all) func cancelOfARunningPlanAsksItsOrchestrator(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            try await store.add(spec())
            let plan = try await store.claimOne()
            let result = try await store.cancel(plan.id, actor: "ops", now: t0)
            guard case .cancelRequested(let flagged) = result else {
                Issue.record("expected cancelRequested, got \(result)")
                return
            }
            #expect(flagged.status == .running)
            #expect(flagged.cancelRequested)
            // Asking again changes nothing and logs nothing new.
            #expect(try await store.cancel(plan.id, actor: "ops", now: t0).plan.cancelRequested)
            #expect(try await store.events(of: plan.id).filter { $0.kind == .cancelRequested }.count == 1)
            let canceled = try await store.finish(try #require(plan.currentAttempt), outcome: PlanOutcome(
                status: .canceled, signal: 15, error: PlanFailure(kind: .canceled, message: "canceled by ops")
            ), now: t0.adding(seconds: 1))
            #expect(canceled.status == .canceled)
        }
    }

    @Test(arguments: StoreKind.all) func aRetryWithBackoffIsScheduledAndKeepsTheFailedRun(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            let plan = try await store.add(spec { $0.maxAttempts = 3 })
            let attempt = try #require(try await store.claimOne(at: t0).currentAttempt)
            let failedRun = PlanOutcome(status: .failed, exitCode: 1, durationMs: 40, error: PlanFailure(kind: .nonzeroExit, message: "exit 1"))
            let retried = try await store.requeue(attempt, .retry(failedRun: failedRun, runAt: t0.adding(seconds: 10)), now: t0.adding(seconds: 1))
            #expect(retried.status == .scheduled)
            #expect(retried.runAfter == t0.adding(seconds: 10))
            #expect(retried.exitCode == 1)
            #expect(retried.error?.kind == .nonzeroExit)
            #expect(retried.countedAttempts == 1)
            #expect(retried.hasAttemptsLeft)
            #expect(try await store.claim(limit: 1, owner: "a", leaseDuration: .seconds(60), now: t0.adding(seconds: 5)).isEmpty)
            #expect(try await store.promoteDueScheduled(now: t0.adding(seconds: 10)).map(\.id) == [plan.id])
            let second = try await store.claimOne(at: t0.adding(seconds: 11))
            #expect(second.attempt == 2)
            #expect(second.exitCode == nil, "a new run starts with a clean outcome")
            #expect(second.error == nil)
            let event = try #require(try await store.events(of: plan.id).first { $0.kind == .requeued })
            #expect(event.detail == "retry after failed (nonzero_exit)")
            #expect(event.toStatus == .scheduled)
        }
    }

    @Test(arguments: StoreKind.all) func retriesAreOnlyForFailedRunsWithAttemptsLeft(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            try await store.add(spec { $0.maxAttempts = 2 })
            let first = try #require(try await store.claimOne().currentAttempt)
            for status in [PlanStatus.succeeded, .canceled] {
                await expectStoreError(.retryRefused) {
                    _ = try await store.requeue(first, .retry(failedRun: PlanOutcome(status: status), runAt: t0), now: t0)
                }
            }
            _ = try await store.requeue(first, .retry(failedRun: PlanOutcome(status: .failed), runAt: t0), now: t0)
            let second = try #require(try await store.claimOne().currentAttempt)
            await expectStoreError(.retryRefused) {
                _ = try await store.requeue(second, .retry(failedRun: PlanOutcome(status: .failed), runAt: t0), now: t0)
            }
            #expect(try await store.plan(second.planID)?.status == .running, "a refused retry changes nothing")
        }
    }

    @Test(arguments: StoreKind.all) func aRetryDueNowIsQueued(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            try await store.add(spec { $0.maxAttempts = 2 })
            let attempt = try #require(try await store.claimOne().currentAttempt)
            let retried = try await store.requeue(attempt, .retry(failedRun: PlanOutcome(status: .timedOut), runAt: t0), now: t0)
            #expect(retried.status == .queued)
        }
    }

    @Test(arguments: StoreKind.all) func aHandBackIsNotCountedAgainstMaxAttempts(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            let plan = try await store.add(spec())
            let attempt = try #require(try await store.claimOne().currentAttempt)
            let handed = try await store.requeue(attempt, .handBack(reason: "orchestrator restarting"), now: t0)
            #expect(handed.status == .queued)
            #expect(handed.handBacks == 1)
            #expect(handed.countedAttempts == 0)
            #expect(handed.hasAttemptsLeft)
            let again = try await store.claimOne()
            #expect(again.id == plan.id)
            #expect(again.attempt == 2, "attempt numbers only grow, so an old run can never pass the guard")
            #expect(try await store.events(of: plan.id).contains { $0.detail == "handed back: orchestrator restarting" })
        }
    }

    @Test(arguments: StoreKind.all) func aRequeueOfAPlanWithAPendingCancelEndsCanceled(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            let plan = try await store.add(spec { $0.maxAttempts = 5 })
            let attempt = try #require(try await store.claimOne().currentAttempt)
            _ = try await store.cancel(plan.id, actor: "ops", now: t0)
            let result = try await store.requeue(attempt, .retry(failedRun: PlanOutcome(status: .failed), runAt: t0), now: t0)
            #expect(result.status == .canceled)
            #expect(result.error?.kind == .canceled)
        }
    }

    @Test(arguments: StoreKind.all) func usageTotalsCountEveryAttempt(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            let plan = try await store.add(spec { $0.maxAttempts = 3 })
            let first = try #require(try await store.claimOne().currentAttempt)
            let failedRun = PlanOutcome(status: .failed, exitCode: 1, usage: PlanUsage(inputTokens: 100, outputTokens: 10, costUSD: 0.25))
            let retried = try await store.requeue(first, .retry(failedRun: failedRun, runAt: t0), now: t0)
            #expect(retried.usage == PlanUsage(inputTokens: 100, outputTokens: 10, costUSD: 0.25))
            let second = try await store.claimOne()
            #expect(second.usage == retried.usage, "a new claim keeps what earlier attempts used")
            let finished = try await store.finish(try #require(second.currentAttempt), outcome: PlanOutcome(
                status: .succeeded, exitCode: 0, durationMs: 5, usage: PlanUsage(inputTokens: 50, outputTokens: 5, costUSD: 0.5)
            ), now: t0)
            #expect(finished.usage == PlanUsage(inputTokens: 150, outputTokens: 15, costUSD: 0.75))
            #expect(try await store.plan(plan.id)?.usage == finished.usage)
            let summary = try await store.runSummary()
            #expect(summary.inputTokens == 150)
            #expect(summary.outputTokens == 15)
            #expect(summary.costUSD == 0.75)
        }
    }
}
