import Foundation
import Subprocess
import Synchronization
import SystemPackage

/// Builds one environment: `python -m venv`, then `pip install` of the set from pip's
/// configured index.
///
/// When plans run sandboxed, so do the builds — as the plan user, with network, only the new
/// environment's directory writable — because a package's build scripts are code from the
/// index and get no more than a plan does. pip runs with an argument list, never a shell.
public struct EnvironmentBuilder: Sendable {
    public var sandbox: Sandbox?
    /// What the builds' environment keeps of the server's: `PATH`, `LANG` and every `PIP_*`
    /// variable (the index, proxies, certificates).
    public var serverEnvironment: [String: String]
    /// How long one step may take before it is stopped.
    public var stepTimeout: Duration = .seconds(30 * 60)

    /// Kept of a failed step's output for the plan's error message.
    static let lastLines = 15

    public init(sandbox: Sandbox?, serverEnvironment: [String: String] = ProcessInfo.processInfo.environment) {
        self.sandbox = sandbox
        self.serverEnvironment = serverEnvironment
    }

    /// Builds `set` into the empty directory `directory`, handing every byte the steps print to
    /// `output` as it comes.
    ///
    /// Where the interpreter has pip 22.3 or newer, the environment is made without pip of its
    /// own and the interpreter's pip installs into it (`pip --python`): seconds less per build
    /// than seeding a pip into every environment.
    func build(_ set: RequirementSet, at directory: String, interpreter: PythonInterpreter, key: String,
               output: @escaping @Sendable ([UInt8]) -> Void) async throws(EnvironmentError) {
        let python = directory + "/bin/python"
        let install = ["install", "--no-input", "--disable-pip-version-check", "--progress-bar", "off", "--no-warn-script-location"]
        let step = { (name: String, arguments: [String]) async throws(EnvironmentError) in
            try await self.run(name, arguments, in: directory, interpreter: interpreter, key: key, output: output)
        }
        if await Self.hasModernPip(interpreter) {
            try await step("python -m venv", [interpreter.path, "-m", "venv", "--without-pip", directory])
            try await step("pip install", [interpreter.path, "-m", "pip", "--python", python] + install + set.requirements)
        } else {
            try await step("python -m venv", [interpreter.path, "-m", "venv", directory])
            try await step("pip install", [python, "-m", "pip"] + install + set.requirements)
        }
    }

    /// Whether `interpreter` has a pip that can install into another environment (22.3+).
    private static func hasModernPip(_ interpreter: PythonInterpreter) async -> Bool {
        let probe = "import pip, sys; sys.exit(0 if tuple(int(p) for p in pip.__version__.split('.')[:2]) >= (22, 3) else 1)"
        let result = try? await Subprocess.run(.path(FilePath(interpreter.path)), arguments: ["-c", probe], output: .discarded, error: .discarded)
        if case .exited(0) = result?.terminationStatus { return true }
        return false
    }

    /// The build's environment: the server's pip settings; in a sandbox, its own `HOME` and
    /// temp dir, and the server user's pip configuration file, shown read-only.
    private func environment() -> (variables: [String: String], configFile: String?) {
        var variables = serverEnvironment.filter { $0.key.hasPrefix("PIP_") }
        variables["PATH"] = serverEnvironment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        variables["LANG"] = serverEnvironment["LANG"] ?? "C.UTF-8"
        variables["PYTHONUNBUFFERED"] = "1"
        guard sandbox != nil else {
            variables["HOME"] = serverEnvironment["HOME"] ?? "/"
            return (variables, nil)
        }
        variables["HOME"] = Sandbox.home
        variables["TMPDIR"] = "/tmp"
        let home = serverEnvironment["HOME"] ?? ""
        let configFile = variables["PIP_CONFIG_FILE"] == nil && !home.isEmpty
            ? [home + "/.config/pip/pip.conf", home + "/.pip/pip.conf"].first(where: FileManager.default.fileExists(atPath:))
            : nil
        if let configFile { variables["PIP_CONFIG_FILE"] = configFile }
        return (variables, configFile)
    }

    private func run(_ step: String, _ arguments: [String], in directory: String, interpreter: PythonInterpreter, key: String,
                     output: @escaping @Sendable ([UInt8]) -> Void) async throws(EnvironmentError) {
        let (variables, configFile) = environment()
        var command = arguments
        var cgroups: RunCgroups?
        if let sandbox {
            do {
                cgroups = try sandbox.runCgroups(named: "env-\(key)", limits: sandbox.limits)
            } catch {
                throw .unavailable("\(error)")
            }
            command = sandbox.commandLine(running: arguments, workspace: directory, readable: interpreter.installation + [configFile].compactMap { $0 },
                                          limits: sandbox.limits, cgroups: cgroups)
        }
        defer { cgroups?.remove() }
        var platform = PlatformOptions()
        platform.createSession = true
        let tail = OutputTail(lines: Self.lastLines)
        let timeout = stepTimeout
        let status: TerminationStatus
        do {
            status = try await Subprocess.run(
                .path(FilePath(command[0])), arguments: Arguments(Array(command.dropFirst())),
                environment: .custom(Dictionary(uniqueKeysWithValues: variables.compactMap { key, value in Environment.Key(rawValue: key).map { ($0, value) } })),
                workingDirectory: FilePath(directory), platformOptions: platform, input: .none, output: .sequence, error: .sequence
            ) { execution in
                let group = execution.processIdentifier.value
                await withTaskGroup(of: Void.self) { tasks in
                    for stream in [execution.standardOutput, execution.standardError] {
                        tasks.addTask {
                            do {
                                for try await buffer in stream {
                                    let bytes = buffer.withUnsafeBytes { Array($0) }
                                    tail.append(bytes)
                                    output(bytes)
                                }
                            } catch {}  // the stream ends early only when the step is killed
                        }
                    }
                    let watchdog = Task {
                        try await Task.sleep(for: timeout)
                        tail.append(Array("[baton] \(step) took longer than \(timeout); stopped\n".utf8))
                        kill(-group, SIGKILL)
                    }
                    await tasks.waitForAll()
                    watchdog.cancel()
                }
                // Nothing a build started outlives it.
                kill(-group, SIGKILL)
            }.terminationStatus
        } catch {
            throw .unavailable("\(step) could not be started: \(error)")
        }
        guard case .exited(0) = status else {
            throw .buildFailed(step: step, status: "\(status)", lastLines: tail.text)
        }
    }
}

/// The last lines of a stream of output, for an error message.
private final class OutputTail: Sendable {
    private let kept: Mutex<[UInt8]> = Mutex([])
    private let lines: Int
    private static let maxBytes = 8 << 10

    init(lines: Int) { self.lines = lines }

    func append(_ bytes: [UInt8]) {
        kept.withLock {
            $0 += bytes
            if $0.count > Self.maxBytes { $0.removeFirst($0.count - Self.maxBytes) }
        }
    }

    var text: String {
        let all = kept.withLock { String(decoding: $0, as: UTF8.self) }
        return all.split(separator: "\n", omittingEmptySubsequences: true).suffix(lines).joined(separator: "\n")
    }
}
