@testable import BatonCore
import BatonClient
import BatonPostgres
import BatonTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Several `baton serve` processes on one PostgreSQL queue (design §10): every plan runs once,
/// a node that dies or is cut off loses its plans to the others without two runs of a plan at
/// once. The per-plan lock of the scripts (``NodeCluster``) catches any overlap.
@Suite("several nodes on one PostgreSQL queue", .serialized, .timeLimit(.minutes(15)))
struct ClusterEndToEndTests {
    /// Short leases, so that recovery comes within seconds.
    static let fastLeases = ["--lease", "6", "--heartbeat-interval", "1", "--workers", "2"]

    @Test("three nodes run 2,000 plans enqueued through all three exactly once each, and all of them work")
    func everyPlanRunsOnce() async throws {
        try await NodeCluster.with(nodes: ["a", "b", "c"], arguments: ["--workers", "2"]) { cluster in
            let keys = (0..<2000).map { "k\($0)" }
            for index in 0..<3 {
                let share = keys.enumerated().filter { $0.offset % 3 == index }.map(\.element)
                try await cluster.enqueue(share, script: "once.py", through: index)
            }
            let finished = await eventually(within: .seconds(600)) {
                let queue = (try? await cluster.client(0).orchestrator().value.queue) ?? [:]
                return queue["succeeded"] == 2000 || (queue["failed"] ?? 0) > 0
            }
            let queue = try await cluster.client(1).orchestrator().value.queue
            #expect(finished && queue["succeeded"] == 2000, "\(queue)")

            let lines = cluster.logLines
            #expect(!lines.contains { $0.first == "overlap" }, "a plan ran twice at once")
            for kind in ["start", "end"] {
                let counted = Dictionary(grouping: lines.filter { $0.first.map(String.init) == kind }, by: { String($0[1]) })
                #expect(counted.count == 2000 && counted.values.allSatisfy { $0.count == 1 }, "every plan \(kind)s once")
            }
            let byNode = Dictionary(grouping: lines.filter { $0.first == "start" }, by: { String($0[2]) }).mapValues(\.count)
            #expect(byNode.keys.sorted() == ["a", "b", "c"], "\(byNode)")
            #expect(byNode.values.allSatisfy { $0 >= 100 }, "every node takes a share of the work: \(byNode)")
        }
    }

    @Test("kill -9 of the leader while it runs plans: they run again elsewhere, it shows as lost, another node leads")
    func aKilledLeadersPlansFinishElsewhere() async throws {
        try await NodeCluster.with(nodes: ["a", "b", "c"], arguments: Self.fastLeases) { cluster in
            let a = cluster.client(0)
            #expect(try await cluster.client(1).nodes().value.nodes.first { $0.leader }?.name == "a")
            _ = try await a.pause(node: "b")
            _ = try await a.pause(node: "c")
            try await cluster.enqueue(["k1", "k2"], script: "gated.py", through: 1)
            #expect(await eventually(within: .seconds(60)) { cluster.starts(of: "k1") == ["a"] && cluster.starts(of: "k2") == ["a"] })
            _ = try await a.resume(node: "b")
            _ = try await a.resume(node: "c")
            cluster.nodes[0].send(SIGKILL)

            let b = cluster.client(1)
            #expect(await eventually(within: .seconds(90)) {
                cluster.starts(of: "k1").count == 2 && cluster.starts(of: "k2").count == 2
            }, "\(cluster.log)")
            #expect(cluster.starts(of: "k1").dropFirst().allSatisfy { $0 != "a" })
            cluster.openGate()
            #expect(await eventually(within: .seconds(60)) { (try? await b.orchestrator().value.queue["succeeded"]) == 2 })
            #expect(!cluster.log.contains("overlap"), "\(cluster.log)")

            #expect(await eventually(within: .seconds(30)) {
                let nodes = (try? await b.nodes().value.nodes) ?? []
                return nodes.first { $0.name == "a" }?.state == "lost" && nodes.contains { $0.leader && $0.name != "a" }
            })
        }
    }

    @Test("a node cut off from the database stops its run before the lease runs out; the plan runs again elsewhere without overlap")
    func aCutOffNodeFencesItself() async throws {
        guard let server = TestPostgres.serverURL else { return }
        let proxy = try DatabaseProxy(to: server)
        defer { proxy.stop() }
        try await NodeCluster.with(nodes: ["a", "b", "c"], arguments: Self.fastLeases,
                                   databaseURL: { node, database in node == "c" ? proxy.route(database) : database }) { cluster in
            let a = cluster.client(0)
            _ = try await a.pause(node: "a")
            _ = try await a.pause(node: "b")
            try await cluster.enqueue(["k1"], script: "gated.py", through: 0)
            #expect(await eventually(within: .seconds(60)) { cluster.starts(of: "k1") == ["c"] })

            proxy.freeze()
            // A frozen node cannot shut down: whatever happens below, it is let go first.
            defer { proxy.thaw() }
            _ = try await a.resume(node: "a")
            _ = try await a.resume(node: "b")
            #expect(await eventually(within: .seconds(90)) { cluster.starts(of: "k1").count == 2 }, "\(cluster.log)")
            #expect(cluster.nodes[2].log.contains("stopping a run whose lease cannot be renewed"), "\(cluster.nodes[2].log.suffix(3000))")

            // The cut-off run's last sign of life came before another node took the plan over.
            let store = try await PostgresPlanStore(configuration: .init(url: try PostgresURL(cluster.database)), logger: quietLogger)
            let plan = try #require(try await store.plans(matching: PlanQuery()).plans.first)
            let lostAt = try await store.events(of: plan.id).first { $0.kind == .heartbeatLost }?.at
            await store.close()
            let lastBeat = try #require(cluster.lastBeat(of: "k1", on: "c"))
            let recovered = try #require(lostAt, "the leader recovered the plan")
            #expect(lastBeat < recovered.timeIntervalSince1970, "the run on c was still alive when its lease was recovered")

            cluster.openGate()
            #expect(await eventually(within: .seconds(60)) { (try? await a.orchestrator().value.queue["succeeded"]) == 1 })
            #expect(!cluster.log.contains("overlap"), "\(cluster.log)")
        }
    }
}
