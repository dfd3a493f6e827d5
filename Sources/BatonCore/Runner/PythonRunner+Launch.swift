import Foundation

/// Turning a plan into a command line, an environment and (for inline code) a private file.
extension PythonRunner {
    /// What to start, and what to remove once the run is over.
    struct Launch {
        let arguments: [String]
        let environment: [String: String]
        /// A private directory holding inline code; removed after the run, whatever its end.
        let scratchDirectory: String?

        func removeScratch() {
            if let scratchDirectory { try? FileManager.default.removeItem(atPath: scratchDirectory) }
        }
    }

    /// A plan that cannot start, and how it ends instead.
    struct LaunchFailure: Error {
        let failure: PlanFailure
    }

    func prepareLaunch(_ plan: Plan, attempt: Int) throws(LaunchFailure) -> Launch {
        var scratch: String?
        let entry: [String]
        switch plan.entryPoint {
        case .script(let path):
            entry = [try resolveScript(path)]
        case .module(let module):
            guard module.isDottedIdentifier else {
                throw LaunchFailure(failure: PlanFailure(kind: .spawnFailed, message: "`\(module)` is not a dotted Python module name"))
            }
            entry = ["-m", module]
        case .code(let source):
            let (directory, file) = try writeInlineCode(source, planID: plan.id)
            scratch = directory
            entry = [file]
        }
        return Launch(arguments: entry + plan.args, environment: environment(for: plan, attempt: attempt), scratchDirectory: scratch)
    }

    /// The real path of a script inside the workspace root. A path leading outside the root,
    /// through `..` or a symlink, is refused; a missing file ends the plan `script_not_found`.
    func resolveScript(_ path: String) throws(LaunchFailure) -> String {
        try resolveInWorkspace(path, noun: "script", problem: PlanSpec.problem(withScriptPath: path), kind: .scriptNotFound)
    }

    /// The real path of the regular file `path` names inside the workspace root, or a failure of
    /// `kind` saying why not: `problem` (the path's own), a path leading outside the root
    /// (through `..` or a symlink), or no such file.
    func resolveInWorkspace(_ path: String, noun: String, problem: String?, kind: PlanFailure.Kind) throws(LaunchFailure) -> String {
        if let problem {
            throw LaunchFailure(failure: PlanFailure(kind: kind, message: "\(noun) \(path) is refused: it \(problem)"))
        }
        let candidate = configuration.workspaceRoot + "/" + path
        guard let real = Self.realPath(candidate) else {
            throw LaunchFailure(failure: PlanFailure(kind: kind, message: "no \(noun) \(path) in the workspace \(configuration.workspaceRoot)"))
        }
        // Compared as bytes: `hasPrefix` on String treats canonically equivalent spellings as equal.
        let root = workspaceRealPath == "/" ? "/" : workspaceRealPath + "/"
        guard real.utf8.starts(with: root.utf8) else {
            throw LaunchFailure(failure: PlanFailure(
                kind: kind,
                message: "\(noun) \(path) resolves to \(real), outside the workspace \(configuration.workspaceRoot); Baton reads only files inside it"
            ))
        }
        var status = stat()
        guard stat(real, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            throw LaunchFailure(failure: PlanFailure(kind: kind, message: "\(noun) \(path) is not a regular file"))
        }
        return real
    }

    /// Writes inline code to a new directory only this user can enter, as a file only this user
    /// can read (0600).
    func writeInlineCode(_ source: String, planID: Int64) throws(LaunchFailure) -> (directory: String, file: String) {
        var template = Array((configuration.scratchRoot + "/baton-code-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw LaunchFailure(failure: PlanFailure(kind: .spawnFailed, message: "cannot create a private directory for inline code in \(configuration.scratchRoot): \(String(cString: strerror(errno)))"))
        }
        let directory = String(cString: made)
        let file = directory + "/plan_\(planID).py"
        let descriptor = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            try? FileManager.default.removeItem(atPath: directory)
            throw LaunchFailure(failure: PlanFailure(kind: .spawnFailed, message: "cannot write inline code to \(file): \(String(cString: strerror(errno)))"))
        }
        defer { close(descriptor) }
        let bytes = Array(source.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else {
                try? FileManager.default.removeItem(atPath: directory)
                throw LaunchFailure(failure: PlanFailure(kind: .spawnFailed, message: "cannot write inline code to \(file): \(String(cString: strerror(errno)))"))
            }
            written += count
        }
        // Readable by the plan user alone, when plans run as one.
        if let user = configuration.sandbox?.user {
            guard fchown(descriptor, user.uid, user.gid) == 0, chown(directory, user.uid, user.gid) == 0 else {
                try? FileManager.default.removeItem(atPath: directory)
                throw LaunchFailure(failure: PlanFailure(kind: .spawnFailed, message: "cannot give inline code to \(user.name): \(String(cString: strerror(errno)))"))
            }
        }
        return (directory, file)
    }

    /// The child's whole environment: nothing of the server's own beyond `PATH`, `HOME` and `LANG`.
    /// In a sandbox, `HOME` and `TMPDIR` are the plan's own, in its private `/tmp`.
    func environment(for plan: Plan, attempt: Int) -> [String: String] {
        var environment = configuration.baseEnvironment
        if configuration.sandbox != nil {
            environment["HOME"] = Sandbox.home
            environment["TMPDIR"] = "/tmp"
        }
        environment["PYTHONUNBUFFERED"] = "1"
        environment.merge(plan.env) { _, planValue in planValue }
        if let helper = configuration.helperDirectory {
            environment["PYTHONPATH"] = [plan.env["PYTHONPATH"], helper].compactMap { $0 }.joined(separator: ":")
        }
        environment["BATON_EXECUTION_MODE"] = "test"
        environment["BATON_PLAN_ID"] = String(plan.id)
        environment["BATON_ATTEMPT"] = String(attempt)
        if let node = configuration.nodeName { environment["BATON_NODE"] = node }
        return environment
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
