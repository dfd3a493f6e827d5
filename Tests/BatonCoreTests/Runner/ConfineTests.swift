import Foundation
import BatonTestSupport
import Subprocess
import SystemPackage
import Testing
@testable import BatonCore

/// `baton-confine` on its own: how it refuses bad command lines, what it passes on of the
/// command's end, and the sandbox it builds for a server that is not root.
@Suite struct ConfineTests {
    struct Ran {
        let status: TerminationStatus
        let stdout: String
        let stderr: String
    }

    static func confine(_ arguments: [String], as user: PlanUser? = nil) async throws -> Ran? {
        guard let sandbox = try await testSandbox() else { return nil }
        var options = PlatformOptions()
        if let user {
            options.userID = user.uid
            options.groupID = user.gid
            options.supplementaryGroups = []
        }
        let result = try await Subprocess.run(.path(FilePath(sandbox.confine)), arguments: Arguments(arguments), platformOptions: options,
                                              output: .string(limit: 1 << 16), error: .string(limit: 1 << 16))
        return Ran(status: result.terminationStatus, stdout: result.standardOutput, stderr: result.standardError)
    }

    @Test(arguments: [
        (["--open-files", "0", "--", "/bin/true"], "bad --open-files 0"),
        (["--open-files", "many", "--", "/bin/true"], "bad --open-files many"),
        (["--sandbox", "--chdir", "/", "--user", "0", "0", "--", "/bin/true"], "never root"),
        (["--sandbox", "--chdir", "/", "--tmpfs", "/tmp", "rwx", "--", "/bin/true"], "bad --tmpfs rwx"),
        (["--sandbox", "--", "/bin/true"], "--sandbox needs --chdir"),
        (["--frobnicate", "--", "/bin/true"], "unknown or incomplete argument --frobnicate"),
        (["--bind"], "unknown or incomplete argument --bind"),
        (["--open-files", "64"], "no command after --"),
    ])
    func aBadCommandLineIsRefusedWithUsage(arguments: [String], says: String) async throws {
        guard let ran = try await Self.confine(arguments) else { return }
        #expect(ran.status == .exited(125))
        #expect(ran.stderr.contains(says), "\(ran.stderr)")
        #expect(ran.stderr.contains("usage: baton-confine"), "\(ran.stderr)")
    }

    @Test func theCommandsEndIsPassedOn() async throws {
        let sandboxed = ["--sandbox", "--chdir", "/", "--"]
        guard let exited = try await Self.confine(sandboxed + ["/bin/sh", "-c", "exit 7"]) else { return }
        #expect(exited.status == .exited(7))
        let signaled = try #require(try await Self.confine(sandboxed + ["/bin/sh", "-c", "kill -KILL $$"]))
        #expect(signaled.status == .exited(128 + 9))
        let missing = try #require(try await Self.confine(sandboxed + ["/nonexistent/python3"]))
        #expect(missing.status == .exited(127))
        #expect(missing.stderr.contains("cannot run /nonexistent/python3"), "\(missing.stderr)")
    }

    @Test func aServerThatIsNotRootSandboxesPlansInAUserNamespace() async throws {
        guard getuid() == 0, let sandbox = try await testSandbox(), let user = sandbox.user else { return }
        let workspace = try TemporaryDirectory()
        chmod(workspace.path, 0o777)
        let hidden = try TemporaryDirectory()
        try "secret".write(toFile: hidden.file("admin.token"), atomically: true, encoding: .utf8)
        chmod(hidden.path, 0o755)
        chmod(hidden.file("admin.token"), 0o644)
        let script = """
            id -u; echo kept > artefact.txt; ls /proc | grep -c '^[0-9]'; cat \(hidden.file("admin.token")) 2>&1; \
            grep CapEff /proc/self/status; touch /usr/baton-probe 2>&1 || true
            """
        let ran = try #require(try await Self.confine(
            ["--sandbox", "--chdir", workspace.path, "--bind", workspace.path, "--tmpfs", hidden.path, "0755",
             "--", "/bin/sh", "-c", script], as: user))
        #expect(ran.status == .exited(0), "\(ran.stderr)")
        let lines = ran.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "\(user.uid)", "the server's own user: \(lines)")
        #expect(try String(contentsOfFile: workspace.file("artefact.txt"), encoding: .utf8) == "kept\n")
        #expect(lines.count > 2 && Int(lines[1]).map { $0 <= 4 } == true, "only the plan's own processes: \(lines)")
        #expect(ran.stdout.contains("No such file or directory"), "the hidden token: \(ran.stdout)")
        #expect(ran.stdout.contains("CapEff:\t0000000000000000"), "\(ran.stdout)")
        #expect(ran.stdout.contains("Read-only file system"), "\(ran.stdout)")
    }
}
