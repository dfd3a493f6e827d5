@testable import BatonCore
import BatonTestSupport
import BatonSQLite
import Foundation
import Testing

/// Which plans run, in which order, and when.
@Suite struct OrchestratorSchedulingTests {
    @Test func withOneWorkerPlansStartByPriorityThenAge() async throws {
        try await OrchestratorFixture.with(workers: 1) { fixture in
            try fixture.recorder()
            await fixture.orchestrator.pause()
            var ids: [Int64] = []
            for priority in [5, 9, 0, 5, 3, 0, 9, 3] {
                ids.append(try await fixture.enqueue(PlanSpec(entryPoint: .script("record.py"), args: [fixture.log], priority: priority)).id)
            }
            #expect(try await fixture.store.countsByStatus() == [.queued: 8], "nothing was claimed while paused")
            await fixture.orchestrator.resume()
            for id in ids { #expect(await fixture.waitFor(id, .succeeded) != nil) }

            let starts = fixture.logLines().filter { $0.hasPrefix("start") }.compactMap { Int64($0.split(separator: " ")[1]) }
            // Priority 0 first, oldest first within a priority.
            let expected = [ids[2], ids[5], ids[4], ids[7], ids[0], ids[3], ids[1], ids[6]]
            #expect(starts == expected)
            #expect(fixture.logLines().count == 16)
            #expect(fixture.logLines().enumerated().allSatisfy { $0.element.hasPrefix($0.offset % 2 == 0 ? "start" : "end") }, "one at a time")
        }
    }

    @Test func neverMoreRunsThanWorkers() async throws {
        try await OrchestratorFixture.with(workers: 2) { fixture in
            try fixture.recorder(seconds: 0.2)
            let ids = try await (0..<8).asyncMap { _ in try await fixture.enqueue(PlanSpec(entryPoint: .script("record.py"), args: [fixture.log])).id }
            for id in ids { #expect(await fixture.waitFor(id, .succeeded) != nil) }
            var running = 0
            var peak = 0
            for line in fixture.logLines() {
                running += line.hasPrefix("start") ? 1 : -1
                peak = max(peak, running)
            }
            #expect(peak <= 2)
        }
    }

    @Test func anInProcessEnqueueStartsWithoutWaitingForATick() async throws {
        let clock = ManualClock()
        try await OrchestratorFixture.with(workers: 1, pollInterval: .seconds(5), pollClock: clock) { fixture in
            #expect(await eventually { clock.sleeperCount == OrchestratorFixture.idleSleepers }, "the timer waits for its tick")
            let plan = try await fixture.enqueue(PlanSpec(entryPoint: .code("print('hi')")))
            #expect(await fixture.waitFor(plan.id, .succeeded) != nil)
            #expect(clock.now == ManualClock.Instant(offset: .zero), "the clock never moved")
            // A freed slot also starts the next plan at once.
            try fixture.recorder(seconds: 0.3)
            let first = try await fixture.enqueue(PlanSpec(entryPoint: .script("record.py"), args: [fixture.log]))
            let second = try await fixture.enqueue(PlanSpec(entryPoint: .script("record.py"), args: [fixture.log]))
            #expect(await fixture.waitFor(second.id, .succeeded) != nil)
            #expect(try await fixture.store.plan(first.id)?.status == .succeeded)
            #expect(clock.now == ManualClock.Instant(offset: .zero))
        }
    }

    @Test func aPlanWrittenByAnotherProcessStartsOnTheNextTickOrAtOnceOnPoll() async throws {
        let clock = ManualClock()
        try await OrchestratorFixture.with(workers: 1, pollInterval: .seconds(5), pollClock: clock) { fixture in
            let other = try await SQLitePlanStore(configuration: .init(path: fixture.directory + "/baton.sqlite"), logger: quietLogger)
            defer { Task { await other.close() } }

            let ticked = try await other.enqueue(PlanSpec(entryPoint: .code("print(1)")), now: Date()).plan
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await fixture.store.plan(ticked.id)?.status == .queued, "nobody told this process")
            #expect(await eventually { clock.sleeperCount == OrchestratorFixture.idleSleepers })
            clock.advance(by: .seconds(6))
            let finished = try #require(await fixture.waitFor(ticked.id, .succeeded), "the next tick found it")
            // The freed slot's wake-up runs a cycle of its own; once it has, only poll() can claim.
            let finishedAt = try #require(finished.finishedAt)
            #expect(await eventually { ((try? await fixture.orchestrator.status().lastPollAt) ?? .distantPast) >= finishedAt })

            let polled = try await other.enqueue(PlanSpec(entryPoint: .code("print(2)")), now: Date()).plan
            let report = try await fixture.orchestrator.poll()
            #expect(report.claimed == [polled.id])
            #expect(report.state == .running)
            #expect(await fixture.waitFor(polled.id, .succeeded) != nil)
        }
    }

    @Test func pauseStopsClaimingAndResumeStartsAgain() async throws {
        try await OrchestratorFixture.with(workers: 1) { fixture in
            #expect(await fixture.orchestrator.pause() == .paused)
            let plan = try await fixture.enqueue(PlanSpec(entryPoint: .code("print(1)")))
            let report = try await fixture.orchestrator.poll()
            #expect(report.claimed.isEmpty)
            #expect(report.state == .paused)
            #expect(try await fixture.orchestrator.status().state == .paused)
            #expect(try await fixture.store.plan(plan.id)?.status == .queued)
            #expect(await fixture.orchestrator.resume() == .running)
            #expect(await fixture.waitFor(plan.id, .succeeded) != nil)
        }
    }

    @Test func aScheduledPlanRunsWhenDue() async throws {
        try await OrchestratorFixture.with(workers: 1, pollInterval: .milliseconds(200)) { fixture in
            let plan = try await fixture.enqueue(PlanSpec(entryPoint: .code("print(1)"), runAfter: Date().addingTimeInterval(3)))
            #expect(plan.status == .scheduled)
            #expect(await fixture.waitFor(plan.id, .succeeded) != nil)
            let events = try await fixture.store.events(of: plan.id).map(\.kind)
            #expect(events.starts(with: [.enqueued, .promoted, .claimed]))
        }
    }

    @Test func outputReachesTheBusLiveAndTheStoreAtTheEnd() async throws {
        try await OrchestratorFixture.with(workers: 1) { fixture in
            try fixture.script("talk.py", "import sys\nfor i in range(3):\n    print('line', i, flush=True)\nprint('oops', file=sys.stderr)\n")
            let notices = fixture.bus.subscribe()
            let plan = try await fixture.enqueue(PlanSpec(entryPoint: .script("talk.py")))
            var seen: [PlanEventNotice] = []
            for await notice in notices where notice.planID == plan.id {
                seen.append(notice)
                if case .end = notice { break }
            }
            let stdout = seen.compactMap { notice -> String? in
                if case .output(_, _, .stdout, _, let bytes) = notice { return String(decoding: bytes, as: UTF8.self) }
                return nil
            }.joined()
            #expect(stdout == "line 0\nline 1\nline 2\n")
            #expect(seen.prefix(2) == [.status(planID: plan.id, status: .queued, attempt: 0), .status(planID: plan.id, status: .running, attempt: 1)])
            #expect(seen.last == .end(planID: plan.id, status: .succeeded))
            #expect(try await fixture.store.output(of: plan.id, stream: .stdout, attempt: nil).text == "line 0\nline 1\nline 2\n")
            #expect(try await fixture.store.output(of: plan.id, stream: .stderr, attempt: nil).text == "oops\n")
            let events = try await fixture.store.events(of: plan.id).map(\.kind)
            #expect(events == [.enqueued, .claimed, .started, .finished])
        }
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
