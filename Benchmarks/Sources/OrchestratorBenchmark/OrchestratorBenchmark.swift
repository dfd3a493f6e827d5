import BatonClient
import BatonCore
import BenchmarkSupport
import Foundation

/// What the server itself costs per plan: a real `baton serve` process (SQLite, output capture,
/// events and metrics all on), fed over HTTP the way CI feeds it — one `POST /plans` per plan,
/// then `GET /plans/{id}?wait=` until it ends, from several producers at once (or, with
/// `--batch`, 500 plans per request and one waiting client, to tell HTTP's share). Prints:
///
/// - throughput of N no-op plans at W workers against the floor, the same script spawned by a
///   plain parallel loop with no queue (alternating chunks of 500, so drift in the machine's
///   speed weighs on both sides alike), and the ratio;
/// - the server's own CPU per plan (user + system of `baton serve`, its children excluded, from
///   `/proc/PID/stat`), its context switches per plan, and its peak RSS after all N plans;
/// - dispatch latency on an idle pool: from the enqueue request to the plan's first statement,
///   p50 and p99, beside the floor's latency from spawn to first statement.
///
/// Needs a release build of `baton` (`swift build -c release`), found in `.build/release` of
/// the current or the parent directory unless `--baton PATH` names it.
///
///     swift run -c release --package-path Benchmarks OrchestratorBenchmark [--plans 10000] [--samples 200] [--workers 2] [--producers 8 | --batch] [--sandbox]
@main
struct OrchestratorBenchmark {
    static func main() async throws {
        let plans = Floor.option("--plans", default: 10_000)
        let samples = Floor.option("--samples", default: 200)
        let workers = Floor.option("--workers", default: 2)
        let producers = Floor.option("--producers", default: 8)
        let sandbox = CommandLine.arguments.contains("--sandbox") ? "on" : "off"
        let batch = CommandLine.arguments.contains("--batch")
        let binary = try batonBinary()
        let python = try await PythonInterpreter.resolve()
        let root = try Floor.scratchDirectory("baton-orchestrator-bench")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let workspace = root + "/workspace-bench"
        try FileManager.default.createDirectory(atPath: workspace + "/stamps", withIntermediateDirectories: true)
        try "pass\n".write(toFile: workspace + "/noop.py", atomically: true, encoding: .utf8)
        try "import os, time\nnow = time.time_ns()\nwith open('stamps/' + os.environ['BATON_PLAN_ID'], 'w') as f:\n    f.write(str(now))\n"
            .write(toFile: workspace + "/stamp.py", atomically: true, encoding: .utf8)
        try "import time\nprint(time.time_ns(), flush=True)\n".write(toFile: workspace + "/first.py", atomically: true, encoding: .utf8)

        print("Baton orchestrator benchmark — \(ProcessInfo.processInfo.activeProcessorCount) cores, Python \(python.version), W=\(workers), sandbox \(sandbox), "
              + (batch ? "one batch request per 500 plans" : "\(producers) producers over HTTP"))
        print("")
        let node = try await ServeNode.start(binary: binary, name: "bench", database: nil, root: root,
                                             arguments: ["--workers", "\(workers)", "--sandbox", sandbox, "--python", python.path])
        defer { node.stop() }
        guard let token = node.adminToken else { throw BenchmarkFailure("the node wrote no admin token") }
        let client = BatonClient(server: node.url, token: token)

        var floor = Duration.zero
        var baton = Duration.zero
        var cpu = 0.0
        var switches = 0
        var floorCPU = 0.0
        var done = 0
        while done < plans {
            let chunk = min(500, plans - done)
            let spawnerBefore = Floor.ownCPUSeconds()
            floor += try await Floor.spawnLoop(count: chunk, workers: workers, python: python, script: workspace + "/noop.py", workspace: workspace)
            floorCPU += Floor.ownCPUSeconds() - spawnerBefore
            let (cpuBefore, switchesBefore) = (node.cpuSeconds, node.contextSwitches)
            baton += try await ContinuousClock().measure {
                if batch {
                    try await drainBatch(chunk, script: "noop.py", client: client)
                } else {
                    try await drain(chunk, script: "noop.py", producers: producers, client: client)
                }
            }
            cpu += node.cpuSeconds - cpuBefore
            switches += node.contextSwitches - switchesBefore
            done += chunk
        }
        let floorRate = Double(plans) / Floor.seconds(floor)
        let batonRate = Double(plans) / Floor.seconds(baton)
        print(String(format: "%d plans   floor %5.1f plans/s   baton %5.1f plans/s   %5.1f%% of floor   (target ≥ 100%%)",
                     plans, floorRate, batonRate, 100 * batonRate / floorRate))
        print(String(format: "server CPU %.2f ms/plan (target ≤ 1.0)   context switches %.1f/plan   peak RSS %.1f MB (target ≤ 30)",
                     1000 * cpu / Double(plans), Double(switches) / Double(plans), Double(node.peakResidentBytes) / 1_048_576))
        print(String(format: "the floor's spawning loop itself: CPU %.2f ms/plan", 1000 * floorCPU / Double(plans)))

        let floorLatency = try await Floor.firstStatementLatency(samples: samples, python: python, script: workspace + "/first.py", workspace: workspace)
        var batonLatency: [Double] = []
        for _ in 0..<samples {
            let before = Date()
            let id = try await client.enqueue(planJSON: Data(#"{"script": "stamp.py"}"#.utf8)).value.id
            try await awaitSuccess(of: id, client: client)
            let stamp = try String(contentsOfFile: workspace + "/stamps/\(id)", encoding: .utf8)
            batonLatency.append((Double(stamp)! / 1e9 - before.timeIntervalSince1970) * 1000)
        }
        print("")
        print(String(format: "dispatch latency (enqueue request → plan's first statement, idle pool, %d samples): p50 %.1f ms   p99 %.1f ms",
                     samples, Floor.percentile(batonLatency, 0.5), Floor.percentile(batonLatency, 0.99)))
        print(String(format: "floor (spawn → first statement, same interpreter):                                   p50 %.1f ms   p99 %.1f ms",
                     Floor.percentile(floorLatency, 0.5), Floor.percentile(floorLatency, 0.99)))
    }

    /// Runs `count` plans of `script` through `producers` concurrent producers, each enqueueing
    /// one plan and waiting for it to end before it enqueues the next.
    static func drain(_ count: Int, script: String, producers: Int, client: BatonClient) async throws {
        let next = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<producers {
                group.addTask {
                    while await next.take(below: count) {
                        let id = try await client.enqueue(planJSON: Data(#"{"script": "\#(script)"}"#.utf8)).value.id
                        try await awaitSuccess(of: id, client: client)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Enqueues `count` plans of `script` in one request, then waits for the last one to end.
    static func drainBatch(_ count: Int, script: String, client: BatonClient) async throws {
        let body = #"{"plans": ["# + Array(repeating: #"{"script": "\#(script)"}"#, count: count).joined(separator: ",") + "]}"
        let ids = try await client.enqueueBatch(plansJSON: Data(body.utf8)).value.plans.map(\.id)
        for id in ids.suffix(2) { try await awaitSuccess(of: id, client: client) }
    }

    /// Waits until plan `id` has ended, and fails unless it succeeded.
    static func awaitSuccess(of id: Int64, client: BatonClient) async throws {
        while true {
            let plan = try await client.plan(id, wait: 60).value
            guard plan.isTerminal else { continue }
            guard plan.status == "succeeded" else { throw BenchmarkFailure("plan \(id) ended \(plan.status)") }
            return
        }
    }
}

/// Hands out the numbers 0, 1, 2, ... to concurrent producers.
actor Counter {
    private var taken = 0

    /// Takes the next number; false once `limit` numbers are taken.
    func take(below limit: Int) -> Bool {
        guard taken < limit else { return false }
        taken += 1
        return true
    }
}
