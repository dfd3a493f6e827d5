@testable import BatonCore
import BatonTestSupport
import BatonSQLite
import Foundation
import Testing

/// Leases, retries, cycle errors: what keeps plans moving when something goes wrong.
@Suite struct OrchestratorRecoveryTests {
    @Test func plansOfAnOwnerThatStoppedHeartbeatingRunAgain() async throws {
        // This node's own lease is the default: on a loaded machine a one-second lease could run out
        // under its own reruns too.
        try await OrchestratorFixture.with(workers: 2, pollInterval: .milliseconds(200)) { fixture in
            await fixture.orchestrator.pause()
            // A dead node: it claimed two plans, with a one-second lease, and then vanished.
            for _ in 0..<2 { try await fixture.enqueue(PlanSpec(entryPoint: .code("print('rerun')"))) }
            let orphans = try await fixture.store.claim(limit: 2, owner: "dead-node/1/x/g1", leaseDuration: .seconds(1), now: Date())
            #expect(orphans.count == 2)
            await fixture.orchestrator.resume()
            for orphan in orphans {
                let plan = await fixture.waitFor(orphan.id, .succeeded)
                #expect(plan?.attempt == 2)
                #expect(plan?.recoveries == 1)
                #expect(try await fixture.store.events(of: orphan.id).contains { $0.kind == .heartbeatLost })
            }
        }
    }

    @Test func aRunningPlanKeepsItsLeaseThroughHeartbeats() async throws {
        try await OrchestratorFixture.with(workers: 1, pollInterval: .milliseconds(200), lease: .seconds(9)) { fixture in
            // Runs longer than its lease; without heartbeats it would be recovered and rerun. Heartbeats
            // come every 1.5 s, and the node fences its own run only after 5.75 s without a renewal, so
            // a loaded machine stalling the keeper for a few seconds does not matter.
            let plan = try await fixture.enqueue(PlanSpec(entryPoint: .code("import time\ntime.sleep(10)\nprint('done')")))
            let finished = await fixture.waitFor(plan.id, .succeeded)
            #expect(finished?.attempt == 1)
            #expect(finished?.recoveries == 0)
        }
    }

    @Test func aPlanThatKeepsBeingOrphanedFailsAsOrphaned() async throws {
        try await OrchestratorFixture.with(workers: 1, pollInterval: .milliseconds(100), lease: .seconds(1)) { fixture in
            await fixture.orchestrator.pause()
            let plan = try await fixture.enqueue(PlanSpec(entryPoint: .code("print(1)")))
            for round in 0..<4 {
                // Another node claims it each time and dies with it.
                #expect(await fixture.waitFor(plan.id, .queued) != nil, "round \(round)")
                _ = try await fixture.store.claim(limit: 1, owner: "dead-node/\(round)/x/g1", leaseDuration: .milliseconds(300), now: Date())
                _ = try await fixture.orchestrator.poll()
                try await Task.sleep(for: .milliseconds(400))
                _ = try await fixture.orchestrator.poll()
            }
            let failed = await fixture.waitFor(plan.id, .failed)
            #expect(failed?.error?.kind == .orphaned)
        }
    }

    @Test func failedRunsAreRetriedWithBackoffThenGivenUp() async throws {
        try await OrchestratorFixture.with(workers: 1, pollInterval: .seconds(600)) { fixture in
            let plan = try await fixture.enqueue(PlanSpec(entryPoint: .code("import sys\nprint('try')\nsys.exit(2)"), maxAttempts: 3))
            let failed = await fixture.waitFor(plan.id, .failed)
            #expect(failed?.attempt == 3)
            #expect(failed?.exitCode == 2)
            let events = try await fixture.store.events(of: plan.id)
            let requeues = events.filter { $0.kind == .requeued }
            #expect(requeues.count == 2)
            #expect(requeues.allSatisfy { $0.toStatus == .scheduled && $0.detail?.contains("retry after failed") == true })
            // Each retry waited at least its backoff: 200 ms, then 400 ms (±10%).
            let claims = events.filter { $0.kind == .claimed }.map(\.at)
            let finishes = events.filter { $0.kind == .requeued }.map(\.at)
            #expect(claims.count == 3)
            #expect(claims[1].timeIntervalSince(finishes[0]) >= 0.17)
            #expect(claims[2].timeIntervalSince(finishes[1]) >= 0.35)
        }
    }

    @Test func aSucceedingRetryEndsTheRetries() async throws {
        try await OrchestratorFixture.with(workers: 1) { fixture in
            let flag = fixture.directory + "/second-time"
            let code = "import os, sys\nif not os.path.exists(sys.argv[1]):\n    open(sys.argv[1], 'w').close()\n    sys.exit(1)\nprint('ok')"
            let plan = try await fixture.enqueue(PlanSpec(entryPoint: .code(code), args: [flag], maxAttempts: 5))
            let done = await fixture.waitFor(plan.id, .succeeded)
            #expect(done?.attempt == 2)
        }
    }

    @Test func aCycleErrorIsReportedAndTheLoopRecoversWhenTheFaultGoes() async throws {
        try await OrchestratorFixture.with(workers: 1, pollInterval: .milliseconds(200), busyTimeout: .milliseconds(100)) { fixture in
            // Another process holds the database's write lock: every cycle fails as busy.
            let intruder = try SQLiteConnection(path: fixture.directory + "/baton.sqlite")
            try intruder.execute("BEGIN IMMEDIATE")
            #expect(await eventually { ((try? await fixture.orchestrator.status())?.lastError ?? "").contains("locked") })
            let failing = try await fixture.orchestrator.status()
            #expect(failing.failedCycles > 0)
            #expect(failing.state == .running, "the loop goes on")
            try intruder.execute("ROLLBACK")
            intruder.close()
            let plan = try await fixture.enqueue(PlanSpec(entryPoint: .code("print('back')")))
            #expect(await fixture.waitFor(plan.id, .succeeded) != nil)
            #expect(try await fixture.orchestrator.status().lastError == nil)
        }
    }

    @Test func anOutcomeSurvivesADatabaseLockedWhenTheRunEnds() async throws {
        try await OrchestratorFixture.with(workers: 1, busyTimeout: .milliseconds(100)) { fixture in
            let gate = Gate(directory: fixture.directory)
            let plan = try await fixture.enqueue(PlanSpec(entryPoint: .code(gate.python() + "print('done')")))
            #expect(await gate.waitUntilReady())
            #expect(await eventually { (try? await fixture.store.plan(plan.id))?.processGroup != nil })
            let group = try #require(try await fixture.store.plan(plan.id)?.processGroup)
            // Another process holds the write lock from before the run ends until after it has
            // ended, long enough for several of the recorder's busy timeouts.
            let intruder = try SQLiteConnection(path: fixture.directory + "/baton.sqlite")
            try intruder.execute("BEGIN IMMEDIATE")
            gate.open()
            #expect(await eventually { !isAlive(group) })
            try await Task.sleep(for: .milliseconds(500))
            try intruder.execute("ROLLBACK")
            intruder.close()
            let done = await fixture.waitFor(plan.id, .succeeded)
            #expect(done?.attempt == 1, "recorded once the lock went, not run again")
            #expect(done?.recoveries == 0)
            #expect(try await fixture.store.output(of: plan.id, stream: .stdout, attempt: nil).text == "done\n")
        }
    }

    @Test func cancelStopsARunningPlanAtOnce() async throws {
        try await OrchestratorFixture.with(workers: 1) { fixture in
            let plan = try await fixture.enqueue(PlanSpec(entryPoint: .code("import time\nprint('up', flush=True)\ntime.sleep(600)")))
            #expect(await fixture.waitFor(plan.id, .running) != nil)
            #expect(await eventually { (try? await fixture.store.plan(plan.id))?.processGroup != nil })
            let result = try await fixture.queue.cancel(plan.id, actor: "ops")
            guard case .cancelRequested = result else {
                Issue.record("expected cancelRequested, got \(result)")
                return
            }
            let canceled = await fixture.waitFor(plan.id, .canceled)
            #expect(canceled?.error?.kind == .canceled)
            #expect(canceled?.error?.message == "canceled by ops")
            let queued = try await fixture.store.enqueue(PlanSpec(entryPoint: .code("print(1)"), runAfter: Date().addingTimeInterval(600)), now: Date()).plan
            guard case .canceled = try await fixture.queue.cancel(queued.id, actor: "ops") else {
                Issue.record("a waiting plan is canceled at once")
                return
            }
        }
    }
}
