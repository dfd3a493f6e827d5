import ArgumentParser
import BatonCore
import BatonServer
import Foundation
import Logging
import ServiceLifecycle

/// `baton serve`: the queue, the orchestrator and the HTTP API in one process.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run Baton: the HTTP API, the orchestrator and the plan store.",
        discussion: """
            Every setting can also come from the environment, as BATON_ and the flag's name in \
            upper snake case (BATON_DATA_DIR, BATON_PORT, ...); a flag wins over the environment. \
            On the first start the server creates an admin token, prints it once and writes it to \
            <data-dir>/admin.token (readable by its owner only). SIGTERM or SIGINT stops it \
            gracefully: running plans get the drain timeout, then go back to the queue.
            """
    )

    @Option(help: ArgumentHelp("Directory for the database and the admin token. [default: ./.baton]", valueName: "dir"))
    var dataDir: String?
    @Option(help: "Address to listen on. [default: 127.0.0.1]")
    var host: String?
    @Option(help: "Port to listen on; 0 picks a free one. [default: 8080]")
    var port: Int?
    @Option(help: "Plans running at once. [default: the number of CPU cores]")
    var workers: Int?
    @Option(help: ArgumentHelp("Seconds between regular polls of the queue. [default: 5]", valueName: "seconds"))
    var pollInterval: Double?
    @Option(help: ArgumentHelp("Seconds a claim holds a plan without a heartbeat. [default: 60]", valueName: "seconds"))
    var lease: Double?
    @Option(help: ArgumentHelp("The Python interpreter. [default: python3 on PATH]", valueName: "path"))
    var python: String?
    @Option(help: ArgumentHelp("Directory scripts are relative to, and the plans' working directory. [default: the current directory]", valueName: "dir"))
    var workspace: String?
    @Option(help: ArgumentHelp("Timeout of a plan that gives none. [default: 60]", valueName: "seconds"))
    var defaultTimeout: Int?
    @Option(help: ArgumentHelp("The longest timeout a plan may ask for. [default: 3600]", valueName: "seconds"))
    var maxTimeout: Int?
    @Option(help: ArgumentHelp("Output kept per stream per run. [default: 1048576]", valueName: "bytes"))
    var maxOutputBytes: Int?
    @Option(help: ArgumentHelp("The largest request body accepted. [default: 1048576]", valueName: "bytes"))
    var maxBodyBytes: Int?
    @Option(help: "normal (survives a crash of the process) or full (also power loss; slower). [default: normal]")
    var synchronous: String?
    @Option(help: "trace, debug, info, notice, warning, error or critical. [default: info]")
    var logLevel: String?

    func run() async throws {
        let settings = try Settings(self)
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = settings.logLevel
            return handler
        }
        let logger = Logger(label: "baton")

        // The database holds plans' env values (API keys): only its owner may read the directory.
        try FileManager.default.createDirectory(atPath: settings.dataDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: settings.dataDir)
        var storeConfiguration = SQLitePlanStore.Configuration(path: SQLitePlanStore.Configuration.databasePath(inDataDirectory: settings.dataDir))
        storeConfiguration.synchronous = settings.synchronous
        storeConfiguration.limits = PlanLimits(defaultTimeoutSeconds: settings.defaultTimeout, maxTimeoutSeconds: settings.maxTimeout)
        storeConfiguration.maxOutputBytes = settings.maxOutputBytes
        let store = try await SQLitePlanStore(configuration: storeConfiguration, logger: Logger(label: "baton.store"))

        let tokenFile = AdminTokenBootstrap.tokenFile(inDataDirectory: settings.dataDir)
        if let secret = try await AdminTokenBootstrap.ensureAdminToken(tokens: store, dataDirectory: settings.dataDir) {
            // Unbuffered: seen now, not when the server stops.
            FileHandle.standardOutput.write(Data("Created the first admin token (shown only now; also in \(tokenFile)):\n  \(secret)\n".utf8))
        }

        // Fail fast with a clear message when there is no usable Python; each restart resolves anew.
        let interpreter = try await PythonInterpreter.resolve(requested: settings.python)
        let runnerLogger = Logger(label: "baton.runner")
        let (python, workspace, helper, maxOutput) = (settings.python, settings.workspace, settings.helperDirectory, settings.maxOutputBytes)
        var orchestratorConfiguration = Orchestrator.Configuration()
        orchestratorConfiguration.workers = settings.workers
        orchestratorConfiguration.pollInterval = .seconds(settings.pollInterval)
        orchestratorConfiguration.leaseDuration = .seconds(settings.lease)
        orchestratorConfiguration.liveOutputLimit = settings.maxOutputBytes
        let metrics = ServerMetrics()
        let bus = EventBus()
        let orchestrator = Orchestrator(configuration: orchestratorConfiguration, store: store, eventBus: bus,
                                        logger: Logger(label: "baton.orchestrator"), metrics: metrics.metrics) {
            let interpreter = try await PythonInterpreter.resolve(requested: python)
            var runner = PythonRunner.Configuration(interpreter: interpreter, workspaceRoot: workspace, helperDirectory: helper)
            runner.maxOutputBytes = maxOutput
            return PreparedRunner(runner: PythonRunner(configuration: runner, logger: runnerLogger), interpreter: interpreter)
        }

        var server = ServerConfiguration()
        server.host = settings.host
        server.port = settings.port
        server.maxBodyBytes = settings.maxBodyBytes
        let app = buildApplication(configuration: server, store: store, tokens: store, orchestrator: orchestrator,
                                   eventBus: bus, metrics: metrics, logger: Logger(label: "baton.http"))
        logger.info("Baton starting", metadata: [
            "address": "http://\(settings.host):\(settings.port)", "data_dir": "\(settings.dataDir)", "workers": "\(settings.workers)",
            "python": "\(interpreter.path) (\(interpreter.version))", "workspace": "\(workspace)", "admin_token_file": "\(tokenFile)",
        ])
        // The store first, so it is closed last.
        let group = ServiceGroup(configuration: .init(
            services: [PlanStoreService(store: store, logger: Logger(label: "baton.store")), orchestrator, app],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        try await group.run()
    }
}

/// The settings of `baton serve`: flag, else `BATON_*` environment variable, else default,
/// each checked with a message naming the setting to fix.
struct Settings {
    let dataDir: String
    let host: String
    let port: Int
    let workers: Int
    let pollInterval: Double
    let lease: Double
    let python: String?
    let workspace: String
    let helperDirectory: String?
    let defaultTimeout: Int
    let maxTimeout: Int
    let maxOutputBytes: Int
    let maxBodyBytes: Int
    let synchronous: SQLiteSynchronous
    let logLevel: Logger.Level

    init(_ flags: Serve, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        func value<T>(_ flag: T?, _ name: String, _ parse: (String) -> T?) throws -> T? {
            if let flag { return flag }
            let variable = "BATON_" + name.uppercased().replacingOccurrences(of: "-", with: "_")
            guard let text = environment[variable], !text.isEmpty else { return nil }
            guard let parsed = parse(text) else { throw ValidationError("\(variable)=\(text) is not a valid value for --\(name)") }
            return parsed
        }
        func check(_ condition: Bool, _ message: String) throws {
            if !condition { throw ValidationError(message) }
        }
        let cwd = FileManager.default.currentDirectoryPath
        dataDir = try value(flags.dataDir, "data-dir", { $0 }) ?? cwd + "/.baton"
        host = try value(flags.host, "host", { $0 }) ?? "127.0.0.1"
        port = try value(flags.port, "port", Int.init) ?? 8080
        try check((0...65535).contains(port), "--port must be from 0 to 65535; got \(port)")
        workers = try value(flags.workers, "workers", Int.init) ?? ProcessInfo.processInfo.activeProcessorCount
        try check(workers >= 1, "--workers must be at least 1; got \(workers)")
        try check(workers <= 1024, "--workers must be at most 1024; got \(workers)")
        pollInterval = try value(flags.pollInterval, "poll-interval", Double.init) ?? 5
        try check(pollInterval.isFinite && (0.1...3600).contains(pollInterval), "--poll-interval must be from 0.1 to 3600 seconds; got \(pollInterval)")
        lease = try value(flags.lease, "lease", Double.init) ?? 60
        try check(lease.isFinite && (3...86_400).contains(lease), "--lease must be from 3 to 86400 seconds; got \(lease)")
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
        let mode = try value(flags.synchronous, "synchronous", { $0 }) ?? "normal"
        guard let synchronous = SQLiteSynchronous(rawValue: mode) else { throw ValidationError("--synchronous must be normal or full; got \(mode)") }
        self.synchronous = synchronous
        let level = try value(flags.logLevel, "log-level", { $0 }) ?? "info"
        guard let logLevel = Logger.Level(rawValue: level) else {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")); got \(level)")
        }
        self.logLevel = logLevel
        helperDirectory = Self.helperDirectory(environment: environment, workspace: workspace)
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
