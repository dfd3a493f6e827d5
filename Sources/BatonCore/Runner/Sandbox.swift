import Foundation
import Subprocess
import SystemPackage

/// Where a plan runs walled off from the server (design §11), through bubblewrap (`bwrap`, from
/// Debian's `bubblewrap`: Flatpak's sandbox, made for exactly this).
///
/// A sandboxed plan gets a PID namespace of its own — when its first process ends, the kernel
/// kills everything left in it, daemons that called `setsid` included — and a mount namespace in
/// which the whole file system is read-only but the workspace, `/tmp` is an empty directory of
/// its own (its `HOME` is in there), `/proc` shows only its own processes, and the server's
/// data directory, database and configuration are hidden. Every capability is dropped.
public struct Sandbox: Sendable, Hashable {
    /// The `bwrap` executable.
    public let bwrap: String
    /// Directories no plan may see (the data directory): each is covered by an empty one.
    public var hiddenDirectories: [String]
    /// Files no plan may see (a database or configuration file outside the data directory):
    /// each is covered by a device node that cannot be opened.
    public var hiddenFiles: [String]

    /// The plan's `HOME` inside the sandbox, in its private `/tmp`.
    public static let home = "/tmp/home"

    public init(bwrap: String, hiddenDirectories: [String] = [], hiddenFiles: [String] = []) {
        self.bwrap = bwrap
        self.hiddenDirectories = hiddenDirectories
        self.hiddenFiles = hiddenFiles
    }

    /// `bwrap`'s arguments that run `command` in the sandbox, in `workspace` (writable), with
    /// `readable` (inline code, the helper module) mounted read-only where they are.
    func arguments(running command: [String], workspace: String, readable: [String], network: Bool = true) -> [String] {
        var arguments = ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        if !network { arguments.append("--unshare-net") }
        // Later mounts cover earlier ones: the private /tmp first, then what must show through
        // it (a workspace or inline code under /tmp), the hidden paths last of all.
        arguments += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/dev/shm",
                      "--dir", Self.home, "--bind", workspace, workspace]
        for path in readable { arguments += ["--ro-bind", path, path] }
        for directory in hiddenDirectories { arguments += ["--tmpfs", directory] }
        for file in hiddenFiles where FileManager.default.fileExists(atPath: file) && !hiddenDirectories.contains(where: { file.hasPrefix($0 + "/") }) {
            arguments += ["--ro-bind", "/dev/null", file]
        }
        arguments += ["--cap-drop", "ALL", "--chdir", workspace, "--"]
        return arguments + command
    }
}

extension Sandbox {
    /// Whether plans run sandboxed (`--sandbox`).
    public enum Mode: String, Sendable, CaseIterable {
        /// Sandboxed where this machine allows it; unsandboxed, with a warning, where not.
        case auto
        /// Sandboxed, or the server does not start.
        case on
        /// Unsandboxed, as the server's own user.
        case off
    }

    /// What a server decided at start: the sandbox, or why plans run without one.
    public enum Decision: Sendable, Hashable {
        case on(Sandbox)
        case off(reason: String)

        public var sandbox: Sandbox? {
            if case .on(let sandbox) = self { sandbox } else { nil }
        }
    }

    /// Finds `bwrap` on `path` and tries it once, as plans will run. `on` throws what failed;
    /// `auto` answers ``Decision/off(reason:)`` with it.
    public static func decide(_ mode: Mode, hiddenDirectories: [String], hiddenFiles: [String],
                              path: String = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") async throws(SandboxError) -> Decision {
        if mode == .off { return .off(reason: "--sandbox off") }
        let problem: String
        if let bwrap = path.split(separator: ":").map({ $0 + "/bwrap" }).first(where: FileManager.default.isExecutableFile(atPath:)) {
            let sandbox = Sandbox(bwrap: bwrap, hiddenDirectories: hiddenDirectories, hiddenFiles: hiddenFiles)
            guard let failure = await sandbox.trial() else { return .on(sandbox) }
            problem = failure
        } else {
            problem = "bubblewrap (bwrap) is not installed (Debian: apt-get install bubblewrap)"
        }
        if mode == .on { throw SandboxError(problem) }
        return .off(reason: problem)
    }

    /// Runs `true` in the sandbox; `nil` if that worked, else what went wrong.
    private func trial() async -> String? {
        let scratch = FileManager.default.temporaryDirectory.path
        do {
            let result = try await Subprocess.run(
                .path(FilePath(bwrap)), arguments: Arguments(arguments(running: ["/bin/true"], workspace: scratch, readable: [])),
                output: .discarded, error: .string(limit: 4096))
            if case .exited(0) = result.terminationStatus { return nil }
            let said = result.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
            return "bubblewrap cannot create namespaces here (\(said.isEmpty ? "\(result.terminationStatus)" : said))"
        } catch {
            return "bubblewrap could not be started: \(error)"
        }
    }
}

/// The sandbox was asked for (`--sandbox on`) and cannot be had here.
public struct SandboxError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ problem: String) {
        description = "--sandbox on, but \(problem); use --sandbox auto to run plans unsandboxed where that is so"
    }
}
