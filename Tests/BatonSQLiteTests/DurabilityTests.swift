import Foundation
import BatonTestSupport
import Testing
import BatonCore
@testable import BatonSQLite

/// The process that writes is killed with SIGKILL (no clean-up, no flush at exit); a fresh
/// store on the same file must find everything that process was told had been stored.
@Suite struct DurabilityTests {
    @Test func acknowledgedEnqueuesSurviveSIGKILL() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("baton.sqlite")
        let result = try await #require(processExitsWith: .signal(SIGKILL), observing: [\.standardOutputContent]) { [path = path as String] in
            let store = try await SQLitePlanStore(configuration: .init(path: path), logger: quietLogger)
            for index in 0..<25 {
                let plan = try await store.enqueue(spec("durable_\(index).py"), now: t0).plan
                FileHandle.standardOutput.write(Data("\(plan.id)\n".utf8))
            }
            let batch = try await store.enqueueBatch((0..<25).map { spec("batch_\($0).py") }, now: t0)
            FileHandle.standardOutput.write(Data(batch.map { "\($0.plan.id)\n" }.joined().utf8))
            kill(getpid(), SIGKILL)
        }
        let acknowledged = String(decoding: result.standardOutputContent, as: UTF8.self)
            .split(separator: "\n").compactMap { Int64($0) }
        #expect(acknowledged.count == 50)

        let store = try await SQLitePlanStore(configuration: .init(path: path), logger: quietLogger)
        for id in acknowledged {
            let plan = try await store.plan(id)
            #expect(plan?.status == .queued, "plan \(id)")
        }
        #expect(try await store.countsByStatus() == [.queued: 50])
        await store.close()
    }

    @Test func aRunClaimedByAKilledProcessIsRecoveredAndRunsAgain() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("baton.sqlite")
        let seed = try await SQLitePlanStore(configuration: .init(path: path), logger: quietLogger)
        let plan = try await seed.add(spec())
        await seed.close()

        await #expect(processExitsWith: .signal(SIGKILL)) { [path = path as String] in
            let store = try await SQLitePlanStore(configuration: .init(path: path), logger: quietLogger)
            _ = try await store.claim(limit: 1, owner: "doomed", leaseDuration: .seconds(60), now: t0)
            kill(getpid(), SIGKILL)
        }

        let store = try await SQLitePlanStore(configuration: .init(path: path), logger: quietLogger)
        let orphan = try #require(try await store.plan(plan.id))
        #expect(orphan.status == .running)
        #expect(orphan.owner == "doomed")
        #expect(try await store.recoverExpiredLeases(now: t0.adding(seconds: 59)).isEmpty, "not before the lease runs out")
        #expect(try await store.recoverExpiredLeases(now: t0.adding(seconds: 61)).map(\.planID) == [plan.id])
        let rerun = try await store.claimOne(owner: "survivor", at: t0.adding(seconds: 62))
        #expect(rerun.id == plan.id)
        #expect(rerun.attempt == 2)
        await store.close()
    }
}
