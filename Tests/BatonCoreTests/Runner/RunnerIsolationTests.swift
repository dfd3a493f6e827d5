import Foundation
import BatonTestSupport
import Testing
@testable import BatonCore

/// What a child sees: its environment, its entry point, its files.
@Suite struct RunnerIsolationTests {
    @Test func theServersEnvironmentNeverReachesTheChild() async throws {
        setenv("BATON_TEST_SECRET", "server-only-token", 1)
        let fixture = try await RunnerFixture()
        try fixture.script("env.py", "import json, os\nprint(json.dumps(dict(os.environ)))\n")
        let (report, _) = await fixture.run(PlanSpec(entryPoint: .script("env.py"), env: ["API_KEY": "plan-secret"]), id: 41, attempt: 2)
        let environment = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.text.utf8)) as? [String: String])
        #expect(environment["BATON_TEST_SECRET"] == nil)
        #expect(!report.stdout.text.contains("server-only-token"))
        #expect(environment["API_KEY"] == "plan-secret")
        #expect(environment["BATON_EXECUTION_MODE"] == "test")
        #expect(environment["BATON_PLAN_ID"] == "41")
        #expect(environment["BATON_ATTEMPT"] == "2")
        #expect(environment["PYTHONUNBUFFERED"] == "1")
        #expect(environment["PYTHONPATH"] == repositoryRoot + "/python")
        let allowed: Set<String> = ["PATH", "HOME", "LANG", "PYTHONUNBUFFERED", "PYTHONPATH", "API_KEY", "BATON_EXECUTION_MODE", "BATON_PLAN_ID", "BATON_ATTEMPT", "LC_CTYPE"]
        #expect(Set(environment.keys).subtracting(allowed).isEmpty, "unexpected: \(Set(environment.keys).subtracting(allowed))")
    }

    @Test func theChildRunsInTheWorkspaceRoot() async throws {
        let fixture = try await RunnerFixture()
        try fixture.script("suite/where.py", "import os\nprint(os.getcwd())\n")
        let (report, _) = await fixture.run(PlanSpec(entryPoint: .script("suite/where.py")))
        #expect(report.stdout.text.trimmingCharacters(in: .newlines) == RunnerFixtureSupport.realPath(fixture.workspace.path))
    }

    @Test func modulesRunWithDashM() async throws {
        let fixture = try await RunnerFixture()
        try fixture.script("pkg/__init__.py", "")
        try fixture.script("pkg/smoke.py", "import sys\nprint(__name__, sys.argv[1:])\n")
        let (report, _) = await fixture.run(PlanSpec(entryPoint: .module("pkg.smoke"), args: ["--fast", "-k", "a b"]))
        #expect(report.outcome.status == .succeeded, "\(report.stderr.text)")
        #expect(report.stdout.text == "__main__ ['--fast', '-k', 'a b']\n")
    }

    @Test func inlineCodeRunsFromAPrivateFileRemovedAfterwards() async throws {
        let fixture = try await RunnerFixture()
        let code = """
            import os, stat
            print(__file__)
            print(oct(stat.S_IMODE(os.stat(__file__).st_mode)), oct(stat.S_IMODE(os.stat(os.path.dirname(__file__)).st_mode)))

            """
        for ending in ["exit", "timeout"] {
            let source = ending == "exit" ? code : code + "import sys, time\nsys.stdout.flush()\ntime.sleep(600)\n"
            let (report, _) = await fixture.run(PlanSpec(entryPoint: .code(source), timeoutSeconds: ending == "exit" ? 60 : 3))
            let lines = report.stdout.text.split(separator: "\n").map(String.init)
            #expect(lines.count == 2, "\(report.stdout.text) \(report.stderr.text)")
            #expect(lines.last == "0o600 0o700", "file only its owner reads, in a directory only its owner enters")
            let file = try #require(lines.first)
            #expect(!FileManager.default.fileExists(atPath: file), "removed after a run that ended by \(ending)")
            #expect(!FileManager.default.fileExists(atPath: (file as NSString).deletingLastPathComponent))
        }
    }

    @Test func scriptsOutsideTheWorkspaceAreRefused() async throws {
        let fixture = try await RunnerFixture()
        let outside = try TemporaryDirectory()
        try "print('escaped')\n".write(toFile: outside.file("evil.py"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: fixture.workspace.file("link.py"), withDestinationPath: outside.file("evil.py"))
        try FileManager.default.createSymbolicLink(atPath: fixture.workspace.file("dir"), withDestinationPath: outside.path)

        for script in ["link.py", "dir/evil.py", "../x/evil.py", "/etc/passwd.py"] {
            let (report, events) = await fixture.run(PlanSpec(entryPoint: .script(script)))
            #expect(report.outcome.status == .failed, "\(script)")
            #expect(report.outcome.error?.kind == .scriptNotFound, "\(script)")
            #expect(events.isEmpty, "\(script) never started")
        }
        let (report, _) = await fixture.run(PlanSpec(entryPoint: .script("link.py")))
        #expect(report.outcome.error?.message.contains("outside the workspace") == true)
    }

    @Test func aSymlinkInsideTheWorkspaceIsFollowed() async throws {
        let fixture = try await RunnerFixture()
        try fixture.script("real/run.py", "print('inside')\n")
        try FileManager.default.createSymbolicLink(atPath: fixture.workspace.file("alias.py"), withDestinationPath: fixture.workspace.file("real/run.py"))
        let (report, _) = await fixture.run(PlanSpec(entryPoint: .script("alias.py")))
        #expect(report.outcome.status == .succeeded)
        #expect(report.stdout.text == "inside\n")
    }

    @Test func aMissingScriptFailsAsScriptNotFound() async throws {
        let fixture = try await RunnerFixture()
        try FileManager.default.createDirectory(atPath: fixture.workspace.file("folder.py"), withIntermediateDirectories: true)
        for script in ["nope.py", "folder.py"] {
            let (report, _) = await fixture.run(PlanSpec(entryPoint: .script(script)))
            #expect(report.outcome.status == .failed)
            #expect(report.outcome.error?.kind == .scriptNotFound, "\(script)")
        }
    }

    @Test func aVanishedInterpreterFailsAsPythonUnavailable() async throws {
        let workspace = try TemporaryDirectory()
        let fake = PythonInterpreter(path: workspace.file("gone/python3"), version: "3.11.0", versionNumbers: [3, 11, 0])
        let runner = PythonRunner(configuration: .init(interpreter: fake, workspaceRoot: workspace.path), logger: quietLogger)
        var plan = QueueRules.enqueuing(PlanSpec(entryPoint: .code("print(1)")), policy: QueuePolicy(), now: t0).plan
        plan.id = 1
        let report = await runner.run(plan, attempt: 1, control: RunControl()) { _ in }
        #expect(report.outcome.status == .failed)
        #expect(report.outcome.error?.kind == .pythonUnavailable)
    }
}

enum RunnerFixtureSupport {
    static func realPath(_ path: String) -> String {
        PythonRunner.realPath(path) ?? path
    }
}
