import Foundation
import BatonTestSupport
import Testing
import BatonCore

@Suite struct StoreReadTests {
    @Test(arguments: StoreKind.all) func listingIsNewestFirstAndPagesWithACursor(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            let ids = try await store.enqueueBatch((0..<7).map { spec("t\($0).py") }, now: t0).map(\.plan.id)
            var seen: [Int64] = []
            var cursor: Int64?
            var pages = 0
            repeat {
                let page = try await store.plans(matching: PlanQuery(limit: 3, cursor: cursor))
                seen += page.plans.map(\.id)
                cursor = page.nextCursor
                pages += 1
            } while cursor != nil
            #expect(seen == ids.reversed())
            #expect(pages == 3)
        }
    }

    @Test(arguments: StoreKind.all) func aFullLastPageHasNoCursor(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            _ = try await store.enqueueBatch((0..<4).map { _ in spec() }, now: t0)
            let page = try await store.plans(matching: PlanQuery(limit: 4))
            #expect(page.plans.count == 4)
            #expect(page.nextCursor == nil)
        }
    }

    @Test(arguments: StoreKind.all) func listingFiltersByStatusLabelsAndName(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            let main = try await store.add(spec("suite/api_tests.py") { $0.labels = ["branch": "main", "suite": "api"] })
            let mainUI = try await store.add(spec("suite/ui_tests.py") { $0.labels = ["branch": "main", "suite": "ui"] })
            let feature = try await store.add(spec("suite/api_smoke.py") { $0.labels = ["branch": "feature", "suite": "api"] })
            _ = try await store.claimOne()  // main is now running

            func ids(_ query: PlanQuery) async throws -> [Int64] { try await store.plans(matching: query).plans.map(\.id) }
            #expect(try await ids(PlanQuery(statuses: [.running])) == [main.id])
            #expect(try await ids(PlanQuery(statuses: [.running, .queued])) == [feature.id, mainUI.id, main.id])
            #expect(try await ids(PlanQuery(labels: ["branch": "main"])) == [mainUI.id, main.id])
            #expect(try await ids(PlanQuery(labels: ["branch": "main", "suite": "api"])) == [main.id])
            #expect(try await ids(PlanQuery(labels: ["branch": "nope"])) == [])
            #expect(try await ids(PlanQuery(nameContains: "API")) == [feature.id, main.id])
            #expect(try await ids(PlanQuery(statuses: [.queued], labels: ["suite": "api"], nameContains: "smoke")) == [feature.id])
        }
    }

    @Test(arguments: StoreKind.all) func nameSearchTreatsWildcardsLiterally(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            let literal = try await store.add(spec { $0.name = "100%_done" })
            _ = try await store.add(spec { $0.name = "100 percent done" })
            #expect(try await store.plans(matching: PlanQuery(nameContains: "%_")).plans.map(\.id) == [literal.id])
        }
    }

    @Test(arguments: StoreKind.all) func limitIsClampedToTheMaximum(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            _ = try await store.enqueueBatch((0..<3).map { _ in spec() }, now: t0)
            #expect(try await store.plans(matching: PlanQuery(limit: 0)).plans.count == 1)
            #expect(try await store.plans(matching: PlanQuery(limit: 100_000)).plans.count == 3)
        }
    }

    @Test(arguments: StoreKind.all) func countsByStatus(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            _ = try await store.enqueueBatch((0..<5).map { _ in spec() }, now: t0)
            _ = try await store.add(spec { $0.runAfter = t0.adding(seconds: 60) })
            let running = try await store.claimOne()
            _ = try await store.finish(try #require(running.currentAttempt), outcome: PlanOutcome(status: .succeeded), now: t0)
            _ = try await store.claimOne()
            #expect(try await store.countsByStatus() == [.queued: 3, .running: 1, .succeeded: 1, .scheduled: 1])
        }
    }

    @Test(arguments: StoreKind.all) func outputIsKeptPerStreamUpToTheCap(_ kind: StoreKind) async throws {
        try await withStore(kind, { $0.maxOutputBytes = 10 }) { store throws in
            try await store.add(spec())
            let attempt = try #require(try await store.claimOne().currentAttempt)
            try await store.appendOutput(Array("hello ".utf8), stream: .stdout, for: attempt)
            try await store.appendOutput(Array("world, and more\n".utf8), stream: .stdout, for: attempt)
            try await store.appendOutput(Array("more still".utf8), stream: .stdout, for: attempt)
            try await store.appendOutput(Array("warn\n".utf8), stream: .stderr, for: attempt)
            let stdout = try await store.output(of: attempt.planID, stream: .stdout, attempt: nil)
            #expect(stdout.bytes == Array("hello worl".utf8))
            #expect(stdout.droppedBytes == 22)
            #expect(stdout.text == "hello worl\n[... 22 bytes truncated ...]\n")
            let stderr = try await store.output(of: attempt.planID, stream: .stderr, attempt: nil)
            #expect(stderr.text == "warn\n")
        }
    }

    @Test(arguments: StoreKind.all) func outputPastTheCapIsOnlyCounted(_ kind: StoreKind) async throws {
        try await withStore(kind, { $0.maxOutputBytes = 4 }) { store throws in
            try await store.add(spec())
            let attempt = try #require(try await store.claimOne().currentAttempt)
            for _ in 0..<100 {
                try await store.appendOutput(Array("flood\n".utf8), stream: .stdout, for: attempt)
            }
            let output = try await store.output(of: attempt.planID, stream: .stdout, attempt: nil)
            #expect(output.bytes == Array("floo".utf8))
            #expect(output.droppedBytes == 596)
        }
    }

    @Test(arguments: StoreKind.all) func onlyTheRunHoldingThePlanWritesOutputAndSteps(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            try await store.add(spec())
            let attempt = try #require(try await store.claimOne().currentAttempt)
            _ = try await store.finish(attempt, outcome: PlanOutcome(status: .succeeded), now: t0)
            await expectStoreError(.attemptNotHeld) { try await store.appendOutput([1], stream: .stdout, for: attempt) }
            await expectStoreError(.attemptNotHeld) { try await store.saveSteps([PlanStep(name: "late", status: "success")], for: attempt) }
            await expectStoreError(.planNotFound) {
                try await store.appendOutput([1], stream: .stdout, for: AttemptRef(planID: 999, owner: "a", attempt: 1))
            }
        }
    }

    @Test(arguments: StoreKind.all) func theFinalCaptureReplacesTheLiveOutput(_ kind: StoreKind) async throws {
        try await withStore(kind, { $0.maxOutputBytes = 4 }) { store throws in
            try await store.add(spec())
            let attempt = try #require(try await store.claimOne().currentAttempt)
            try await store.appendOutput(Array("head of a long run\n".utf8), stream: .stdout, for: attempt)
            let capture = Array("head\n[... 100 bytes truncated ...]\ntail\n".utf8)
            try await store.saveOutput(capture, stream: .stdout, for: attempt)
            let output = try await store.output(of: attempt.planID, stream: .stdout, attempt: nil)
            #expect(output.bytes == capture)
            #expect(output.text == "head\n[... 100 bytes truncated ...]\ntail\n", "one notice, where the capture put it")
            _ = try await store.finish(attempt, outcome: PlanOutcome(status: .succeeded), now: t0)
            await expectStoreError(.attemptNotHeld) { try await store.saveOutput([1], stream: .stdout, for: attempt) }
        }
    }

    @Test(arguments: StoreKind.all) func outputIsKeptPerRun(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            try await store.add(spec { $0.maxAttempts = 2 })
            let first = try #require(try await store.claimOne().currentAttempt)
            try await store.appendOutput(Array("run one\n".utf8), stream: .stdout, for: first)
            _ = try await store.requeue(first, .retry(failedRun: PlanOutcome(status: .failed), runAt: t0), now: t0)
            let second = try #require(try await store.claimOne().currentAttempt)
            try await store.appendOutput(Array("run two\n".utf8), stream: .stdout, for: second)
            #expect(try await store.output(of: first.planID, stream: .stdout, attempt: nil).text == "run two\n")
            #expect(try await store.output(of: first.planID, stream: .stdout, attempt: 1).text == "run one\n")
            await expectStoreError(.planNotFound) { _ = try await store.output(of: 999, stream: .stdout, attempt: nil) }
        }
    }

    @Test(arguments: StoreKind.all) func stepsAreSavedAndReplacedPerRun(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            try await store.add(spec())
            let attempt = try #require(try await store.claimOne().currentAttempt)
            let steps = [
                PlanStep(name: "checkout", status: "success", startedAt: t0, finishedAt: t0.adding(seconds: 1), durationMs: 1000,
                         input: try JSONText(validating: #"{"ref": "main"}"#), output: try JSONText(validating: "[1,2]")),
                PlanStep(name: "test", status: "error", error: "2 failed"),
            ]
            try await store.saveSteps([PlanStep(name: "draft", status: "running")], for: attempt)
            try await store.saveSteps(steps, for: attempt)
            #expect(try await store.steps(of: attempt.planID) == steps)
            await expectStoreError(.planNotFound) { _ = try await store.steps(of: 999) }
        }
    }

    @Test(arguments: StoreKind.all) func pruneRemovesOldTerminalPlansWithEverythingTheyOwn(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            try await store.add(spec())
            try await store.add(spec())
            let waiting = try await store.add(spec())
            let old = try #require(try await store.claimOne(at: t0).currentAttempt)
            try await store.appendOutput(Array("x".utf8), stream: .stdout, for: old)
            try await store.saveSteps([PlanStep(name: "s", status: "success")], for: old)
            _ = try await store.finish(old, outcome: PlanOutcome(status: .succeeded), now: t0)
            let recent = try #require(try await store.claimOne(at: t0).currentAttempt)
            _ = try await store.finish(recent, outcome: PlanOutcome(status: .failed), now: t0.adding(seconds: 86_400 * 8))

            #expect(try await store.prune(finishedBefore: t0.adding(seconds: 86_400)) == 1)
            #expect(try await store.plan(old.planID) == nil)
            #expect(try await store.plan(recent.planID) != nil)
            #expect(try await store.plan(waiting.id) != nil, "unfinished plans are never pruned")
            #expect(try await store.events(of: old.planID).isEmpty)
            await expectStoreError(.planNotFound) { _ = try await store.output(of: old.planID, stream: .stdout, attempt: 1) }
            await expectStoreError(.planNotFound) { _ = try await store.steps(of: old.planID) }
        }
    }

    @Test(arguments: StoreKind.all) func pruneWorksThroughManyChunks(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            for _ in 0..<2 { _ = try await store.enqueueBatch((0..<600).map { _ in spec() }, now: t0) }
            let claimed = try await store.claim(limit: 1200, owner: "a", leaseDuration: .seconds(60), now: t0)
            for plan in claimed {
                _ = try await store.finish(try #require(plan.currentAttempt), outcome: PlanOutcome(status: .succeeded), now: t0)
            }
            #expect(try await store.prune(finishedBefore: t0.adding(seconds: 1)) == 1200)
            #expect(try await store.countsByStatus().isEmpty)
        }
    }
}
