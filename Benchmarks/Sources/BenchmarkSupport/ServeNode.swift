import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A `baton serve` process of the benchmark's, on a free loopback port, with a data directory,
/// a workspace and a log file of its own.
public final class ServeNode: Sendable {
    public let name: String
    public let url: URL
    public let dataDir: String
    private let process: Process

    private init(name: String, url: URL, dataDir: String, process: Process) {
        self.name = name
        self.url = url
        self.dataDir = dataDir
        self.process = process
    }

    /// Starts node `name` on `database` (none: SQLite in its data directory) and returns once it
    /// listens. Its workspace is `root/workspace-NAME`.
    public static func start(binary: String, name: String, database: String?, root: String, arguments: [String]) async throws -> ServeNode {
        let dataDir = root + "/data-" + name
        let logPath = root + "/" + name + ".log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--node-name", name, "--data-dir", dataDir, "--workspace", root + "/workspace-" + name, "--port", "0"]
            + (database.map { ["--database", $0] } ?? []) + arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("BATON_") }
        process.standardOutput = FileHandle(forWritingAtPath: logPath)
        process.standardError = process.standardOutput
        try process.run()
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline, process.isRunning {
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            if let range = log.range(of: "Baton listening on ") {
                let address = log[range.upperBound...].prefix { !$0.isWhitespace && $0 != "\"" }
                return ServeNode(name: name, url: URL(string: String(address))!, dataDir: dataDir, process: process)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.terminate()
        throw BenchmarkFailure("node \(name) did not start:\n" + ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""))
    }

    /// The admin token, if this node made it (the first node on a new database does).
    public var adminToken: String? {
        (try? String(contentsOfFile: dataDir + "/admin.token", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// CPU time the node's own process has used (user and system, its children excluded), from
    /// `/proc/PID/stat`.
    public var cpuSeconds: Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")") else { return 0 }
        // Fields after the command name, which ends at the last ")": state is field 3, utime 14, stime 15.
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
        return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The most resident memory the node's process has had (`VmHWM`), in bytes.
    public var peakResidentBytes: Int {
        (status(of: "/proc/\(process.processIdentifier)/status")["VmHWM"] ?? 0) * 1024
    }

    /// Context switches of every thread of the node's process so far, voluntary and not.
    public var contextSwitches: Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.processIdentifier)/task")) ?? []
        return tasks.reduce(0) { total, task in
            let fields = status(of: "/proc/\(process.processIdentifier)/task/\(task)/status")
            return total + (fields["voluntary_ctxt_switches"] ?? 0) + (fields["nonvoluntary_ctxt_switches"] ?? 0)
        }
    }

    /// The leading whole number of each `Name: value` line of a `/proc` status file.
    private func status(of path: String) -> [String: Int] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        var fields: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) }
            fields[String(line[..<colon])] = value
        }
        return fields
    }

    /// The process id of the node's `baton serve`.
    public var pid: Int32 { process.processIdentifier }

    /// Kills the node with SIGKILL, as a crash would, and reaps it. Its plans' processes live on.
    public func crash() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Stops the node with SIGTERM, as its supervisor would, and waits for it to exit.
    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }
}

/// The release build of `baton` the benchmarks start: `--baton PATH`, else `.build/release/baton`
/// of the current or the parent directory.
public func batonBinary() throws -> String {
    let arguments = CommandLine.arguments
    if let index = arguments.firstIndex(of: "--baton"), arguments.indices.contains(index + 1) { return arguments[index + 1] }
    let candidates = [".build/release/baton", "../.build/release/baton"]
    guard let found = candidates.first(where: FileManager.default.isExecutableFile(atPath:)) else {
        throw BenchmarkFailure("no release build of baton in .build/release: run `swift build -c release` first, or pass --baton PATH")
    }
    return FileManager.default.currentDirectoryPath + "/" + found
}
