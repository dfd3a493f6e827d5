import BatonCore
import BatonSQLite
import BenchmarkSupport
import Foundation

/// Runs the same no-op Python processes two ways and prints both wall times and their ratio:
///
/// - the floor: a plain parallel spawn loop, W processes at a time, no queue at all;
/// - Baton: the same plans through `WorkerPool` and `PythonRunner` with W slots (stdin input,
///   captured output, result-block scanning, process-group teardown, rusage).
///
/// Then, where the sandbox runs, the cost of the sandbox: the same plans at W = 2 sandboxed and
/// not (ratio), and start-up — from the runner's start to the plan's first statement — p50 and
/// p99 of each, alternating; and what a plan with requirements pays once its environment is
/// built. Build the main package first (`swift build -c release`) for `baton-confine`.
///
///     swift run -c release --package-path Benchmarks RunnerBenchmark [--plans 500] [--rounds 3]
@main
struct RunnerBenchmark {
    static func main() async throws {
        let plans = Floor.option("--plans", default: 500)
        let rounds = Floor.option("--rounds", default: 3)
        let python = try await PythonInterpreter.resolve()
        let workspace = try Floor.scratchDirectory("baton-runner-bench")
        defer { try? FileManager.default.removeItem(atPath: workspace) }
        try "pass\n".write(toFile: workspace + "/noop.py", atomically: true, encoding: .utf8)

        print("Baton runner benchmark — \(plans) no-op plans, Python \(python.version) at \(python.path), \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print("best of \(rounds) rounds; the floor spawns the same processes with no queue")
        print("")
        for workers in [2, 4] {
            var floor = Duration.seconds(1_000_000)
            var pool = Duration.seconds(1_000_000)
            for _ in 0..<rounds {
                floor = min(floor, try await Floor.spawnLoop(count: plans, workers: workers, python: python, script: workspace + "/noop.py", workspace: workspace))
                pool = min(pool, try await throughPool(plans: plans, workers: workers, python: python, workspace: workspace))
            }
            print(String(format: "W=%d   floor %6.2f s (%5.1f ms/plan)   pool %6.2f s (%5.1f ms/plan)   ratio %.3f×   (target ≤ 1.05×)",
                         workers, Floor.seconds(floor), Floor.seconds(floor) * 1000 / Double(plans), Floor.seconds(pool),
                         Floor.seconds(pool) * 1000 / Double(plans), Floor.seconds(pool) / Floor.seconds(floor)))
        }
        try await sandboxCost(plans: plans, rounds: rounds, python: python, workspace: workspace)
    }

    static func sandboxCost(plans: Int, rounds: Int, python: PythonInterpreter, workspace: String) async throws {
        print("")
        guard case .on(let sandbox) = try await Sandbox.decide(.auto, options: .init(confine: confine)) else {
            print("sandbox: cannot run here (or baton-confine is not built: swift build -c release --product baton-confine); not measured")
            return
        }
        var open = Duration.seconds(1_000_000)
        var sandboxed = Duration.seconds(1_000_000)
        for _ in 0..<rounds {
            open = min(open, try await throughPool(plans: plans, workers: 2, python: python, workspace: workspace))
            sandboxed = min(sandboxed, try await throughPool(plans: plans, workers: 2, python: python, workspace: workspace, sandbox: sandbox))
        }
        print(String(format: "W=2   unsandboxed %6.2f s (%5.1f ms/plan)   sandboxed %6.2f s (%5.1f ms/plan)   ratio %.3f×   (target ≤ 1.05×)",
                     Floor.seconds(open), Floor.seconds(open) * 1000 / Double(plans), Floor.seconds(sandboxed),
                     Floor.seconds(sandboxed) * 1000 / Double(plans), Floor.seconds(sandboxed) / Floor.seconds(open)))
        try "import time\nprint(time.time_ns(), flush=True)\n".write(toFile: workspace + "/stamp.py", atomically: true, encoding: .utf8)
        let plain = PythonRunner(configuration: .init(interpreter: python, workspaceRoot: workspace), logger: Floor.quiet)
        var configuration = PythonRunner.Configuration(interpreter: python, workspaceRoot: workspace)
        configuration.sandbox = sandbox
        let walled = PythonRunner(configuration: configuration, logger: Floor.quiet)
        let stamp = try await claimedPlans(1, script: "stamp.py")[0]
        var plainLatency: [Double] = []
        var sandboxLatency: [Double] = []
        for _ in 0..<200 {
            plainLatency.append(try await firstStatement(of: stamp, by: plain))
            sandboxLatency.append(try await firstStatement(of: stamp, by: walled))
        }
        print(String(format: "start-up (runner start → first statement, 200 each): unsandboxed p50 %.1f ms  p99 %.1f ms   sandboxed p50 %.1f ms  p99 %.1f ms",
                     Floor.percentile(plainLatency, 0.5), Floor.percentile(plainLatency, 0.99),
                     Floor.percentile(sandboxLatency, 0.5), Floor.percentile(sandboxLatency, 0.99)))
        try await environmentReuse(python: python, workspace: workspace, sandbox: sandbox, stamp: stamp)
    }

    /// `baton-confine` of the main package's release build, which `swift build -c release` makes.
    static let confine = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".build/release/baton-confine").path

    /// What a plan with requirements pays once its environment exists: start-up of a plan whose
    /// set is cached against one with no requirements, alternating (after one build, timed).
    static func environmentReuse(python: PythonInterpreter, workspace: String, sandbox: Sandbox, stamp: Plan) async throws {
        let data = try Floor.scratchDirectory("baton-runner-bench-envs")
        defer { try? FileManager.default.removeItem(atPath: data) }
        var configuration = PythonRunner.Configuration(interpreter: python, workspaceRoot: workspace)
        configuration.sandbox = sandbox
        configuration.environments = EnvironmentStore(directory: data + "/envs")
        let runner = PythonRunner(configuration: configuration, logger: Floor.quiet)
        var withSet = stamp
        withSet.runtime = PlanRuntime(requirements: ["termcolor==2.4.0"])
        let build = try await ContinuousClock().measure { _ = try await firstStatement(of: withSet, by: runner) }
        var bare: [Double] = []
        var cached: [Double] = []
        for _ in 0..<100 {
            bare.append(try await firstStatement(of: stamp, by: runner))
            cached.append(try await firstStatement(of: withSet, by: runner))
        }
        let (bareP50, cachedP50) = (Floor.percentile(bare, 0.5), Floor.percentile(cached, 0.5))
        print(String(format: "environments (sandboxed, 100 each): first plan with a new set %.1f s (venv + pip install)   start-up with the set cached p50 %.1f ms  p99 %.1f ms   no requirements p50 %.1f ms  p99 %.1f ms   difference p50 %+.1f ms   (target ≤ 5 ms)",
                     Floor.seconds(build), cachedP50, Floor.percentile(cached, 0.99), bareP50, Floor.percentile(bare, 0.99), cachedP50 - bareP50))
    }

    /// Milliseconds from asking `runner` to run `plan` (which prints `time.time_ns()`) to that print.
    static func firstStatement(of plan: Plan, by runner: PythonRunner) async throws -> Double {
        let before = Date()
        let report = await runner.run(plan, attempt: 1, control: RunControl()) { _ in }
        guard let stamp = Double(report.stdout.text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw BenchmarkFailure("the stamp plan printed \(report.stdout.text) \(report.stderr.text)")
        }
        return (stamp / 1e9 - before.timeIntervalSince1970) * 1000
    }

    /// `count` no-op plans, enqueued and claimed from a real store before the clock starts.
    static func claimedPlans(_ count: Int, script: String = "noop.py") async throws -> [Plan] {
        let directory = try Floor.scratchDirectory("baton-runner-bench-db")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try await SQLitePlanStore(configuration: .init(path: directory + "/baton.sqlite"), logger: Floor.quiet)
        var plans: [Plan] = []
        while plans.count < count {
            let batch = min(1_000, count - plans.count)
            _ = try await store.enqueueBatch(Array(repeating: PlanSpec(entryPoint: .script(script), triggeredBy: "benchmark"), count: batch), now: Date())
            plans += try await store.claim(limit: batch, owner: "bench", leaseDuration: .seconds(3600), now: Date())
        }
        await store.close()
        return plans
    }

    /// Baton: every plan through the pool, refilled the moment a slot frees up.
    static func throughPool(plans: Int, workers: Int, python: PythonInterpreter, workspace: String, sandbox: Sandbox? = nil) async throws -> Duration {
        var configuration = PythonRunner.Configuration(interpreter: python, workspaceRoot: workspace)
        configuration.sandbox = sandbox
        let runner = PythonRunner(configuration: configuration, logger: Floor.quiet)
        let (freed, freedSlots) = AsyncStream.makeStream(of: Void.self)
        let pool = WorkerPool(slots: workers, runner: runner, slotFreed: freedSlots)
        let service = Task { await pool.run() }
        let (done, finished) = AsyncStream.makeStream(of: PlanStatus.self)
        let claimed = try await claimedPlans(plans)
        let elapsed = await ContinuousClock().measure {
            var next = 0
            var freedIterator = freed.makeAsyncIterator()
            while next < plans {
                while next < plans {
                    guard await pool.start(claimed[next], attempt: 1, onFinish: { finished.yield($0.outcome.status) }) else { break }
                    next += 1
                }
                if next < plans { _ = await freedIterator.next() }
            }
            var count = 0
            for await status in done {
                precondition(status == .succeeded, "a no-op plan ended \(status)")
                count += 1
                if count == plans { break }
            }
        }
        service.cancel()
        await service.value
        return elapsed
    }
}
