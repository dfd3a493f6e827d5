import Foundation
import Subprocess
import SystemPackage

/// Deciding at start whether plans can run sandboxed here, and opening a workspace to them.
extension Sandbox {
    /// Finds what the sandbox needs (`baton-confine`, the plan user, cgroups) and
    /// tries it once, as plans will run. `on` throws what is missing; `auto` answers
    /// ``Decision/off(reason:)`` with it. A setting that cannot be right on any machine (a
    /// `--plan-user` that does not exist, or is root) throws in either mode.
    public static func decide(_ mode: Mode, options: Options = Options(),
                              path: String = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") async throws(SandboxError) -> Decision {
        if mode == .off { return .off(reason: "--sandbox off") }
        let problem: String
        do {
            let sandbox = try await assemble(options, path: path)
            let scratch = try TemporaryWorkspace()
            defer { scratch.remove() }
            try await sandbox.prepare(workspace: scratch.path)
            return .on(sandbox)
        } catch let error as SandboxProblem {
            problem = error.description
        } catch let error as SandboxError {
            throw error
        } catch {
            problem = "\(error)"
        }
        if mode == .on { throw SandboxError("--sandbox on, but \(problem); use --sandbox auto to run plans unsandboxed where that is so") }
        return .off(reason: problem)
    }

    /// Opens `workspace` to the plan user (see ``WorkspaceAccess``), then checks from inside
    /// the sandbox that a plan can write there.
    public func prepare(workspace: String) async throws(SandboxError) {
        if let user {
            do {
                try WorkspaceAccess.grant(user.uid, to: workspace)
            } catch {
                throw SandboxError("plans run as \(user.name), but \(error)")
            }
        }
        if let failure = await trial(in: workspace) {
            let who = user?.name ?? "the server's user"
            throw SandboxError("a sandboxed plan (as \(who)) cannot write the workspace \(workspace): \(failure)")
        }
    }

    private static func assemble(_ options: Options, path: String) async throws -> Sandbox {
        guard let confine = options.confine ?? Self.confineBesideExecutable() ?? Executables.find("baton-confine", on: path) else {
            throw SandboxProblem("baton-confine is not installed beside baton or on the search path")
        }
        guard FileManager.default.isExecutableFile(atPath: confine) else {
            throw SandboxProblem("\(confine) is not an executable baton-confine")
        }
        let user: PlanUser?
        if getuid() == 0 {
            do {
                user = try await PlanUser.resolve(options.planUser, path: path)
            } catch where options.planUser == nil {
                throw SandboxProblem(error.description)
            } catch {
                throw SandboxError(error.description)
            }
        } else {
            if let wanted = options.planUser, wanted != String(cString: getpwuid(getuid()).pointee.pw_name), wanted != String(getuid()) {
                throw SandboxError("--plan-user \(wanted) needs a server running as root; as any other user, plans run as the server's user in a user namespace")
            }
            user = nil
        }
        let home = String(cString: getpwuid(getuid()).pointee.pw_dir)
        return Sandbox(confine: confine, hiddenDirectories: options.hiddenDirectories, hiddenFiles: options.hiddenFiles,
                       serverHome: home.isEmpty || home == "/" || !FileManager.default.fileExists(atPath: home) ? nil : home,
                       user: user, limits: options.limits, cgroups: PlanCgroups.prepare())
    }

    /// `baton-confine` in the directory of the running executable (`baton`, or a test runner).
    private static func confineBesideExecutable() -> String? {
        guard let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        let candidate = URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("baton-confine").path
        return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
    }

    /// Creates, then removes, a file in `workspace` from inside the sandbox, in a run's cgroups;
    /// `nil` if that worked, else what went wrong.
    private func trial(in workspace: String) async -> String? {
        var cgroups: RunCgroups?
        if case .success(let available) = self.cgroups {
            do {
                cgroups = try available.create(for: "plan-trial", limits: limits)
            } catch {
                return "\(error)"
            }
        }
        defer { cgroups?.remove() }
        let line = commandLine(running: ["/bin/sh", "-c", ": > .baton-trial && rm .baton-trial"], workspace: workspace, readable: [],
                               limits: limits, cgroups: cgroups)
        do {
            let result = try await Subprocess.run(.path(FilePath(line[0])), arguments: Arguments(Array(line.dropFirst())),
                                                  output: .discarded, error: .string(limit: 4096))
            if case .exited(0) = result.terminationStatus { return nil }
            let said = result.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
            return "the sandbox does not start here (\(said.isEmpty ? "\(result.terminationStatus)" : said))"
        } catch {
            return "\(confine) could not be started: \(error)"
        }
    }
}

/// What keeps the sandbox from running on this machine: `auto` runs plans unsandboxed instead.
private struct SandboxProblem: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A temporary directory for the trial run.
private struct TemporaryWorkspace {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/baton-trial-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw SandboxProblem("cannot create a directory for a trial run: \(String(cString: strerror(errno)))")
        }
        path = String(cString: made)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// The sandbox cannot be had as configured.
public struct SandboxError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
