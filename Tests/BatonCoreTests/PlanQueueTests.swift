@testable import BatonCore
import BatonSQLite
import BatonTestSupport
import Foundation
import MetricsTestKit
import Testing

/// What follows each kind of queue change, whatever caused it: the live feed's notices, the
/// metrics and the orchestrators' signals — published by ``PlanQueue`` after the store's commit.
@Suite struct PlanQueueTests {
    @Test func anEnqueueAnnouncesTheQueuedPlanAndWakesOrchestrators() async throws {
        try await QueueUnderTest.with { subject in
            let plan = try await subject.queue.enqueue(spec(), now: t0).plan
            let published = await subject.published()
            #expect(published.notices == [.status(planID: plan.id, status: .queued, attempt: 0)])
            #expect(published.signals == [.plansAvailable])
            #expect(try subject.counter("baton_plans_enqueued_total") == 1)

            // The same idempotency key again: nothing new, so nothing to announce.
            let keyed = try await subject.queue.enqueue(spec { $0.idempotencyKey = "build-7" }, now: t0).plan
            _ = await subject.published()
            let again = try await subject.queue.enqueue(spec { $0.idempotencyKey = "build-7" }, now: t0)
            #expect(again.created == false && again.plan.id == keyed.id)
            #expect(await subject.published().isEmpty)
            #expect(try subject.counter("baton_plans_enqueued_total") == 2)
        }
    }

    @Test func aScheduledPlanIsAnnouncedButWakesNobodyUntilItIsPromoted() async throws {
        try await QueueUnderTest.with { subject in
            let plan = try await subject.queue.enqueue(spec { $0.runAfter = t0.adding(seconds: 60) }, now: t0).plan
            let enqueued = await subject.published()
            #expect(enqueued.notices == [.status(planID: plan.id, status: .scheduled, attempt: 0)])
            #expect(enqueued.signals.isEmpty)

            #expect(try await subject.queue.promoteDueScheduled(now: t0.adding(seconds: 30)).isEmpty)
            #expect(await subject.published().isEmpty)
            #expect(try await subject.queue.promoteDueScheduled(now: t0.adding(seconds: 60)).map(\.id) == [plan.id])
            let promoted = await subject.published()
            #expect(promoted.notices == [.status(planID: plan.id, status: .queued, attempt: 0)])
            #expect(promoted.signals == [.plansAvailable])
        }
    }

    @Test func aBatchAnnouncesEveryPlanAndWakesOnce() async throws {
        try await QueueUnderTest.with { subject in
            let plans = try await subject.queue.enqueueBatch([spec(), spec(), spec { $0.runAfter = t0.adding(seconds: 60) }], now: t0).map(\.plan)
            let published = await subject.published()
            #expect(published.notices == [
                .status(planID: plans[0].id, status: .queued, attempt: 0),
                .status(planID: plans[1].id, status: .queued, attempt: 0),
                .status(planID: plans[2].id, status: .scheduled, attempt: 0),
            ])
            #expect(published.signals == [.plansAvailable])
            #expect(try subject.counter("baton_plans_enqueued_total") == 3)
        }
    }

    @Test func aClaimAnnouncesTheRunAndMeasuresDispatchOnce() async throws {
        try await QueueUnderTest.with { subject in
            let plan = try await subject.queue.enqueue(spec { $0.maxAttempts = 2 }, now: t0).plan
            _ = await subject.published()
            let claimed = try await subject.queue.claim(limit: 5, owner: "node-a", leaseDuration: .seconds(60), now: t0.adding(seconds: 2))
            #expect(claimed.map(\.id) == [plan.id])
            let published = await subject.published()
            #expect(published.notices == [.status(planID: plan.id, status: .running, attempt: 1)])
            #expect(published.signals.isEmpty)
            #expect(try subject.metrics.expectTimer("baton_dispatch_latency_seconds").values == [2_000_000_000])

            // A second attempt is not a dispatch: its wait was the retry's backoff.
            let attempt = try #require(claimed.first?.currentAttempt)
            _ = try await subject.queue.requeue(attempt, .retry(failedRun: PlanOutcome(status: .failed), runAt: t0), now: t0.adding(seconds: 3))
            _ = try await subject.queue.claim(limit: 5, owner: "node-a", leaseDuration: .seconds(60), now: t0.adding(seconds: 9))
            #expect(try subject.metrics.expectTimer("baton_dispatch_latency_seconds").values.count == 1)
        }
    }

    @Test func aFinishedRunSendsItsResultStatusAndEnd() async throws {
        try await QueueUnderTest.with { subject in
            let plan = try await subject.running()
            let result = try JSONText(validating: #"{"status": "success"}"#)
            _ = try await subject.queue.finish(plan.attempt, outcome: PlanOutcome(status: .succeeded, exitCode: 0, durationMs: 1500, result: result), now: t0)
            let published = await subject.published()
            #expect(published.notices == [
                .result(planID: plan.id, result: result, error: nil),
                .status(planID: plan.id, status: .succeeded, attempt: 1),
                .end(planID: plan.id, status: .succeeded),
            ])
            #expect(published.signals.isEmpty)
            #expect(try subject.counter("baton_plans_finished_total", status: .succeeded) == 1)
            #expect(try subject.metrics.expectTimer("baton_plan_run_duration_seconds").values == [1_500_000_000])
        }
    }

    @Test func aRetrySendsTheFailedRunsResultAndWakesOrchestrators() async throws {
        try await QueueUnderTest.with { subject in
            let plan = try await subject.running { $0.maxAttempts = 2 }
            let failure = PlanFailure(kind: .nonzeroExit, message: "exited with status 1")
            _ = try await subject.queue.requeue(plan.attempt, .retry(failedRun: PlanOutcome(status: .failed, exitCode: 1, error: failure), runAt: t0), now: t0)
            let published = await subject.published()
            #expect(published.notices == [
                .result(planID: plan.id, result: nil, error: failure),
                .status(planID: plan.id, status: .queued, attempt: 1),
            ])
            #expect(published.signals == [.plansAvailable])
            #expect(try subject.counter("baton_plans_finished_total", status: .failed) == 0, "not finished: it runs again")
        }
    }

    @Test func aHandBackRequeuesWithoutAResult() async throws {
        try await QueueUnderTest.with { subject in
            let plan = try await subject.running()
            _ = try await subject.queue.requeue(plan.attempt, .handBack(reason: "the orchestrator restarted"), now: t0)
            let published = await subject.published()
            #expect(published.notices == [.status(planID: plan.id, status: .queued, attempt: 1)])
            #expect(published.signals == [.plansAvailable])
        }
    }

    @Test func aHandBackOfAPlanWithAPendingCancelEndsIt() async throws {
        try await QueueUnderTest.with { subject in
            let plan = try await subject.running()
            _ = try await subject.queue.cancel(plan.id, actor: "ops", now: t0)
            _ = await subject.published()
            _ = try await subject.queue.requeue(plan.attempt, .handBack(reason: "the orchestrator restarted"), now: t0)
            let published = await subject.published()
            #expect(published.notices == [.status(planID: plan.id, status: .canceled, attempt: 1), .end(planID: plan.id, status: .canceled)])
            #expect(published.signals.isEmpty, "nothing to claim")
            #expect(try subject.counter("baton_plans_finished_total", status: .canceled) == 1)
        }
    }

    @Test func aCancelEndsAWaitingPlanAndAsksForARunningOneToStop() async throws {
        try await QueueUnderTest.with { subject in
            let waiting = try await subject.queue.enqueue(spec(), now: t0).plan
            _ = await subject.published()
            _ = try await subject.queue.cancel(waiting.id, actor: "ops", now: t0)
            let canceled = await subject.published()
            #expect(canceled.notices == [.status(planID: waiting.id, status: .canceled, attempt: 0), .end(planID: waiting.id, status: .canceled)])
            #expect(canceled.signals.isEmpty)
            #expect(try subject.counter("baton_plans_finished_total", status: .canceled) == 1)

            let running = try await subject.running()
            _ = try await subject.queue.cancel(running.id, actor: "ops", now: t0)
            let requested = await subject.published()
            #expect(requested.notices.isEmpty, "still running until its node stops it")
            #expect(requested.signals == [.cancelRequested(planID: running.id, actor: "ops")])
        }
    }

    @Test func aRecoveredPlanIsRequeuedAndAnOrphanedOneEnds() async throws {
        try await QueueUnderTest.with({ $0.maxRecoveries = 1 }) { subject in
            let plan = try await subject.queue.enqueue(spec(), now: t0).plan
            var now = t0
            for round in 1...2 {
                _ = try await subject.queue.claim(limit: 1, owner: "dead-node/\(round)/x/g1", leaseDuration: .seconds(1), now: now)
                now = now.adding(seconds: 2)
                _ = await subject.published()
                let recoveries = try await subject.queue.recoverExpiredLeases(now: now) { _, _ in }
                #expect(recoveries.map(\.planID) == [plan.id])
            }
            // Round 1 requeued it; round 2 found it recovered once already and failed it.
            #expect(try await subject.store.plan(plan.id)?.error?.kind == .orphaned)
            let published = await subject.published()
            #expect(published.notices == [.status(planID: plan.id, status: .failed, attempt: 2), .end(planID: plan.id, status: .failed)])
            #expect(published.signals.isEmpty)
            #expect(try subject.counter("baton_plans_finished_total", status: .failed) == 1)
        }
    }

    @Test func aRecoveryToTheQueueWakesOrchestrators() async throws {
        try await QueueUnderTest.with { subject in
            let plan = try await subject.queue.enqueue(spec(), now: t0).plan
            _ = try await subject.queue.claim(limit: 1, owner: "dead-node/1/x/g1", leaseDuration: .seconds(1), now: t0)
            _ = await subject.published()
            _ = try await subject.queue.recoverExpiredLeases(now: t0.adding(seconds: 2)) { _, _ in }
            let published = await subject.published()
            #expect(published.notices == [.status(planID: plan.id, status: .queued, attempt: 1)])
            #expect(published.signals == [.plansAvailable])
        }
    }
}

/// A ``PlanQueue`` on a fresh SQLite file, with what it publishes recorded.
private struct QueueUnderTest {
    let store: SQLitePlanStore
    let queue: PlanQueue
    let metrics: TestMetrics
    private let notices: AsyncStream<PlanEventNotice>
    private let signals: AsyncStream<QueueSignal>

    /// A plan id no real plan has, marking the end of what was published so far.
    private static let marker: Int64 = -1

    struct Published: Equatable {
        var notices: [PlanEventNotice] = []
        var signals: [QueueSignal] = []
        var isEmpty: Bool { notices.isEmpty && signals.isEmpty }
    }

    static func with(_ configure: (inout QueuePolicy) -> Void = { _ in }, _ body: (QueueUnderTest) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        var configuration = SQLitePlanStore.Configuration(path: directory.file("baton.sqlite"))
        configure(&configuration.policy)
        let store = try await SQLitePlanStore(configuration: configuration, logger: quietLogger)
        let metrics = TestMetrics()
        let queue = PlanQueue(store: store, metrics: BatonMetrics(factory: metrics), logger: quietLogger)
        let subject = QueueUnderTest(store: store, queue: queue, metrics: metrics,
                                     notices: queue.bus.subscribe(), signals: queue.notifier.signals())
        do {
            try await body(subject)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }

    /// What was published since the last call, in order.
    func published() async -> Published {
        queue.bus.publish(.end(planID: Self.marker, status: .canceled))
        queue.notifier.send(.cancelRequested(planID: Self.marker, actor: "marker"))
        var published = Published()
        for await notice in notices {
            if notice.planID == Self.marker { break }
            published.notices.append(notice)
        }
        for await signal in signals {
            if signal == .cancelRequested(planID: Self.marker, actor: "marker") { break }
            published.signals.append(signal)
        }
        return published
    }

    /// A plan claimed by `node-a`, with what that published already taken.
    func running(_ configure: (inout PlanSpec) -> Void = { _ in }) async throws -> (id: Int64, attempt: AttemptRef) {
        let plan = try await queue.enqueue(spec("tests/run.py", configure), now: t0).plan
        let claimed = try await queue.claim(limit: 1, owner: "node-a", leaseDuration: .seconds(60), now: t0)
        _ = await published()
        return (plan.id, try #require(claimed.first { $0.id == plan.id }?.currentAttempt))
    }

    func counter(_ label: String, status: PlanStatus? = nil) throws -> Int64 {
        try metrics.expectCounter(label, status.map { [("status", $0.rawValue)] } ?? []).totalValue
    }
}
