import BatonCore
import Foundation
import Logging
import Subprocess
import SystemPackage

/// What the benchmarks compare Baton against, and the small helpers they share.
public enum Floor {
    /// Starts `count` runs of `script` with `python`, `workers` at a time, and waits for them:
    /// the same processes Baton runs, with no queue at all.
    public static func spawnLoop(count: Int, workers: Int, python: PythonInterpreter, script: String, workspace: String) async throws -> Duration {
        try await ContinuousClock().measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                func spawn() {
                    group.addTask {
                        _ = try await Subprocess.run(.path(FilePath(python.path)), arguments: [script],
                                                     workingDirectory: FilePath(workspace), output: .discarded, error: .discarded)
                    }
                }
                var started = 0
                while started < min(workers, count) {
                    spawn()
                    started += 1
                }
                while try await group.next() != nil, started < count {
                    spawn()
                    started += 1
                }
                try await group.waitForAll()
            }
        }
    }

    /// Milliseconds from spawning `script` (which prints `time.time_ns()` first) to that first
    /// statement, one run at a time.
    public static func firstStatementLatency(samples: Int, python: PythonInterpreter, script: String, workspace: String) async throws -> [Double] {
        var latencies: [Double] = []
        for _ in 0..<samples {
            let before = Date()
            let result = try await Subprocess.run(.path(FilePath(python.path)), arguments: [script],
                                                  workingDirectory: FilePath(workspace), output: .string(limit: 1024))
            let started = Double(result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines))! / 1e9
            latencies.append((started - before.timeIntervalSince1970) * 1000)
        }
        return latencies
    }

    /// CPU time this process has used so far (user and system, its children excluded).
    public static func ownCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// The whole number after `name` on the command line (`--plans 500`), or `fallback`.
    public static func option(_ name: String, default fallback: Int) -> Int {
        let arguments = CommandLine.arguments
        return arguments.firstIndex(of: name).flatMap { arguments.indices.contains($0 + 1) ? Int(arguments[$0 + 1]) : nil } ?? fallback
    }

    /// Seconds, as a `Double`, for printing.
    public static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// A fresh directory under the temporary directory; the caller removes it.
    public static func scratchDirectory(_ name: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A logger that prints nothing, so benchmark output is only figures.
    public static let quiet = Logger(label: "benchmark") { _ in SwiftLogNoOpLogHandler() }

    /// The value at `fraction` (0...1) of sorted `samples`.
    public static func percentile(_ samples: [Double], _ fraction: Double) -> Double {
        let sorted = samples.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * fraction + 0.5))]
    }
}
