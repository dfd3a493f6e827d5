import BatonCore
import BatonTestSupport
import Foundation
import Testing
@testable import BatonSQLite

/// What only the SQLite store has to prove: its query plans, its rows, its transactions. The
/// behaviour every store shares is in `BatonStoreConformanceTests`.
@Suite struct SQLiteStoreTests {
    @Test func theClaimWalksThePartialIndexWithoutSorting() async throws {
        try await withStore { _, path in
            let connection = try SQLiteConnection(path: path)
            defer { connection.close() }
            let sql = "EXPLAIN QUERY PLAN " + PlanQueries.claim
            let details = try connection.rows(sql, ["owner", 0, 0, 1]) { $0.string("detail") }
            #expect(details.contains { $0.contains("plans_claim_order") }, "\(details)")
            #expect(!details.contains { $0.contains("TEMP B-TREE") }, "\(details)")
        }
    }


    @Test func aBatchFailingInTheDatabaseStoresNothing() async throws {
        try await withStore { store, path in
            // A trigger makes the third insert fail inside the transaction.
            let connection = try SQLiteConnection(path: path)
            try connection.execute("""
                CREATE TRIGGER refuse_third AFTER INSERT ON plans WHEN NEW.name = 'third.py'
                BEGIN SELECT RAISE(ABORT, 'refused'); END
                """)
            connection.close()
            await #expect(throws: SQLiteError.self) {
                try await store.enqueueBatch([spec("first.py"), spec("second.py"), spec("third.py"), spec("fourth.py")], now: t0)
            }
            #expect(try await store.countsByStatus().isEmpty)
            #expect(try await store.add(spec("after.py")).status == .queued, "the store still works after a failed batch")
        }
    }


    @Test func aLostRunIsStoppedBeforeItsPlanIsRequeued() async throws {
        try await withStore { store, path in
            try await store.add(spec())
            try await store.add(spec())  // never started: no process group to stop
            let attempt = try #require(try await store.claimOne(at: t0).currentAttempt)
            _ = try await store.claimOne(at: t0)
            try await store.recordProcessGroup(31337, for: attempt, now: t0)

            let observer = Locked(try SQLiteConnection(path: path))
            defer { observer.withLock { $0.close() } }
            let stops = Locked<[(AttemptRef, Int32, String?)]>([])
            let recoveries = try await store.recoverExpiredLeases(now: t0.adding(seconds: 61)) { lost, processGroup in
                // What any other connection sees at this moment: the plan is not back in the queue yet.
                let status = observer.withLock { try? $0.firstRow("SELECT status FROM plans WHERE id = ?", [lost.planID]) { $0.string("status") } }
                stops.withLock { $0.append((lost, processGroup, status)) }
            }
            let calls = stops.withLock { $0 }
            #expect(calls.count == 1)
            #expect(calls.first?.0 == attempt)
            #expect(calls.first?.1 == 31337)
            #expect(calls.first?.2 == "running")
            #expect(recoveries.count == 2)
            #expect(recoveries.first { $0.planID == attempt.planID }?.processGroup == 31337)
            #expect(try await store.plan(attempt.planID)?.processGroup == nil)
        }
    }

    @Test func outputPastTheCapLeavesNoRows() async throws {
        try await withStore({ $0.policy.maxOutputBytes = 4 }) { store, path in
            try await store.add(spec())
            let attempt = try #require(try await store.claimOne().currentAttempt)
            for _ in 0..<100 {
                try await store.appendOutput(Array("flood\n".utf8), stream: .stdout, for: attempt)
            }
            let connection = try SQLiteConnection(path: path)
            defer { connection.close() }
            #expect(try connection.firstRow("SELECT count(*) AS n FROM plan_output") { $0.int("n") } == 1, "no rows past the cap")
        }
    }

    @Test func pruneCascadesToEverythingAPlanOwns() async throws {
        try await withStore { store, path in
            try await store.add(spec { $0.labels = ["suite": "unit"] })
            let old = try #require(try await store.claimOne(at: t0).currentAttempt)
            try await store.appendOutput(Array("x".utf8), stream: .stdout, for: old)
            try await store.saveSteps([PlanStep(name: "s", status: "success")], for: old)
            _ = try await store.finish(old, outcome: PlanOutcome(status: .succeeded), now: t0)
            #expect(try await store.prune(finishedBefore: t0.adding(seconds: 1)) == 1)
            let connection = try SQLiteConnection(path: path)
            defer { connection.close() }
            for table in ["plan_output", "plan_output_totals", "plan_steps", "plan_events", "plan_labels"] {
                let left = try connection.firstRow("SELECT count(*) AS n FROM \(table) WHERE plan_id = ?", [old.planID]) { $0.int("n") }
                #expect(left == 0, "\(table)")
            }
        }
    }
}
