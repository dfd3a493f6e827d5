@testable import BatonCore
import BatonTestSupport
import Foundation
import Testing

@Suite struct WorkerPoolTests {
    /// A plan that appends "start <time>" and "end <time>" lines to a shared file (O_APPEND, so
    /// lines from concurrent children never interleave) and sleeps between them.
    static let recorder = """
        import os, sys, time
        def mark(what):
            fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.write(fd, f"{what} {os.environ['BATON_PLAN_ID']} {time.monotonic_ns()}\\n".encode())
            os.close(fd)
        mark("start")
        time.sleep(0.2)
        mark("end")

        """

    @Test(arguments: [1, 2, 3])
    func neverMoreChildrenThanSlots(slots: Int) async throws {
        let fixture = try await RunnerFixture()
        try fixture.script("record.py", Self.recorder)
        let log = fixture.workspace.file("overlap.log")
        let (freed, freedSlots) = AsyncStream.makeStream(of: Void.self)
        let pool = WorkerPool(slots: slots, runner: fixture.runner, slotFreed: freedSlots)
        let service = Task { await pool.run() }

        let total = 9
        var waiting = (1...total).map { id -> Plan in
            var plan = QueueRules.enqueuing(PlanSpec(entryPoint: .script("record.py"), args: [log]), policy: QueuePolicy(), now: t0).plan
            plan.id = Int64(id)
            return plan
        }
        let finished = Locked<[Int64: PlanStatus]>([:])
        var freedIterator = freed.makeAsyncIterator()
        var maxBusy = 0
        while !waiting.isEmpty {
            // Offer every waiting plan; the pool takes what fits and refuses the rest.
            var refused: [Plan] = []
            for plan in waiting {
                let taken = await pool.start(plan, attempt: 1) { report in
                    finished.withLock { $0[plan.id] = report.outcome.status }
                }
                if !taken { refused.append(plan) }
            }
            maxBusy = max(maxBusy, await pool.busy)
            #expect(waiting.count - refused.count <= slots, "a round never takes more plans than there are slots")
            waiting = refused
            if !waiting.isEmpty { _ = await freedIterator.next() }
        }
        #expect(await eventually { finished.withLock { $0.count } == total })
        service.cancel()
        await service.value

        #expect(finished.withLock { $0.values.allSatisfy { $0 == .succeeded } })
        #expect(maxBusy == slots, "every slot was taken while plans waited")
        // The children's own clocks: at no instant were more than `slots` of them running.
        let marks = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map { line in
            let parts = line.split(separator: " ")
            return (kind: String(parts[0]), at: UInt64(parts[2])!)
        }
        #expect(marks.count == 2 * total)
        var running = 0
        var peak = 0
        for mark in marks.sorted(by: { ($0.at, $0.kind == "end" ? 0 : 1) < ($1.at, $1.kind == "end" ? 0 : 1) }) {
            running += mark.kind == "start" ? 1 : -1
            peak = max(peak, running)
        }
        #expect(peak <= slots, "\(peak) children overlapped with \(slots) slots")
    }

    @Test func busyTotalAndRunningIDsAreReported() async throws {
        let fixture = try await RunnerFixture(grace: .milliseconds(200))
        try fixture.script("wait.py", "import time\nprint('up', flush=True)\ntime.sleep(600)\n")
        let pool = WorkerPool(slots: 2, runner: fixture.runner)
        let service = Task { await pool.run() }
        let started = AsyncStream.makeStream(of: Int64.self)
        let reports = Locked<[Int64: RunReport]>([:])
        for id: Int64 in [5, 3] {
            var plan = QueueRules.enqueuing(PlanSpec(entryPoint: .script("wait.py"), timeoutSeconds: 600), policy: QueuePolicy(), now: t0).plan
            plan.id = id
            let taken = await pool.start(plan, attempt: 1, events: { event in
                if case .output = event { started.continuation.yield(id) }
            }, onFinish: { report in reports.withLock { $0[id] = report } })
            #expect(taken)
        }
        var iterator = started.stream.makeAsyncIterator()
        _ = await iterator.next()
        _ = await iterator.next()
        #expect(pool.slots == 2)
        #expect(await pool.busy == 2)
        #expect(await pool.free == 0)
        #expect(await pool.runningPlanIDs == [3, 5])

        var extra = QueueRules.enqueuing(PlanSpec(entryPoint: .script("wait.py")), policy: QueuePolicy(), now: t0).plan
        extra.id = 9
        #expect(await pool.start(extra, attempt: 1) { _ in } == false, "no slot is free")

        #expect(await pool.cancel(planID: 5, reason: "canceled by ops"))
        #expect(await pool.cancel(planID: 404, reason: "nobody") == false)
        #expect(await eventually { reports.withLock { $0[5] } != nil })
        #expect(reports.withLock { $0[5]?.outcome.status } == .canceled)
        #expect(await eventually { await pool.runningPlanIDs == [3] })

        // Shutdown stops the rest and waits for their reports.
        service.cancel()
        await service.value
        #expect(reports.withLock { $0[3]?.termination } == .shutdown)
        #expect(await pool.busy == 0)
    }
}

extension WorkerPoolTests {
    @Test func aPoolThatHasShutDownRefusesWork() async throws {
        let fixture = try await RunnerFixture()
        let pool = WorkerPool(slots: 2, runner: fixture.runner)
        let service = Task { await pool.run() }
        try await Task.sleep(for: .milliseconds(50))
        service.cancel()
        await service.value
        var plan = QueueRules.enqueuing(PlanSpec(entryPoint: .code("print(1)")), policy: QueuePolicy(), now: t0).plan
        plan.id = 1
        #expect(await pool.start(plan, attempt: 1) { _ in } == false)
        #expect(await pool.busy == 0, "no slot is held by a run that will never happen")
    }
}
