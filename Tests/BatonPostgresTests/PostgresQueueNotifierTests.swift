@testable import BatonCore
@testable import BatonPostgres
import BatonTestSupport
import Foundation
import Testing

/// Queue signals across nodes on one PostgreSQL database: `NOTIFY` out, `LISTEN` in.
@Suite(.timeLimit(.minutes(2))) struct PostgresQueueNotifierTests {
    @Test func payloadsReadBackAsTheirSignalsAndANodeSkipsItsOwn() {
        for signal in [QueueSignal.plansAvailable, .cancelRequested(planID: 42, actor: "ci bot (release)")] {
            let payload = PostgresQueueNotifier.payload(of: signal, from: "aaaa")
            #expect(PostgresQueueNotifier.signal(in: payload, skipping: "bbbb") == signal)
            #expect(PostgresQueueNotifier.signal(in: payload, skipping: "aaaa") == nil)
        }
        #expect(PostgresQueueNotifier.signal(in: "aaaa cancel notanumber ops", skipping: "bbbb") == nil)
        #expect(PostgresQueueNotifier.signal(in: "garbage", skipping: "bbbb") == nil)
    }

    @Test func aSignalReachesTheOtherNodeAndThisOneOnce() async throws {
        guard let server = TestPostgres.serverURL else {
            print("note: BATON_TEST_POSTGRES_URL is not set; signals across nodes are not tested")
            return
        }
        let database = try await TestPostgres.createDatabase(on: server)
        let url = try PostgresURL(database)
        let storeA = try await PostgresPlanStore(configuration: .init(url: url), logger: quietLogger)
        let storeB = try await PostgresPlanStore(configuration: .init(url: url), logger: quietLogger)
        let (a, b) = (PostgresQueueNotifier(store: storeA, logger: quietLogger), PostgresQueueNotifier(store: storeB, logger: quietLogger))
        var signalsOfA = a.signals().makeAsyncIterator()
        var signalsOfB = b.signals().makeAsyncIterator()
        let listening = [Task { await a.run() }, Task { await b.run() }]

        // B starts listening at some point: A says "available" until B has heard it once.
        let sender = Task {
            while !Task.isCancelled {
                a.send(.plansAvailable)
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        let first = await signalsOfB.next()
        sender.cancel()
        _ = await sender.value
        #expect(first == .plansAvailable)

        // Now both listen: a cancel from B reaches A once (not again as B's own echo at B).
        b.send(.cancelRequested(planID: 7, actor: "ops"))
        var fromA: QueueSignal?
        repeat { fromA = await signalsOfA.next() } while fromA == .plansAvailable  // A's own sends, heard locally
        #expect(fromA == .cancelRequested(planID: 7, actor: "ops"))
        var fromB: QueueSignal?
        repeat { fromB = await signalsOfB.next() } while fromB == .plansAvailable  // A's sends still arriving
        #expect(fromB == .cancelRequested(planID: 7, actor: "ops"), "B hears its own send locally")
        a.send(.cancelRequested(planID: 8, actor: "ci"))
        repeat { fromB = await signalsOfB.next() } while fromB == .plansAvailable
        #expect(fromB == .cancelRequested(planID: 8, actor: "ci"), "no echo of B's own cancel came in between")

        for task in listening { task.cancel() }
        for task in listening { await task.value }
        await storeA.close()
        await storeB.close()
        await TestPostgres.dropDatabase(database, on: server)
    }
}
