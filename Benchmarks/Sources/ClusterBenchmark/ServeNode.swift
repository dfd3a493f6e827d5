import BatonClient
import BenchmarkSupport
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A `baton serve` process of the benchmark's, on a free loopback port, with a data directory,
/// a workspace and a log file of its own.
final class ServeNode: Sendable {
    let name: String
    let url: URL
    let dataDir: String
    private let process: Process

    private init(name: String, url: URL, dataDir: String, process: Process) {
        self.name = name
        self.url = url
        self.dataDir = dataDir
        self.process = process
    }

    /// Starts node `name` on `database` and returns once it listens.
    static func start(binary: String, name: String, database: String, root: String, arguments: [String]) async throws -> ServeNode {
        let dataDir = root + "/data-" + name
        let logPath = root + "/" + name + ".log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--database", database, "--node-name", name, "--data-dir", dataDir,
                             "--workspace", root + "/workspace-" + name, "--port", "0"] + arguments
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
    var adminToken: String? {
        (try? String(contentsOfFile: dataDir + "/admin.token", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// CPU time the node's own process has used (user and system, its children excluded), from
    /// `/proc/PID/stat`.
    var cpuSeconds: Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")") else { return 0 }
        // Fields after the command name, which ends at the last ")": state is field 3, utime 14, stime 15.
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
        return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Kills the node with SIGKILL, as a crash would, and reaps it. Its plans' processes live on.
    func crash() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Stops the node with SIGTERM, as its supervisor would, and waits for it to exit.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }
}
