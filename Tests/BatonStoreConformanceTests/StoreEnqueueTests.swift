import Foundation
import BatonTestSupport
import Testing
import BatonCore

@Suite struct StoreEnqueueTests {
    @Test(arguments: StoreKind.all) func enqueueStoresTheSpecWithDefaults(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
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

    @Test(arguments: StoreKind.all) func whatAPlanAsksOfItsSandboxIsKeptAlone(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            let runtime = PlanRuntime(network: false, limits: PlanResourceRequest(memoryMB: 256), requirements: ["httpx==0.27.*", "pytest>=8"])
            let single = try await store.enqueue(spec { $0.runtime = runtime }, now: t0).plan
            let batch = try await store.enqueueBatch([spec { $0.runtime = PlanRuntime(requirementsFile: "ci/requirements.txt") }, spec { _ in }], now: t0)
            #expect(try await store.plan(single.id)?.runtime == runtime)
            #expect(try await store.plan(batch[0].plan.id)?.runtime == PlanRuntime(requirementsFile: "ci/requirements.txt"))
            #expect(try await store.plan(batch[1].plan.id)?.runtime == PlanRuntime(), "a plan that asks for nothing")
        }
    }

    @Test(arguments: StoreKind.all) func idsIncrease(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            var last: Int64 = 0
            for _ in 0..<20 {
                let id = try await store.add(spec()).id
                #expect(id > last)
                last = id
            }
        }
    }

    @Test(arguments: StoreKind.all) func theServerDefaultTimeoutFillsAMissingOne(_ kind: StoreKind) async throws {
        try await withStore(kind, { $0.limits = PlanLimits(defaultTimeoutSeconds: 17, maxTimeoutSeconds: 100) }) { store throws in
            #expect(try await store.add(spec()).timeoutSeconds == 17)
            #expect(try await store.add(spec { $0.timeoutSeconds = 100 }).timeoutSeconds == 100)
        }
    }

    @Test(arguments: StoreKind.all) func invalidSpecsAreRefusedAndNothingIsStored(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            await #expect(throws: PlanValidationError.self) { try await store.add(spec(priority: 11)) }
            #expect(try await store.countsByStatus().isEmpty)
        }
    }

    @Test(arguments: StoreKind.all) func aFutureRunAfterSchedulesThePlan(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            let later = try await store.add(spec { $0.runAfter = t0.adding(seconds: 60) })
            let past = try await store.add(spec { $0.runAfter = t0.adding(seconds: -60) })
            #expect(later.status == .scheduled)
            #expect(later.runAfter == t0.adding(seconds: 60))
            #expect(past.status == .queued)
        }
    }

    @Test(arguments: StoreKind.all) func aRepeatedIdempotencyKeyReturnsTheFirstPlan(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            let first = try await store.enqueue(spec { $0.idempotencyKey = "ci-run-7" }, now: t0)
            let second = try await store.enqueue(spec("other.py", priority: 0) { $0.idempotencyKey = "ci-run-7" }, now: t0.adding(seconds: 5))
            #expect(first.created)
            #expect(!second.created)
            #expect(second.plan == first.plan)
            #expect(try await store.countsByStatus() == [.queued: 1])
        }
    }

    @Test(arguments: StoreKind.all) func aBatchIsStoredInOrder(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            let results = try await store.enqueueBatch((0..<10).map { spec("suite/test_\($0).py", priority: $0 % 10) }, now: t0)
            #expect(results.count == 10)
            #expect(results.allSatisfy { $0.created })
            #expect(results.map(\.plan.name) == (0..<10).map { "suite/test_\($0).py" })
            #expect(results.map(\.plan.id) == results.map(\.plan.id).sorted())
        }
    }

    @Test(arguments: StoreKind.all) func aBatchWithOneBadPlanStoresNothingAndNamesTheIndex(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            var specs = (0..<5).map { _ in spec() }
            specs[3].priority = 42
            specs[4].env = ["BATON_X": "1"]
            let error = await #expect(throws: PlanValidationError.self) { try await store.enqueueBatch(specs, now: t0) }
            #expect(error?.issues.map(\.field) == ["plans[3].priority", "plans[4].env.BATON_X"])
            #expect(try await store.countsByStatus().isEmpty)
        }
    }

    @Test(arguments: StoreKind.all) func aBatchTooLargeIsRefused(_ kind: StoreKind) async throws {
        try await withStore(kind, { $0.maxBatchSize = 3 }) { store throws in
            let error = await #expect(throws: PlanValidationError.self) {
                try await store.enqueueBatch(Array(repeating: spec(), count: 4), now: t0)
            }
            #expect(error?.issues.first?.field == "plans")
        }
    }

    @Test(arguments: StoreKind.all) func idempotencyKeysRepeatedInsideABatchYieldOnePlan(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            let results = try await store.enqueueBatch([spec { $0.idempotencyKey = "k" }, spec { $0.idempotencyKey = "k" }], now: t0)
            #expect(results.map(\.created) == [true, false])
            #expect(results[0].plan.id == results[1].plan.id)
        }
    }
}
