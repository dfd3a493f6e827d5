import BatonCore
import BatonPostgres
import BatonSQLite
import BenchmarkSupport
import Foundation
import Logging

/// Measures a plan store and prints the figures: single-plan enqueue rate (one transaction
/// each), batch enqueue rate (1,000 per transaction), and single-plan claim latency at several
/// queue depths. SQLite runs on a real file in WAL mode; `--store postgres` runs the same
/// against a PostgreSQL server the benchmark starts itself (a new database per measurement).
///
///     swift run -c release --package-path Benchmarks StoreBenchmark [--quick] [--synchronous full] [--store postgres]
@main
struct StoreBenchmark {
    /// Where the measured stores live.
    enum Kind {
        case sqlite(SQLiteSynchronous)
        case postgres(ThrowawayPostgres)
    }

    static func main() async throws {
        let arguments = CommandLine.arguments.dropFirst()
        let quick = arguments.contains("--quick")
        let synchronous: SQLiteSynchronous = arguments.contains("full") ? .full : .normal
        let depths = quick ? [1_000, 10_000] : [1_000, 100_000, 1_000_000]
        let kind: Kind
        if arguments.contains("postgres") {
            let server = try await ThrowawayPostgres.start()
            kind = .postgres(server)
            print("Baton store benchmark — PostgreSQL (its own server, synchronous_commit=off), \(ProcessInfo.processInfo.activeProcessorCount) cores")
        } else {
            kind = .sqlite(synchronous)
            print("Baton store benchmark — SQLite WAL, synchronous=\(synchronous.rawValue), \(ProcessInfo.processInfo.activeProcessorCount) cores")
        }
        print("")
        do {
            try await measure(kind, quick: quick, depths: depths)
        } catch {
            if case .postgres(let server) = kind { await server.stop() }
            throw error
        }
        if case .postgres(let server) = kind { await server.stop() }
    }

    static func measure(_ kind: Kind, quick: Bool, depths: [Int]) async throws {

        let singles = try await measureSingleEnqueue(count: quick ? 2_000 : 10_000, on: kind)
        print(String(format: "single enqueue     %9.0f plans/s   (one transaction each; target ≥ 5,000)", singles))

        let batched = try await measureBatchEnqueue(batches: quick ? 20 : 100, on: kind)
        print(String(format: "batch enqueue      %9.0f plans/s   (1,000 per transaction; target ≥ 50,000)", batched))
        print("")

        var medians: [Int: Double] = [:]
        for depth in depths {
            let latency = try await measureClaimLatency(depth: depth, claims: 1_000, on: kind)
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

    /// A new, empty store of `kind` for `body`; removed afterwards (SQLite) or left to the
    /// server's removal (PostgreSQL).
    static func withStore<T>(_ kind: Kind, _ body: (any PlanStore) async throws -> T) async throws -> T {
        let quiet = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        let store: any PlanStore
        var directory: URL?
        switch kind {
        case .sqlite(let synchronous):
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("baton-bench-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            directory = folder
            var configuration = SQLitePlanStore.Configuration(path: folder.appendingPathComponent("baton.sqlite").path)
            configuration.synchronous = synchronous
            store = try await SQLitePlanStore(configuration: configuration, logger: quiet)
        case .postgres(let server):
            store = try await PostgresPlanStore(configuration: .init(url: try await server.createDatabase()), logger: quiet)
        }
        defer { if let directory { try? FileManager.default.removeItem(at: directory) } }
        let value = try await body(store)
        await store.close()
        return value
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    static func measureSingleEnqueue(count: Int, on kind: Kind) async throws -> Double {
        try await withStore(kind) { store in
            let now = Date()
            let elapsed = try await ContinuousClock().measure {
                for index in 0..<count {
                    _ = try await store.enqueue(ciPlan(index), now: now)
                }
            }
            return Double(count) / seconds(elapsed)
        }
    }

    static func measureBatchEnqueue(batches: Int, on kind: Kind) async throws -> Double {
        try await withStore(kind) { store in
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
    static func measureClaimLatency(depth: Int, claims: Int, on kind: Kind) async throws -> (median: Double, p99: Double) {
        try await withStore(kind) { store in
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
