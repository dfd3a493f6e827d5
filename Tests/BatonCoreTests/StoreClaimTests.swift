import Foundation
import Testing
@testable import BatonCore

@Suite struct StoreClaimTests {
    @Test func claimsByPriorityThenOldestFirstAcrossAllTenPriorities() async throws {
        try await withStore { store, _ in
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

    @Test func aClaimTakesAtMostLimitInOrderAndMarksThemRunning() async throws {
        try await withStore { store, _ in
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

    @Test func scheduledPlansAreNotClaimedUntilPromoted() async throws {
        try await withStore { store, _ in
            let plan = try await store.add(spec { $0.runAfter = t0.adding(seconds: 30) })
            #expect(try await store.claim(limit: 5, owner: "a", leaseDuration: .seconds(60), now: t0.adding(seconds: 31)).isEmpty)
            #expect(try await store.promoteDueScheduled(now: t0.adding(seconds: 29)).isEmpty)
            #expect(try await store.promoteDueScheduled(now: t0.adding(seconds: 30)) == [plan.id])
            #expect(try await store.plan(plan.id)?.status == .queued)
            #expect(try await store.claimOne().id == plan.id)
            #expect(try await store.events(of: plan.id).map(\.kind) == [.enqueued, .promoted, .claimed])
        }
    }

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

    @Test func twoClaimersOnSeparateConnectionsClaimEveryPlanExactlyOnce() async throws {
        let directory = try TemporaryDirectory()
        let configuration = SQLitePlanStore.Configuration(path: directory.file("baton.sqlite"))
        let first = try await SQLitePlanStore(configuration: configuration, logger: quietLogger)
        let second = try await SQLitePlanStore(configuration: configuration, logger: quietLogger)
        for chunk in 0..<2 {
            _ = try await first.enqueueBatch((0..<1000).map { spec("p\(chunk)-\($0).py", priority: $0 % 10) }, now: t0)
        }

        func drain(_ store: SQLitePlanStore, owner: String) async throws -> [Int64] {
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

    @Test func concurrentEnqueuesWithOneIdempotencyKeyMakeOnePlan() async throws {
        let directory = try TemporaryDirectory()
        let configuration = SQLitePlanStore.Configuration(path: directory.file("baton.sqlite"))
        let stores = [try await SQLitePlanStore(configuration: configuration, logger: quietLogger), try await SQLitePlanStore(configuration: configuration, logger: quietLogger)]
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
