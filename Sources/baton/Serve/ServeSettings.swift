import ArgumentParser
import BatonCore
import BatonPostgres
import BatonSQLite
import Foundation
import Logging

/// The settings of `baton serve` (design §8): flag, else `BATON_*` environment variable, else
/// config file, else default; each checked with a message naming the setting to fix.
struct Settings {
    /// How log lines are written.
    enum LogFormat: String {
        case text, json
    }

    /// Which store holds the queue (`--database`).
    enum Database: CustomStringConvertible {
        /// The embedded default: one SQLite file.
        case sqlite(path: String)
        /// A PostgreSQL database that several nodes may share.
        case postgres(PostgresURL)

        /// The store's location as logs and errors show it: never with a password.
        var description: String {
            switch self {
            case .sqlite(let path): path
            case .postgres(let url): url.description
            }
        }
    }

    /// The flag names of the settings; the environment variable of each is `BATON_` + the name in
    /// upper snake case.
    static let names = [
        "data-dir", "database", "node-name", "host", "port", "workers", "poll-interval", "lease", "heartbeat-interval", "kill-grace",
        "drain-timeout", "orphan-cap", "retention", "python", "workspace", "default-timeout", "max-timeout", "max-output-bytes",
        "max-body-bytes", "max-wait", "synchronous", "log-level", "log-format", "sandbox", "plan-user", "plan-memory",
        "plan-processes",
    ]

    static func variable(_ name: String) -> String {
        "BATON_" + name.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    let dataDir: String
    let database: Database
    let nodeName: String
    let host: String
    let port: Int
    let workers: Int
    let pollInterval: Double
    let lease: Double
    let heartbeatInterval: Double
    let killGrace: Double
    let drainTimeout: Double
    let orphanCap: Int
    /// Seconds; `nil` keeps ended plans until pruned by hand.
    let retention: Double?
    let python: String?
    let workspace: String
    let helperDirectory: String?
    let defaultTimeout: Int
    let maxTimeout: Int
    let maxOutputBytes: Int
    let maxBodyBytes: Int
    let maxWait: Int
    let synchronous: SQLiteSynchronous
    let logLevel: Logger.Level
    let logFormat: LogFormat
    let sandbox: Sandbox.Mode
    /// `nil`: the default, ``PlanUser/defaultName`` when the server is root.
    let planUser: String?
    let planLimits: ResourceLimits
    /// Files of the server's that plans must not see, beside the data directory: the database
    /// when it lies outside it, and the configuration file.
    let privateFiles: [String]

    init(_ flags: Serve, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let configPath = flags.config ?? environment["BATON_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        let file = try configPath.map {
            try ConfigFile(path: $0, knownNames: Set(Self.names.map(Self.variable) + ["BATON_HELPER_DIR", "BATON_DATABASE_PASSWORD"])).values
        } ?? [:]
        let environment = file.merging(environment.filter { !$0.value.isEmpty }, uniquingKeysWith: { $1 })
        func value<T>(_ flag: T?, _ name: String, _ parse: (String) -> T?) throws -> T? {
            if let flag { return flag }
            let variable = Self.variable(name)
            guard let text = environment[variable], !text.isEmpty else { return nil }
            let origin = file[variable] == text && configPath != nil ? " (in \(configPath!))" : ""
            guard let parsed = parse(text) else { throw ValidationError("\(variable)=\(text)\(origin) is not a valid value for --\(name)") }
            return parsed
        }
        func check(_ condition: Bool, _ message: String) throws {
            if !condition { throw ValidationError(message) }
        }
        let cwd = FileManager.default.currentDirectoryPath
        dataDir = try value(flags.dataDir, "data-dir", { $0 }) ?? cwd + "/.baton"
        let databaseText = try value(flags.database, "database", { $0 })
        if let databaseText, PostgresURL.isPostgres(databaseText) {
            do {
                database = .postgres(try PostgresURL(databaseText, environment: environment))
            } catch {
                throw ValidationError("--database: \(error)")
            }
        } else {
            database = .sqlite(path: databaseText ?? SQLitePlanStore.Configuration.databasePath(inDataDirectory: dataDir))
        }
        host = try value(flags.host, "host", { $0 }) ?? "127.0.0.1"
        port = try value(flags.port, "port", Int.init) ?? 8080
        try check((0...65535).contains(port), "--port must be from 0 to 65535; got \(port)")
        nodeName = try value(flags.nodeName, "node-name", { $0 }) ?? BatonNode.defaultName(port: port)
        try check(NodeName.isValid(nodeName), "--node-name must be 1 to 128 letters, digits and . _ : - (not *); got \(nodeName)")
        workers = try value(flags.workers, "workers", Int.init) ?? ProcessInfo.processInfo.activeProcessorCount
        try check(workers >= 1, "--workers must be at least 1; got \(workers)")
        try check(workers <= 1024, "--workers must be at most 1024; got \(workers)")
        pollInterval = try value(flags.pollInterval, "poll-interval", Double.init) ?? 5
        try check(pollInterval.isFinite && (0.1...3600).contains(pollInterval), "--poll-interval must be from 0.1 to 3600 seconds; got \(pollInterval)")
        lease = try value(flags.lease, "lease", Double.init) ?? 60
        try check(lease.isFinite && (3...86_400).contains(lease), "--lease must be from 3 to 86400 seconds; got \(lease)")
        heartbeatInterval = try value(flags.heartbeatInterval, "heartbeat-interval", Double.init) ?? lease / 6
        // Three beats per lease at least, so that a node cut off from the database notices in time
        // to stop its runs before their leases run out (self-fencing).
        try check(heartbeatInterval.isFinite && heartbeatInterval >= 0.1 && heartbeatInterval <= lease / 3,
                  "--heartbeat-interval must be from 0.1 seconds to a third of --lease (\(lease / 3)); got \(heartbeatInterval)")
        killGrace = try value(flags.killGrace, "kill-grace", Double.init) ?? 5
        try check(killGrace.isFinite && (0...300).contains(killGrace), "--kill-grace must be from 0 to 300 seconds; got \(killGrace)")
        drainTimeout = try value(flags.drainTimeout, "drain-timeout", Double.init) ?? 30
        try check(drainTimeout.isFinite && (0...3600).contains(drainTimeout), "--drain-timeout must be from 0 to 3600 seconds; got \(drainTimeout)")
        orphanCap = try value(flags.orphanCap, "orphan-cap", Int.init) ?? 3
        try check((0...1000).contains(orphanCap), "--orphan-cap must be from 0 to 1000; got \(orphanCap)")
        let retentionText = try value(flags.retention, "retention", { $0 })
        if let retentionText, retentionText != "off" {
            guard let parsed = DurationText(retentionText), parsed.seconds >= 60 else {
                throw ValidationError("--retention takes an age of at least a minute like 30d, 12h or 90m, or off; got \(retentionText)")
            }
            retention = parsed.seconds
        } else {
            retention = nil
        }
        python = try value(flags.python, "python", { $0 })
        workspace = try value(flags.workspace, "workspace", { $0 }) ?? cwd
        var isDirectory: ObjCBool = false
        try check(FileManager.default.fileExists(atPath: workspace, isDirectory: &isDirectory) && isDirectory.boolValue,
                  "--workspace \(workspace) is not a directory")
        defaultTimeout = try value(flags.defaultTimeout, "default-timeout", Int.init) ?? 60
        maxTimeout = try value(flags.maxTimeout, "max-timeout", Int.init) ?? 3600
        try check(defaultTimeout > 0, "--default-timeout must be more than 0; got \(defaultTimeout)")
        try check(maxTimeout >= defaultTimeout, "--max-timeout (\(maxTimeout)) must be at least --default-timeout (\(defaultTimeout))")
        try check(maxTimeout <= 7 * 86_400, "--max-timeout must be at most 604800 seconds (7 days); got \(maxTimeout)")
        maxOutputBytes = try value(flags.maxOutputBytes, "max-output-bytes", Int.init) ?? 1 << 20
        try check((1024...(256 << 20)).contains(maxOutputBytes), "--max-output-bytes must be from 1024 to 268435456; got \(maxOutputBytes)")
        maxBodyBytes = try value(flags.maxBodyBytes, "max-body-bytes", Int.init) ?? 1 << 20
        try check((1024...(64 << 20)).contains(maxBodyBytes), "--max-body-bytes must be from 1024 to 67108864; got \(maxBodyBytes)")
        maxWait = try value(flags.maxWait, "max-wait", Int.init) ?? 300
        try check((1...300).contains(maxWait), "--max-wait must be from 1 to 300 seconds; got \(maxWait)")
        let mode = try value(flags.synchronous, "synchronous", { $0 }) ?? "normal"
        guard let synchronous = SQLiteSynchronous(rawValue: mode) else { throw ValidationError("--synchronous must be normal or full; got \(mode)") }
        self.synchronous = synchronous
        let level = try value(flags.logLevel, "log-level", { $0 }) ?? "info"
        guard let logLevel = Logger.Level(rawValue: level) else {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")); got \(level)")
        }
        self.logLevel = logLevel
        let format = try value(flags.logFormat, "log-format", { $0 }) ?? "text"
        guard let logFormat = LogFormat(rawValue: format) else { throw ValidationError("--log-format must be text or json; got \(format)") }
        self.logFormat = logFormat
        let sandboxText = try value(flags.sandbox, "sandbox", { $0 }) ?? "auto"
        guard let sandbox = Sandbox.Mode(rawValue: sandboxText) else { throw ValidationError("--sandbox must be auto, on or off; got \(sandboxText)") }
        self.sandbox = sandbox
        planUser = try value(flags.planUser, "plan-user", { $0 })
        let memoryText = try value(flags.planMemory, "plan-memory", { $0 }) ?? "2GiB"
        guard let memory = Self.megabytes(memoryText), PlanResourceRequest.memoryMBRange.contains(memory) else {
            throw ValidationError("--plan-memory takes a size from 16MiB to 1TiB such as 2GiB or 512MiB (a bare number is MiB); got \(memoryText)")
        }
        let processes = try value(flags.planProcesses, "plan-processes", Int.init) ?? ResourceLimits.defaultProcesses
        try check(PlanResourceRequest.processesRange.contains(processes), "--plan-processes must be from 1 to 65536; got \(processes)")
        planLimits = ResourceLimits(memoryBytes: Int64(memory) << 20, processes: processes)
        var privateFiles = configPath.map { [$0] } ?? []
        if case .sqlite(let path) = database { privateFiles += [path, path + "-wal", path + "-shm"] }
        self.privateFiles = privateFiles.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        helperDirectory = Self.helperDirectory(environment: environment, workspace: workspace)
        if let configured = environment["BATON_HELPER_DIR"] {
            try check(FileManager.default.fileExists(atPath: configured + "/baton_plan.py"),
                      "BATON_HELPER_DIR=\(configured) has no baton_plan.py; point it at the python/ directory of Baton")
        }
    }

    /// Mebibytes in a size such as `2GiB`, `512M` or `1024` (MiB); `nil` when it is not one.
    static func megabytes(_ text: String) -> Int? {
        let digits = text.prefix(while: { $0.isASCII && $0.isNumber })
        guard let number = Int(digits), number > 0 else { return nil }
        let shift: Int? = switch text.dropFirst(digits.count).lowercased() {
        case "", "m", "mb", "mib": 0
        case "g", "gb", "gib": 10
        case "t", "tb", "tib": 20
        default: nil
        }
        guard let shift, number <= Int(Int32.max) >> shift else { return nil }
        return number << shift
    }

    /// Where `baton_plan.py` is: `BATON_HELPER_DIR`, else a `python/` folder beside the
    /// executable's package (a checkout), else one in the workspace.
    static func helperDirectory(environment: [String: String], workspace: String) -> String? {
        if let configured = environment["BATON_HELPER_DIR"] { return configured }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            let candidate = directory.appendingPathComponent("python")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("baton_plan.py").path) { return candidate.path }
            directory.deleteLastPathComponent()
        }
        let inWorkspace = workspace + "/python"
        return FileManager.default.fileExists(atPath: inWorkspace + "/baton_plan.py") ? inWorkspace : nil
    }
}
