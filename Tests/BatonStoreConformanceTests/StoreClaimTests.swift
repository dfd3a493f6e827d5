import Foundation
import BatonTestSupport
import Testing
import BatonCore

@Suite struct StoreClaimTests {
    @Test(arguments: StoreKind.all) func claimsByPriorityThenOldestFirstAcrossAllTenPriorities(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            // Three plans per priority, enqueued with priorities shuffled.
            var expected: [Int: [Int64]] = [:]
            for round in 0..<3 {
                for priority in [7, 2, 9, 0, 5, 1, 8, 3, 6, 4] {
                    let plan = try await store.add(spec("p\(priority)-r\(round).py", priority: priority))
                    expected[priority, default: []].append(plan.id)
                }
            }
            var claimed: [Plan] = []
            while let plan = try await store.claim(limit: 1, owner: "node-a", leaseDuration: .seconds(60), now: t0).first {
                claimed.append(plan)
            }
            #expect(claimed.map(\.id) == (0...9).flatMap { expected[$0]! })
        }
    }

    @Test(arguments: StoreKind.all) func aClaimTakesAtMostLimitInOrderAndMarksThemRunning(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            let low = try await store.add(spec(priority: 9))
            let urgent = try await store.add(spec(priority: 0))
            let normal = try await store.add(spec(priority: 5))
            let now = t0.adding(seconds: 3)
            let claimed = try await store.claim(limit: 2, owner: "node-a", leaseDuration: .seconds(60), now: now)
            #expect(claimed.map(\.id) == [urgent.id, normal.id])
            for plan in claimed {
                #expect(plan.status == .running)
                #expect(plan.attempt == 1)
                #expect(plan.owner == "node-a")
                #expect(plan.startedAt == now)
                #expect(plan.leaseExpiresAt == now.adding(seconds: 60))
                #expect(try await store.events(of: plan.id).map(\.kind) == [.enqueued, .claimed])
            }
            #expect(try await store.plan(low.id)?.status == .queued)
            #expect(try await store.claim(limit: 0, owner: "node-a", leaseDuration: .seconds(60), now: now).isEmpty)
        }
    }

    @Test(arguments: StoreKind.all) func scheduledPlansAreNotClaimedUntilPromoted(_ kind: StoreKind) async throws {
        try await withStore(kind) { store throws in
            let plan = try await store.add(spec { $0.runAfter = t0.adding(seconds: 30) })
            #expect(try await store.claim(limit: 5, owner: "a", leaseDuration: .seconds(60), now: t0.adding(seconds: 31)).isEmpty)
            #expect(try await store.promoteDueScheduled(now: t0.adding(seconds: 29)).isEmpty)
            #expect(try await store.promoteDueScheduled(now: t0.adding(seconds: 30)).map(\.id) == [plan.id])
            #expect(try await store.plan(plan.id)?.status == .queued)
            #expect(try await store.claimOne().id == plan.id)
            #expect(try await store.events(of: plan.id).map(\.kind) == [.enqueued, .promoted, .claimed])
        }
    }

    @Test(arguments: StoreKind.all) func twoStoresOnOneDatabaseClaimEveryPlanExactlyOnce(_ kind: StoreKind) async throws {
        try await withDatabase(kind) { database in
        let first = try await database.open(policy: QueuePolicy())
        let second = try await database.open(policy: QueuePolicy())
        for chunk in 0..<2 {
            _ = try await first.enqueueBatch((0..<1000).map { spec("p\(chunk)-\($0).py", priority: $0 % 10) }, now: t0)
        }

        func drain(_ store: any PlanStore, owner: String) async throws -> [Int64] {
            var ids: [Int64] = []
            while true {
                let claimed = try await store.claim(limit: 3, owner: owner, leaseDuration: .seconds(60), now: t0)
                if claimed.isEmpty { return ids }
                ids += claimed.map(\.id)
            }
        }
        async let a = drain(first, owner: "node-a")
        async let b = drain(second, owner: "node-b")
        let (claimedByA, claimedByB) = try await (a, b)

        let all = claimedByA + claimedByB
        #expect(all.count == 2000, "none missing")
        #expect(Set(all).count == 2000, "none twice")
        #expect(!claimedByA.isEmpty && !claimedByB.isEmpty, "both claimers took part")
        for id in claimedByA.prefix(20) {
            #expect(try await second.plan(id)?.owner == "node-a")
        }
        #expect(try await first.countsByStatus() == [.running: 2000])
        await first.close()
        await second.close()
        }
    }

    @Test(arguments: StoreKind.all) func concurrentEnqueuesWithOneIdempotencyKeyMakeOnePlan(_ kind: StoreKind) async throws {
        try await withDatabase(kind) { database in
        let stores = [try await database.open(policy: QueuePolicy()), try await database.open(policy: QueuePolicy())]
        let results = try await withThrowingTaskGroup(of: EnqueueResult.self) { group in
            for index in 0..<40 {
                group.addTask { try await stores[index % 2].enqueue(spec { $0.idempotencyKey = "deploy-991" }, now: t0) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(results.map(\.plan.id)).count == 1)
        #expect(results.filter(\.created).count == 1)
        #expect(try await stores[0].countsByStatus() == [.queued: 1])
        for store in stores { await store.close() }
        }
    }
}
