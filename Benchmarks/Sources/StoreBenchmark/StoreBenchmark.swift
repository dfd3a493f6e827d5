import BatonCore
import BatonSQLite
import Foundation
import Logging

/// Measures the plan store on a real file in WAL mode and prints the figures:
/// single-plan enqueue rate (one transaction each), batch enqueue rate (1,000 per transaction),
/// and single-plan claim latency at several queue depths.
///
///     swift run -c release --package-path Benchmarks StoreBenchmark [--quick] [--synchronous full]
@main
struct StoreBenchmark {
    static func main() async throws {
        let arguments = CommandLine.arguments.dropFirst()
        let quick = arguments.contains("--quick")
        let synchronous: SQLiteSynchronous = arguments.contains("full") ? .full : .normal
        let depths = quick ? [1_000, 10_000] : [1_000, 100_000, 1_000_000]

        print("Baton store benchmark — SQLite WAL, synchronous=\(synchronous.rawValue), \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print("")

        let singles = try await measureSingleEnqueue(count: quick ? 2_000 : 10_000, synchronous: synchronous)
        print(String(format: "single enqueue     %9.0f plans/s   (one transaction each; target ≥ 5,000)", singles))

        let batched = try await measureBatchEnqueue(batches: quick ? 20 : 100, synchronous: synchronous)
        print(String(format: "batch enqueue      %9.0f plans/s   (1,000 per transaction; target ≥ 50,000)", batched))
        print("")

        var medians: [Int: Double] = [:]
        for depth in depths {
            let latency = try await measureClaimLatency(depth: depth, claims: 1_000, synchronous: synchronous)
            medians[depth] = latency.median
            print(String(format: "claim at %9d queued   median %7.1f µs   p99 %7.1f µs", depth, latency.median, latency.p99))
        }
        if let first = depths.first, let last = depths.last, let low = medians[first], let high = medians[last] {
            print(String(format: "claim median at %d ÷ at %d: %.2f×   (target ≤ 1.5×)", last, first, high / low))
        }
    }

    /// A plan as CI sends it: a script, a small input and two labels.
    static func ciPlan(_ index: Int) -> PlanSpec {
        PlanSpec(
            entryPoint: .script("tests/test_suite_\(index % 50).py"),
            input: JSONText(unchecked: #"{"shard": \#(index % 8), "retries": 0}"#),
            priority: index % 10,
            labels: ["branch": "main", "ci_job": "\(index / 100)"],
            triggeredBy: "benchmark"
        )
    }

    static func withStore<T>(synchronous: SQLiteSynchronous, _ body: (SQLitePlanStore) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("baton-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = SQLitePlanStore.Configuration(path: directory.appendingPathComponent("baton.sqlite").path)
        configuration.synchronous = synchronous
        let store = try await SQLitePlanStore(configuration: configuration, logger: Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() })
        let value = try await body(store)
        await store.close()
        return value
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    static func measureSingleEnqueue(count: Int, synchronous: SQLiteSynchronous) async throws -> Double {
        try await withStore(synchronous: synchronous) { store in
            let now = Date()
            let elapsed = try await ContinuousClock().measure {
                for index in 0..<count {
                    _ = try await store.enqueue(ciPlan(index), now: now)
                }
            }
            return Double(count) / seconds(elapsed)
        }
    }

    static func measureBatchEnqueue(batches: Int, synchronous: SQLiteSynchronous) async throws -> Double {
        try await withStore(synchronous: synchronous) { store in
            let now = Date()
            let specs = (0..<batches).map { batch in (0..<1_000).map { ciPlan(batch * 1_000 + $0) } }
            let elapsed = try await ContinuousClock().measure {
                for batch in specs {
                    _ = try await store.enqueueBatch(batch, now: now)
                }
            }
            return Double(batches * 1_000) / seconds(elapsed)
        }
    }

    /// Fills the queue to `depth`, then times `claims` single-plan claims. After each claim one
    /// plan is enqueued (untimed), so the depth stays put while claimed plans pile up as running.
    static func measureClaimLatency(depth: Int, claims: Int, synchronous: SQLiteSynchronous) async throws -> (median: Double, p99: Double) {
        try await withStore(synchronous: synchronous) { store in
            let now = Date()
            var filled = 0
            while filled < depth {
                let size = min(1_000, depth - filled)
                _ = try await store.enqueueBatch((0..<size).map { ciPlan(filled + $0) }, now: now)
                filled += size
            }
            let clock = ContinuousClock()
            var samples: [Double] = []
            samples.reserveCapacity(claims)
            for index in 0..<claims {
                let start = clock.now
                let claimed = try await store.claim(limit: 1, owner: "bench", leaseDuration: .seconds(60), now: now)
                samples.append(seconds(clock.now - start) * 1e6)
                precondition(claimed.count == 1, "the queue ran dry")
                _ = try await store.enqueue(ciPlan(depth + index), now: now)
            }
            samples.sort()
            return (samples[samples.count / 2], samples[min(samples.count - 1, samples.count * 99 / 100)])
        }
    }
}
