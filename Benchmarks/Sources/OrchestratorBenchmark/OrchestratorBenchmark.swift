import BatonCore
import BatonSQLite
import BenchmarkSupport
import Foundation

/// The whole path inside one process: plans enqueued through the queue, claimed by the
/// orchestrator's poll cycles, run by the pool, recorded back. Prints:
///
/// - the wall time of N no-op plans at W = 2 and W = 4, against the same processes spawned by a
///   plain parallel loop with no queue (the floor), and the ratio — measured in alternating
///   chunks of 500, each Baton chunk through a fresh store and orchestrator;
/// - dispatch latency on an idle pool: from the enqueue call to the child's first statement,
///   p50 and p99, beside the floor's latency from spawn to first statement.
///
///     swift run -c release --package-path Benchmarks OrchestratorBenchmark [--plans 2000] [--samples 200]
@main
struct OrchestratorBenchmark {
    static func main() async throws {
        let plans = Floor.option("--plans", default: 2_000)
        let samples = Floor.option("--samples", default: 200)
        let python = try await PythonInterpreter.resolve()
        let workspace = try Floor.scratchDirectory("baton-orchestrator-bench")
        defer { try? FileManager.default.removeItem(atPath: workspace) }
        try "pass\n".write(toFile: workspace + "/noop.py", atomically: true, encoding: .utf8)
        try "import time\nprint(time.time_ns(), flush=True)\n".write(toFile: workspace + "/stamp.py", atomically: true, encoding: .utf8)

        print("Baton orchestrator benchmark — Python \(python.version), \(ProcessInfo.processInfo.activeProcessorCount) cores, poll interval 5 s")
        print("")
        for workers in [2, 4] {
            // Alternating chunks, so that drift in the machine's speed weighs on both sides alike.
            var floor = Duration.zero
            var baton = Duration.zero
            var done = 0
            while done < plans {
                let chunk = min(500, plans - done)
                floor += try await Floor.spawnLoop(count: chunk, workers: workers, python: python, script: workspace + "/noop.py", workspace: workspace)
                baton += try await throughBaton(plans: chunk, workers: workers, python: python, workspace: workspace)
                done += chunk
            }
            print(String(format: "W=%d   %d plans   floor %6.2f s   baton %6.2f s   ratio %.3f×   (target ≤ 1.05×)",
                         workers, plans, Floor.seconds(floor), Floor.seconds(baton), Floor.seconds(baton) / Floor.seconds(floor)))
        }
        let floorLatency = try await Floor.firstStatementLatency(samples: samples, python: python, script: workspace + "/stamp.py", workspace: workspace)
        let batonLatency = try await dispatchLatency(samples: samples, python: python, workspace: workspace)
        print("")
        print(String(format: "dispatch latency (enqueue → child's first statement, idle pool, %d samples): p50 %.1f ms   p99 %.1f ms",
                     samples, Floor.percentile(batonLatency, 0.5), Floor.percentile(batonLatency, 0.99)))
        print(String(format: "floor (spawn → first statement, same script):                          p50 %.1f ms   p99 %.1f ms",
                     Floor.percentile(floorLatency, 0.5), Floor.percentile(floorLatency, 0.99)))
    }

    /// A node — store, queue, upkeep and orchestrator, as `baton serve` builds it — running in
    /// this process until `body` returns.
    static func withBaton<T>(workers: Int, python: PythonInterpreter, workspace: String,
                             _ body: (BatonNode) async throws -> T) async throws -> T {
        let directory = try Floor.scratchDirectory("baton-orchestrator-bench-db")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try await SQLitePlanStore(configuration: .init(path: directory + "/baton.sqlite"), logger: Floor.quiet)
        var configuration = BatonNode.Configuration()
        configuration.orchestrator.workers = workers
        let node = BatonNode(store: store, configuration: configuration, logger: { _ in Floor.quiet }) {
            PreparedRunner(runner: PythonRunner(configuration: .init(interpreter: python, workspaceRoot: workspace), logger: Floor.quiet), interpreter: python)
        }
        let group = node.serviceGroup(logger: Floor.quiet)
        let service = Task { try await group.run() }
        while (try await node.orchestrator.status()).state != .running { try await Task.sleep(for: .milliseconds(10)) }
        let value = try await body(node)
        await group.triggerGracefulShutdown()
        try await service.value
        return value
    }

    /// Wall time from the first enqueue until every plan has ended.
    static func throughBaton(plans: Int, workers: Int, python: PythonInterpreter, workspace: String) async throws -> Duration {
        try await withBaton(workers: workers, python: python, workspace: workspace) { node in
            let ends = node.bus.subscribe(buffer: plans * 4)
            return try await ContinuousClock().measure {
                var enqueued = 0
                while enqueued < plans {
                    let batch = min(1_000, plans - enqueued)
                    _ = try await node.queue.enqueueBatch(Array(repeating: PlanSpec(entryPoint: .script("noop.py"), triggeredBy: "benchmark"), count: batch))
                    enqueued += batch
                }
                var finished = 0
                for await notice in ends {
                    guard case .end(_, let status) = notice else { continue }
                    precondition(status == .succeeded, "a no-op plan ended \(status)")
                    finished += 1
                    if finished == plans { break }
                }
            }
        }
    }

    /// Milliseconds from enqueue to the child's first statement, one plan at a time.
    static func dispatchLatency(samples: Int, python: PythonInterpreter, workspace: String) async throws -> [Double] {
        try await withBaton(workers: 2, python: python, workspace: workspace) { node in
            var latencies: [Double] = []
            for _ in 0..<samples {
                let notices = node.bus.subscribe()
                let before = Date()
                let plan = try await node.queue.enqueue(PlanSpec(entryPoint: .script("stamp.py"), triggeredBy: "benchmark"), now: before).plan
                var stamp = ""
                for await notice in notices where notice.planID == plan.id {
                    if case .output(_, _, .stdout, _, let bytes) = notice { stamp += String(decoding: bytes, as: UTF8.self) }
                    if case .end = notice { break }
                }
                let started = Double(stamp.trimmingCharacters(in: .whitespacesAndNewlines))! / 1e9
                latencies.append((started - before.timeIntervalSince1970) * 1000)
            }
            return latencies
        }
    }
}
