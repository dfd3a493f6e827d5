import Foundation
import Testing
@testable import BatonCore

@Suite struct StoreEnqueueTests {
    @Test func enqueueStoresTheSpecWithDefaults() async throws {
        try await withStore { store, _ in
            let input = #"{"n": 123, "z": 1.50, "a": [true, null]}"#
            let result = try await store.enqueue(spec { spec in
                spec.input = try! JSONText(validating: input)
                spec.args = ["--fast", "-k", "smoke"]
                spec.env = ["API_KEY": "s3cret"]
                spec.labels = ["branch": "main", "ci_job": "42"]
                spec.triggeredBy = "ci-token"
            }, now: t0)
            #expect(result.created)
            let plan = result.plan
            #expect(plan.id > 0)
            #expect(plan.name == "tests/run.py")
            #expect(plan.entryPoint == .script("tests/run.py"))
            #expect(plan.input.text == input, "input is kept byte for byte")
            #expect(plan.args == ["--fast", "-k", "smoke"])
            #expect(plan.env == ["API_KEY": "s3cret"])
            #expect(plan.labels == ["branch": "main", "ci_job": "42"])
            #expect(plan.status == .queued)
            #expect(plan.priority == 5)
            #expect(plan.timeoutSeconds == 60)
            #expect(plan.maxAttempts == 1)
            #expect(plan.attempt == 0)
            #expect(plan.enqueuedAt == t0)
            #expect(plan.triggeredBy == "ci-token")
            #expect(try await store.plan(plan.id) == plan)
            let events = try await store.events(of: plan.id)
            #expect(events.map(\.kind) == [.enqueued])
            #expect(events.first?.actor == "ci-token")
            #expect(events.first?.toStatus == .queued)
        }
    }

    @Test func idsIncrease() async throws {
        try await withStore { store, _ in
            var last: Int64 = 0
            for _ in 0..<20 {
                let id = try await store.add(spec()).id
                #expect(id > last)
                last = id
            }
        }
    }

    @Test func theServerDefaultTimeoutFillsAMissingOne() async throws {
        try await withStore({ $0.limits = PlanLimits(defaultTimeoutSeconds: 17, maxTimeoutSeconds: 100) }) { store, _ throws in
            #expect(try await store.add(spec()).timeoutSeconds == 17)
            #expect(try await store.add(spec { $0.timeoutSeconds = 100 }).timeoutSeconds == 100)
        }
    }

    @Test func invalidSpecsAreRefusedAndNothingIsStored() async throws {
        try await withStore { store, _ throws in
            await #expect(throws: PlanValidationError.self) { try await store.add(spec(priority: 11)) }
            #expect(try await store.countsByStatus().isEmpty)
        }
    }

    @Test func aFutureRunAfterSchedulesThePlan() async throws {
        try await withStore { store, _ in
            let later = try await store.add(spec { $0.runAfter = t0.adding(seconds: 60) })
            let past = try await store.add(spec { $0.runAfter = t0.adding(seconds: -60) })
            #expect(later.status == .scheduled)
            #expect(later.runAfter == t0.adding(seconds: 60))
            #expect(past.status == .queued)
        }
    }

    @Test func aRepeatedIdempotencyKeyReturnsTheFirstPlan() async throws {
        try await withStore { store, _ in
            let first = try await store.enqueue(spec { $0.idempotencyKey = "ci-run-7" }, now: t0)
            let second = try await store.enqueue(spec("other.py", priority: 0) { $0.idempotencyKey = "ci-run-7" }, now: t0.adding(seconds: 5))
            #expect(first.created)
            #expect(!second.created)
            #expect(second.plan == first.plan)
            #expect(try await store.countsByStatus() == [.queued: 1])
        }
    }

    @Test func aBatchIsStoredInOrder() async throws {
        try await withStore { store, _ in
            let results = try await store.enqueueBatch((0..<10).map { spec("suite/test_\($0).py", priority: $0 % 10) }, now: t0)
            #expect(results.count == 10)
            #expect(results.allSatisfy { $0.created })
            #expect(results.map(\.plan.name) == (0..<10).map { "suite/test_\($0).py" })
            #expect(results.map(\.plan.id) == results.map(\.plan.id).sorted())
        }
    }

    @Test func aBatchWithOneBadPlanStoresNothingAndNamesTheIndex() async throws {
        try await withStore { store, _ throws in
            var specs = (0..<5).map { _ in spec() }
            specs[3].priority = 42
            specs[4].env = ["BATON_X": "1"]
            let error = await #expect(throws: PlanValidationError.self) { try await store.enqueueBatch(specs, now: t0) }
            #expect(error?.issues.map(\.field) == ["plans[3].priority", "plans[4].env.BATON_X"])
            #expect(try await store.countsByStatus().isEmpty)
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

    @Test func aBatchTooLargeIsRefused() async throws {
        try await withStore({ $0.maxBatchSize = 3 }) { store, _ throws in
            let error = await #expect(throws: PlanValidationError.self) {
                try await store.enqueueBatch(Array(repeating: spec(), count: 4), now: t0)
            }
            #expect(error?.issues.first?.field == "plans")
        }
    }

    @Test func idempotencyKeysRepeatedInsideABatchYieldOnePlan() async throws {
        try await withStore { store, _ in
            let results = try await store.enqueueBatch([spec { $0.idempotencyKey = "k" }, spec { $0.idempotencyKey = "k" }], now: t0)
            #expect(results.map(\.created) == [true, false])
            #expect(results[0].plan.id == results[1].plan.id)
        }
    }
}
