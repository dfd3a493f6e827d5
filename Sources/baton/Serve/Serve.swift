import ArgumentParser
import BatonCore
import BatonPostgres
import BatonSQLite
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
            upper snake case (BATON_DATA_DIR, BATON_PORT, ...), or from a --config file of such \
            lines. A flag wins over the environment, which wins over the file. \
            On the first start the server creates an admin token, prints it once and writes it to \
            <data-dir>/admin.token (readable by its owner only). SIGTERM or SIGINT stops it \
            gracefully: running plans get the drain timeout, then go back to the queue.
            """
    )

    @Option(help: ArgumentHelp("Directory for the SQLite database and the admin token. [default: ./.baton]", valueName: "dir"))
    var dataDir: String?
    @Option(help: ArgumentHelp("""
        The queue's database: a SQLite file, or postgres://user@host:port/db for a PostgreSQL database \
        that several nodes share (password in the URL, BATON_DATABASE_PASSWORD or PGPASSWORD; never logged). \
        A PostgreSQL server that cannot be reached at start is an error: baton exits, for its supervisor to \
        start it again. [default: <data-dir>/baton.sqlite]
        """, valueName: "url|path"))
    var database: String?
    @Option(help: ArgumentHelp("""
        This node's name among the nodes sharing a PostgreSQL database; unique among live nodes. \
        [default: host:port, or host:pid with --port 0]
        """, valueName: "name"))
    var nodeName: String?
    @Option(help: "Address to listen on. [default: 127.0.0.1]")
    var host: String?
    @Option(help: "Port to listen on; 0 picks a free one. [default: 8080]")
    var port: Int?
    @Option(help: "Plans running at once. [default: the number of CPU cores]")
    var workers: Int?
    @Option(help: ArgumentHelp("Seconds between regular polls of the queue. [default: 5]", valueName: "seconds"))
    var pollInterval: Double?
    @Option(help: ArgumentHelp("""
        Seconds a claim holds a plan without a heartbeat; a node not seen for this long is lost, and its plans \
        run elsewhere. [default: 60]
        """, valueName: "seconds"))
    var lease: Double?
    @Option(help: ArgumentHelp("""
        Seconds between heartbeats (lease renewals, the node's row, leader election), at most a third of \
        --lease. A node that cannot renew its leases stops its own runs before they expire. [default: lease / 6]
        """, valueName: "seconds"))
    var heartbeatInterval: Double?
    @Option(help: ArgumentHelp("Seconds a stopped plan gets between SIGTERM and SIGKILL. [default: 5]", valueName: "seconds"))
    var killGrace: Double?
    @Option(help: ArgumentHelp("Seconds running plans get to finish on SIGTERM before they go back to the queue. [default: 30]", valueName: "seconds"))
    var drainTimeout: Double?
    @Option(help: ArgumentHelp("Times a plan whose node vanished goes back to the queue before it fails as orphaned. [default: 3]", valueName: "count"))
    var orphanCap: Int?
    @Option(help: ArgumentHelp("""
        Delete plans (with output and events) and audit entries older than this, e.g. 30d; the leader prunes \
        every 10 minutes. [default: off]
        """, valueName: "age"))
    var retention: String?
    @Option(help: ArgumentHelp("""
        auto, on or off: run each plan in a sandbox (built by baton-confine) with its own process and mount namespaces: \
        everything it starts ends with it, the file system is read-only but for the workspace, /tmp and HOME \
        are its own, and the data directory, database and config file are hidden. auto runs plans unsandboxed \
        where the machine cannot (saying so in the log); on refuses to start then. [default: auto]
        """, valueName: "mode"))
    var sandbox: String?
    @Option(help: ArgumentHelp("""
        The unprivileged user sandboxed plans run as when the server runs as root; never root. Baton gives it \
        access to the workspace (POSIX ACLs). Not root: plans run as the server's user. [default: baton-plan, \
        created if missing]
        """, valueName: "user"))
    var planUser: String?
    @Option(help: ArgumentHelp("""
        Memory a sandboxed plan may use, its /tmp included; past it the kernel kills the plan, which fails with \
        error kind limit. A plan's limits.memory_mb can only lower it. [default: 2GiB]
        """, valueName: "size"))
    var planMemory: String?
    @Option(help: ArgumentHelp("""
        Processes and threads a sandboxed plan may have at once; a fork past it fails, and so does the plan \
        (error kind limit). A plan's limits.processes can only lower it. [default: 512]
        """, valueName: "count"))
    var planProcesses: Int?
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
    @Option(help: ArgumentHelp("The longest a GET /plans/{id}?wait= request may hold; keep it under any proxy's timeout. [default: 300]", valueName: "seconds"))
    var maxWait: Int?
    @Option(help: "normal (survives a crash of the process) or full (also power loss; slower). [default: normal]")
    var synchronous: String?
    @Option(help: "trace, debug, info, notice, warning, error or critical. [default: info]")
    var logLevel: String?
    @Option(help: "text (for people) or json (one object per line, for log collectors). [default: text]")
    var logFormat: String?
    @Option(help: ArgumentHelp("A file of BATON_NAME=value lines (an environment file) with any of these settings; flags and the environment win over it. [env: BATON_CONFIG]", valueName: "path"))
    var config: String?

    func run() async throws {
        let settings: Settings
        do {
            settings = try Settings(self)
        } catch let error as ValidationError {
            printError(error.message)
            throw ExitCode.validationFailure
        }
        LoggingSystem.bootstrap { label in
            switch settings.logFormat {
            case .text:
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = settings.logLevel
                return handler
            case .json:
                return JSONLogHandler(label: label, logLevel: settings.logLevel)
            }
        }
        let logger = Logger(label: "baton")

        // The database holds plans' env values (API keys): only its owner may read the directory.
        try FileManager.default.createDirectory(atPath: settings.dataDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: settings.dataDir)
        let store = try await openStore(settings)

        // Fail fast with a clear message when there is no usable Python; each restart resolves anew.
        let interpreter = try await PythonInterpreter.resolve(requested: settings.python)
        let tokenFile = AdminTokenBootstrap.tokenFile(inDataDirectory: settings.dataDir)
        if let secret = try await AdminTokenBootstrap.ensureAdminToken(tokens: store, dataDirectory: settings.dataDir) {
            // The secret goes to a person at a terminal, never into a log (the journal, `docker
            // logs`); the file has it either way. Unbuffered: seen now, not when the server stops.
            let message = isatty(STDOUT_FILENO) == 1
                ? "Created the first admin token (shown only now; also in \(tokenFile)):\n  \(secret)\n"
                : "Created the first admin token; it is in \(tokenFile), readable by this user only.\n"
            try? FileHandle.standardOutput.write(contentsOf: Data(message.utf8))
        }

        let sandbox = try await decideSandbox(settings)
        switch sandbox {
        case .on(let sandbox): logger.info("plans run in a sandbox", metadata: ["sandbox": "\(sandbox.summary)"])
        case .off(let reason) where settings.sandbox == .auto: logger.warning("plans run unsandboxed, as this server's user", metadata: ["reason": "\(reason)"])
        case .off: break
        }
        let runnerLogger = Logger(label: "baton.runner")
        let (python, workspace, helper, maxOutput) = (settings.python, settings.workspace, settings.helperDirectory, settings.maxOutputBytes)
        let killGrace = Duration.seconds(settings.killGrace)
        let nodeName = settings.nodeName
        // One store for every generation: a restart keeps the environments and their locks.
        let environments = EnvironmentStore(directory: URL(fileURLWithPath: settings.dataDir).standardizedFileURL.path + "/envs")
        var node = BatonNode.Configuration()
        node.name = settings.nodeName
        node.retention = settings.retention.map { .seconds($0) }
        node.orchestrator.workers = settings.workers
        node.orchestrator.pollInterval = .seconds(settings.pollInterval)
        node.orchestrator.leaseDuration = .seconds(settings.lease)
        node.orchestrator.heartbeatInterval = .seconds(settings.heartbeatInterval)
        node.orchestrator.shutdownDrainTimeout = .seconds(settings.drainTimeout)
        node.orchestrator.liveOutputLimit = settings.maxOutputBytes
        let metrics = ServerMetrics()
        // A shared database tells every node at once what changed; SQLite's node is alone.
        let notifier: any QueueNotifier = (store as? PostgresPlanStore).map { PostgresQueueNotifier(store: $0) } ?? LocalQueueNotifier()
        let baton = BatonNode(store: store, notifier: notifier, configuration: node, metrics: metrics.metrics) {
            let interpreter = try await PythonInterpreter.resolve(requested: python)
            var runner = PythonRunner.Configuration(interpreter: interpreter, workspaceRoot: workspace, helperDirectory: helper)
            runner.maxOutputBytes = maxOutput
            runner.killGracePeriod = killGrace
            runner.sandbox = sandbox.sandbox
            runner.environments = environments
            runner.nodeName = nodeName
            return PreparedRunner(runner: PythonRunner(configuration: runner, logger: runnerLogger), interpreter: interpreter)
        }

        var server = ServerConfiguration()
        server.host = settings.host
        server.port = settings.port
        server.maxBodyBytes = settings.maxBodyBytes
        server.maxWait = .seconds(settings.maxWait)
        server.sandbox = sandbox
        server.environments = environments
        let workers = settings.workers
        let dataDir = settings.dataDir
        let database = settings.database
        let host = settings.host.contains(":") ? "[\(settings.host)]" : settings.host
        // A second node with this name is refused before anything listens.
        try await baton.presence.register()
        let app = buildApplication(configuration: server, node: baton, metrics: metrics,
                                   logger: Logger(label: "baton.http")) { port in
            // The one start-up line: everything needed to reach and find this server.
            logger.info("Baton listening on http://\(host):\(port)", metadata: [
                "node": "\(nodeName)", "data_dir": "\(dataDir)", "database": "\(database)", "workers": "\(workers)", "python": "\(interpreter.path) (\(interpreter.version))",
                "workspace": "\(workspace)", "admin_token_file": "\(tokenFile)",
            ])
        }
        let group = baton.serviceGroup(then: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }

    /// The sandbox the settings ask for, with the workspace opened to it; under `auto`, a
    /// workspace that cannot be opened runs plans unsandboxed instead.
    private func decideSandbox(_ settings: Settings) async throws -> Sandbox.Decision {
        let options = Sandbox.Options(hiddenDirectories: [URL(fileURLWithPath: settings.dataDir).standardizedFileURL.path],
                                      hiddenFiles: settings.privateFiles, planUser: settings.planUser, limits: settings.planLimits)
        let decision = try await Sandbox.decide(settings.sandbox, options: options)
        guard let sandbox = decision.sandbox else { return decision }
        do {
            try await sandbox.prepare(workspace: settings.workspace)
            return decision
        } catch where settings.sandbox == .auto {
            return .off(reason: error.description)
        }
    }

    /// Opens the store the settings name, with the queue's policies.
    private func openStore(_ settings: Settings) async throws -> any BatonStore {
        var policy = QueuePolicy()
        policy.maxRecoveries = settings.orphanCap
        policy.limits = PlanLimits(defaultTimeoutSeconds: settings.defaultTimeout, maxTimeoutSeconds: settings.maxTimeout)
        policy.maxOutputBytes = settings.maxOutputBytes
        switch settings.database {
        case .sqlite(let path):
            var configuration = SQLitePlanStore.Configuration(path: path)
            configuration.synchronous = settings.synchronous
            configuration.policy = policy
            return try await SQLitePlanStore(configuration: configuration, logger: Logger(label: "baton.store"))
        case .postgres(let url):
            var configuration = PostgresPlanStore.Configuration(url: url)
            configuration.policy = policy
            return try await PostgresPlanStore(configuration: configuration, logger: Logger(label: "baton.store"))
        }
    }
}
