import BatonClient
import BatonTestSupport
import Foundation
import Subprocess
import Synchronization
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The built `baton` executable: next to the test bundle, where `swift build` and `swift test`
/// put it, unless `BATON_BINARY` names another.
enum BatonBinary {
    static let path: String = {
        if let configured = ProcessInfo.processInfo.environment["BATON_BINARY"] { return configured }
        let testExecutable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = testExecutable.deletingLastPathComponent()
        // On Linux the tests run from `<build>/<name>.xctest`; elsewhere from inside a bundle.
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("baton").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        return "baton-not-built: run `swift build` first"
    }()
}

/// What a `baton` command did.
struct CommandResult: CustomStringConvertible {
    /// The exit code; -1 when the command was killed by a signal instead.
    let status: Int32
    let stdout: String
    let stderr: String

    var description: String { "exit \(status)\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)" }

    /// stdout as a JSON object.
    var object: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [String: Any] ?? [:]
    }
}

/// Runs `baton` with `arguments` and waits for it. The caller's BATON_* variables are removed
/// first, so only `environment` configures it. `whileRunning`, if given, is called with the
/// process id and a reader of what it has written to stderr so far, while the command runs (to
/// signal it once it says it is ready, say).
func baton(
    _ arguments: [String], environment: [String: String] = [:], input: String? = nil, executable: String = BatonBinary.path,
    whileRunning: ((_ pid: pid_t, _ stderrSoFar: @Sendable () -> String) async throws -> Void)? = nil
) async throws -> CommandResult {
    // Output goes to files, so that it is complete whatever the command and `whileRunning` do.
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("baton-cmd-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let stdout = try FileDescriptor.open(FilePath(directory + "/stdout"), .writeOnly, options: [.create], permissions: .ownerReadWrite)
    let stderr = try FileDescriptor.open(FilePath(directory + "/stderr"), .writeOnly, options: [.create], permissions: .ownerReadWrite)
    // A safety limit, not a timing test: a command that hangs must not hang the suite.
    let started = Mutex<pid_t?>(nil)
    let watchdog = Task {
        try await Task.sleep(for: .seconds(180))
        if let pid = started.withLock({ $0 }) { kill(pid, SIGKILL) }
    }
    defer { watchdog.cancel() }
    let result = try await Subprocess.run(
        .path(FilePath(executable)),
        arguments: Arguments(arguments),
        environment: .inherit.updating(isolatedEnvironment(environment)),
        input: .string(input ?? ""),
        output: .fileDescriptor(stdout, closeAfterSpawningProcess: true),
        error: .fileDescriptor(stderr, closeAfterSpawningProcess: true)
    ) { execution in
        started.withLock { $0 = execution.processIdentifier.value }
        let errorPath = directory + "/stderr"
        try await whileRunning?(execution.processIdentifier.value) { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }
    }
    let status: Int32 = switch result.terminationStatus {
    case .exited(let code): code
    case .signaled: -1
    }
    return CommandResult(
        status: status,
        stdout: (try? String(contentsOfFile: directory + "/stdout", encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: directory + "/stderr", encoding: .utf8)) ?? ""
    )
}

/// This process's environment without any `BATON_*` variable of the caller's (a developer's
/// shell may set some), plus `environment`.
func isolatedEnvironment(_ environment: [String: String]) -> [Environment.Key: String?] {
    var updates: [Environment.Key: String?] = [:]
    for name in ProcessInfo.processInfo.environment.keys where name.hasPrefix("BATON_") && name != "BATON_BINARY" {
        updates[Environment.Key(rawValue: name)!] = nil
    }
    for (name, value) in environment { updates[Environment.Key(rawValue: name)!] = value }
    return updates
}

/// A `baton serve` process on a free loopback port, with its log in a file.
struct ServerProcess: Sendable {
    let url: String
    let dataDir: String
    let logPath: String
    let processID: pid_t

    /// The admin token the server wrote on its first start.
    var adminToken: String {
        (try? String(contentsOfFile: dataDir + "/admin.token", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }

    /// The environment that points client commands at this server with `token`.
    func environment(token: String? = nil) -> [String: String] {
        ["BATON_SERVER": url, "BATON_TOKEN": token ?? adminToken]
    }

    /// A client library connection, to compare the CLI with the API.
    var client: BatonClient { BatonClient(server: URL(string: url)!, token: adminToken) }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func send(_ signal: Int32) {
        kill(processID, signal)
    }

    /// Starts `baton serve` on `dataDir`, runs `body` while it serves, then stops it with
    /// SIGTERM (if `body` has not killed it) and waits for it to exit; returns how it exited.
    @discardableResult
    static func with(
        dataDir: String, workspace: String, arguments: [String] = [], environment: [String: String] = [:],
        executable: String = BatonBinary.path, _ body: (ServerProcess) async throws -> Void
    ) async throws -> TerminationStatus {
        let logPath = dataDir + ".log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileDescriptor.open(FilePath(logPath), .writeOnly, options: [.append])
        let result = try await Subprocess.run(
            .path(FilePath(executable)),
            arguments: Arguments(["serve", "--data-dir", dataDir, "--workspace", workspace, "--port", "0", "--poll-interval", "1"] + arguments),
            environment: .inherit.updating(isolatedEnvironment(environment)),
            input: .none,
            output: .fileDescriptor(log, closeAfterSpawningProcess: false),
            error: .fileDescriptor(log, closeAfterSpawningProcess: true)
        ) { execution in
            let processID = execution.processIdentifier.value
            defer { kill(processID, SIGTERM) }
            var url: String?
            let listening = await eventually(within: .seconds(60)) {
                url = Self.listeningAddress(in: (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")
                return url != nil
            }
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            try #require(listening, "baton serve did not start listening:\n\(log)")
            try await body(ServerProcess(url: url!, dataDir: dataDir, logPath: logPath, processID: processID))
        }
        return result.terminationStatus
    }

    /// The address in the start-up line `Baton listening on http://127.0.0.1:PORT`.
    static func listeningAddress(in log: String) -> String? {
        guard let range = log.range(of: "Baton listening on ") else { return nil }
        return log[range.upperBound...].prefix { !$0.isWhitespace && $0 != "\"" }.description
    }
}

/// A fresh directory for one test: a data directory path and a workspace with the example plans.
struct TestDirectory {
    let root: String
    var dataDir: String { root + "/data" }
    var workspace: String { root + "/workspace" }

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("baton-e2e-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
    }

    /// Writes a script into the workspace.
    func write(script name: String, _ source: String) throws {
        try source.write(toFile: workspace + "/" + name, atomically: true, encoding: .utf8)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: root)
    }
}
