import Foundation
import Subprocess
import SystemPackage

/// The Python that runs plans: resolved once at start-up to the real executable.
///
/// Version managers such as pyenv put a shim named `python3` on `PATH` that costs 50–150 ms per
/// start; asking the interpreter for `sys.executable` and running that instead keeps short plans
/// short.
public struct PythonInterpreter: Sendable, Hashable {
    /// The real executable (`sys.executable`).
    public let path: String
    /// `major.minor.micro`, e.g. `3.11.7`.
    public let version: String
    public let versionNumbers: [Int]
    /// Where it is installed (`sys.prefix`, `sys.base_prefix`, `sys.base_exec_prefix`): what a
    /// sandbox must show for it to run.
    public let installation: [String]

    public init(path: String, version: String, versionNumbers: [Int], installation: [String] = []) {
        self.path = path
        self.version = version
        self.versionNumbers = versionNumbers
        self.installation = installation
    }

    /// The oldest Python that runs plans.
    public static let minimumVersion = [3, 9]

    /// Resolves `requested` (a path or a command name, from `--python`), or else `python3` on
    /// `searchPath`, to the real interpreter and checks its version.
    public static func resolve(
        requested: String? = nil,
        searchPath: String? = ProcessInfo.processInfo.environment["PATH"],
        timeout: Duration = .seconds(15)
    ) async throws(PythonInterpreterError) -> PythonInterpreter {
        let candidate = try locate(requested ?? "python3", searchPath: searchPath, requested: requested != nil)
        let probe = """
            import json, sys; print(json.dumps({'executable': sys.executable, 'version': list(sys.version_info[:3]),
            'installation': sorted({sys.prefix, sys.base_prefix, sys.base_exec_prefix})}))
            """
        let answer: String
        do {
            answer = try await withThrowingTaskGroup(of: String.self) { group in
                group.addTask {
                    let result = try await Subprocess.run(
                        .path(FilePath(candidate)),
                        arguments: ["-c", probe],
                        environment: .inherit.updating(["PYTHONPATH": nil, "PYTHONHOME": nil]),
                        output: .string(limit: 64 << 10),
                        error: .string(limit: 64 << 10)
                    )
                    guard case .exited(0) = result.terminationStatus else {
                        throw PythonInterpreterError("\(candidate) did not run (\(result.terminationStatus)): \(result.standardError.prefix(300))")
                    }
                    return result.standardOutput
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw PythonInterpreterError("\(candidate) did not answer within \(timeout): check that it is a working Python, or pass another with --python")
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
        } catch let error as PythonInterpreterError {
            throw error
        } catch {
            throw PythonInterpreterError("cannot run \(candidate): \(error)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any],
              let executable = object["executable"] as? String, !executable.isEmpty,
              let numbers = object["version"] as? [Int], numbers.count == 3
        else {
            throw PythonInterpreterError("\(candidate) does not behave like Python (it answered: \(answer.prefix(200)))")
        }
        let interpreter = PythonInterpreter(path: executable, version: numbers.map(String.init).joined(separator: "."), versionNumbers: numbers,
                                            installation: object["installation"] as? [String] ?? [])
        guard numbers.lexicographicallyPrecedes(minimumVersion) == false else {
            throw PythonInterpreterError(
                "found Python \(interpreter.version) at \(executable), but Baton needs Python \(minimumVersion.map(String.init).joined(separator: ".")) or newer: install a newer Python and pass it with --python"
            )
        }
        return interpreter
    }

    /// An executable file for `name`: itself when it contains a slash, else the first match on
    /// the search path.
    private static func locate(_ name: String, searchPath: String?, requested: Bool) throws(PythonInterpreterError) -> String {
        let fileManager = FileManager.default
        if name.contains("/") {
            guard fileManager.isExecutableFile(atPath: name) else {
                throw PythonInterpreterError("no executable Python at \(name) (from --python): check the path")
            }
            return name
        }
        if let path = Executables.find(name, on: searchPath ?? "") { return path }
        let directories = (searchPath ?? "").split(separator: ":").map(String.init)
        let hint = requested ? "check the name given to --python" : "install Python 3.9 or newer, or pass its path with --python"
        throw PythonInterpreterError("no \(name) found on PATH (\(directories.joined(separator: ":"))): \(hint)")
    }
}

/// The interpreter could not be found, run, or is too old; the message says what was found and
/// how to fix it.
public struct PythonInterpreterError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
