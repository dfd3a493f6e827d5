import BatonClient
import BatonCore
import BenchmarkSupport
import Foundation

/// Several `baton serve` nodes on one PostgreSQL (which the benchmark starts itself), as real
/// processes on this machine. Prints:
///
/// - nodes 1, 2 and 4 (W = 2 each) draining N plans that sleep 200 ms: plans per second from
///   the first enqueue to the last finish, against the ideal `nodes × W / 0.2 s` and against the
///   floor — the same script spawned `nodes × W` at a time by a plain loop, with no queue — and
///   the CPU time the `baton serve` processes spent per plan (their children excluded);
/// - dispatch latency, enqueue over HTTP to the child's first statement on an idle node `b`:
///   enqueued on `b` itself, and enqueued on a paused node `a` (so `b` learns of it only by the
///   database's notification), p50 and p99 of each;
/// - failover: from `kill -9` of a node running two plans to both running on the other node,
///   for a follower and for the leader (and then the time until the survivor leads).
///
/// Needs a release build of `baton` (`swift build -c release`), found in `.build/release` of
/// the current or the parent directory unless `--baton PATH` names it.
///
///     swift run -c release --package-path Benchmarks ClusterBenchmark [--plans 2000] [--samples 100] [--rounds 3] [--lease 10]
@main
struct ClusterBenchmark {
    static let workers = 2

    static func main() async throws {
        let plans = Floor.option("--plans", default: 2_000)
        let samples = Floor.option("--samples", default: 100)
        let rounds = Floor.option("--rounds", default: 3)
        let lease = Floor.option("--lease", default: 10)
        let setup = Setup(postgres: try await ThrowawayPostgres.start(), binary: try batonBinary())
        do {
            let python = try await PythonInterpreter.resolve()
            print("Baton cluster benchmark — \(ProcessInfo.processInfo.activeProcessorCount) cores, Python \(python.version), W=\(workers) per node, poll interval 5 s")
            print("")
            try await drain(plans: plans, python: python, setup: setup)
            print("")
            try await dispatch(samples: samples, setup: setup)
            print("")
            try await failover(rounds: rounds, lease: lease, setup: setup)
        } catch {
            await setup.postgres.stop()
            throw error
        }
        await setup.postgres.stop()
    }

    // MARK: Draining

    static func drain(plans: Int, python: PythonInterpreter, setup: Setup) async throws {
        print("draining \(plans) plans of a 200 ms sleep (first enqueue to last finish):")
        let floorDirectory = try Floor.scratchDirectory("baton-cluster-floor")
        defer { try? FileManager.default.removeItem(atPath: floorDirectory) }
        try "import time\ntime.sleep(0.2)\nwith open('ran', 'a') as f:\n    f.write('floor\\n')\n"
            .write(toFile: floorDirectory + "/sleep.py", atomically: true, encoding: .utf8)
        for nodes in [1, 2, 4] {
            let ideal = Double(nodes * workers) / 0.2
            let floorPlans = min(plans, 100 * nodes * workers)
            let floorTime = try await Floor.spawnLoop(count: floorPlans, workers: nodes * workers, python: python,
                                                      script: floorDirectory + "/sleep.py", workspace: floorDirectory)
            let floor = Double(floorPlans) / Floor.seconds(floorTime)
            let (rate, spread, cpu) = try await BenchCluster.with(nodes: nodes, arguments: ["--workers", "\(workers)"], setup: setup) { cluster in
                let cpuBefore = cluster.nodes.map(\.cpuSeconds).reduce(0, +)
                let start = Date()
                let ids = try await cluster.enqueue(plans, script: "sleep.py", through: 0)
                let lastFinish = try await lastFinish(of: ids, in: cluster)
                let cpu = cluster.nodes.map(\.cpuSeconds).reduce(0, +) - cpuBefore
                return (Double(plans) / lastFinish.timeIntervalSince(start), cluster.sleepsByNode, cpu)
            }
            let shares = spread.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            print(String(format: "  %d node%@  ideal %5.1f plans/s   floor %5.1f plans/s   baton %5.1f plans/s   %5.1f%% of ideal   %5.1f%% of floor   nodes' CPU %.1f ms/plan   (%@)",
                         nodes, nodes == 1 ? " " : "s", ideal, floor, rate, 100 * rate / ideal, 100 * rate / floor,
                         1000 * cpu / Double(plans), shares))
        }
        print("  target: ≥ 90% of ideal at 4 nodes")
    }

    /// When the last of `ids` finished, once every one has succeeded.
    static func lastFinish(of ids: [Int64], in cluster: BenchCluster) async throws -> Date {
        try await cluster.awaitSuccess(of: ids.last!)
        let parser = ISO8601DateFormatter()
        parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var latest = Date.distantPast
        for id in ids {
            var plan = try await cluster.client(0).plan(id).value
            if !plan.isTerminal {
                try await cluster.awaitSuccess(of: id)
                plan = try await cluster.client(0).plan(id).value
            }
            guard plan.status == "succeeded", let finished = plan.finishedAt.flatMap(parser.date(from:)) else {
                throw BenchmarkFailure("plan \(id) ended \(plan.status)")
            }
            latest = max(latest, finished)
        }
        return latest
    }

    // MARK: Dispatch latency

    static func dispatch(samples: Int, setup: Setup) async throws {
        let (local, cross) = try await BenchCluster.with(nodes: 2, arguments: ["--workers", "\(workers)"], setup: setup) { cluster in
            _ = try await cluster.client(0).pause(node: "a")
            var local: [Double] = []
            var cross: [Double] = []
            // Alternating, so that drift in the machine's speed weighs on both alike.
            for _ in 0..<samples {
                local.append(try await latency(enqueuedThrough: 1, in: cluster))
                cross.append(try await latency(enqueuedThrough: 0, in: cluster))
            }
            return (local, cross)
        }
        print("dispatch latency (enqueue over HTTP → child's first statement on idle node b, \(samples) samples each):")
        print(String(format: "  enqueued on b                  p50 %6.1f ms   p99 %6.1f ms", Floor.percentile(local, 0.5), Floor.percentile(local, 0.99)))
        print(String(format: "  enqueued on a (paused)         p50 %6.1f ms   p99 %6.1f ms", Floor.percentile(cross, 0.5), Floor.percentile(cross, 0.99)))
        print(String(format: "  across nodes − same node       p50 %+6.1f ms   p99 %+6.1f ms   (target: within 5 ms)",
                     Floor.percentile(cross, 0.5) - Floor.percentile(local, 0.5), Floor.percentile(cross, 0.99) - Floor.percentile(local, 0.99)))
    }

    /// Milliseconds from an enqueue through node `index` to the child's first statement on `b`.
    static func latency(enqueuedThrough index: Int, in cluster: BenchCluster) async throws -> Double {
        let before = Date()
        let id = try await cluster.client(index).enqueue(planJSON: Data(#"{"script": "stamp.py"}"#.utf8)).value.id
        try await cluster.awaitSuccess(of: id, through: 1)
        guard let stamp = cluster.stamp("stamps/\(id)"), stamp.node == "b" else {
            throw BenchmarkFailure("plan \(id) did not run on node b")
        }
        return (stamp.at - before.timeIntervalSince1970) * 1000
    }

    // MARK: Failover

    static func failover(rounds: Int, lease: Int, setup: Setup) async throws {
        print("failover (kill -9 of a node running 2 plans → both running on the other node; lease \(lease) s, heartbeat every lease / 6):")
        for (victim, role) in [(1, "follower"), (0, "leader  ")] {
            var times: [Double] = []
            var takeovers: [Double] = []
            for _ in 0..<rounds {
                let arguments = ["--workers", "\(workers)", "--lease", "\(lease)"]
                let (time, takeover) = try await BenchCluster.with(nodes: 2, arguments: arguments, setup: setup) { cluster in
                    try await failover(killing: victim, in: cluster, lease: lease)
                }
                times.append(time)
                if let takeover { takeovers.append(takeover) }
            }
            var line = "  " + role + "  " + times.map { String(format: "%5.2f s", $0) }.joined(separator: "  ")
            line += String(format: "   worst %5.2f s − lease = %+5.2f s (target ≤ +1 s)", times.max()!, times.max()! - Double(lease))
            if !takeovers.isEmpty {
                line += String(format: "; survivor led after %@", takeovers.map { String(format: "%.2f s", $0) }.joined(separator: ", "))
            }
            print(line)
        }
    }

    /// Seconds from the crash of node `victim` to its two plans' start on the other node, and
    /// (when the victim led) to the other node's leading.
    static func failover(killing victim: Int, in cluster: BenchCluster, lease: Int) async throws -> (Double, Double?) {
        let survivor = 1 - victim
        let survivorName = cluster.nodes[survivor].name
        _ = try await cluster.client(survivor).pause(node: survivorName)
        let ids = try await cluster.enqueue(2, script: "hold.py", through: victim)
        try await until("both plans run on the victim", within: .seconds(60)) {
            ids.allSatisfy { cluster.stamp("starts/\($0)-1")?.node == cluster.nodes[victim].name }
        }
        _ = try await cluster.client(survivor).resume(node: survivorName)
        let killedAt = Date()
        cluster.nodes[victim].crash()
        var takeover: Double?
        let wasLeader = victim == 0
        try await until("the plans run on the survivor", within: .seconds(Int64(lease * 10))) {
            if wasLeader, takeover == nil, let nodes = try? await cluster.client(survivor).nodes().value,
               nodes.nodes.contains(where: { $0.name == survivorName && $0.leader }) {
                takeover = Date().timeIntervalSince(killedAt)
            }
            return ids.allSatisfy { cluster.stamp("starts/\($0)-2")?.node == survivorName }
        }
        let restarted = ids.compactMap { cluster.stamp("starts/\($0)-2")?.at }.max()!
        cluster.openGate()
        for id in ids { try await cluster.awaitSuccess(of: id, through: survivor) }
        if wasLeader, takeover == nil {
            try await until("the survivor leads", within: .seconds(Int64(lease * 10))) {
                (try? await cluster.client(survivor).nodes().value)?.nodes.contains { $0.name == survivorName && $0.leader } ?? false
            }
            takeover = Date().timeIntervalSince(killedAt)
        }
        return (restarted - killedAt.timeIntervalSince1970, takeover)
    }

    /// Checks `condition` every 20 ms until it holds; fails after `limit`, a safety limit.
    static func until(_ what: String, within limit: Duration, _ condition: () async -> Bool) async throws {
        let deadline = ContinuousClock.now + limit
        while await !condition() {
            guard ContinuousClock.now < deadline else { throw BenchmarkFailure("timed out waiting until \(what)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
