import Foundation
import BatonTestSupport
import Testing
@testable import BatonCore

/// Plans in the sandbox: what they can no longer see or leave behind, and what they can still do.
@Suite struct SandboxTests {
    @Test func theDataDirectoryAndHiddenFilesAreOutOfSight() async throws {
        let server = try TemporaryDirectory()
        try "admin-secret".write(toFile: server.file("admin.token"), atomically: true, encoding: .utf8)
        let config = try TemporaryDirectory()
        try "BATON_DATABASE_PASSWORD=hunter2".write(toFile: config.file("baton.env"), atomically: true, encoding: .utf8)
        guard let sandbox = try await testSandbox(hiding: [server.path], files: [config.file("baton.env")]) else { return }
        let fixture = try await RunnerFixture(sandbox: sandbox)
        try fixture.script("peek.py", """
            import json, os
            def read(path):
                try:
                    with open(path) as f:
                        return f.read()
                except OSError as error:
                    return type(error).__name__
            print(json.dumps({"token": read("\(server.file("admin.token"))"), "listing": os.listdir("\(server.path)"),
                              "config": read("\(config.file("baton.env"))"), "server": read("/proc/\(getpid())/environ")}))
            """)
        let (report, _) = await fixture.run(PlanSpec(entryPoint: .script("peek.py")))
        #expect(report.outcome.status == .succeeded, "\(report.stderr.text)")
        let seen = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.text.utf8)) as? [String: Any])
        #expect(seen["token"] as? String == "FileNotFoundError")
        #expect((seen["listing"] as? [String])?.isEmpty == true)
        #expect(seen["config"] as? String == "PermissionError")
        #expect(seen["server"] as? String == "FileNotFoundError", "the server's /proc entry: \(seen)")
    }

    @Test func eachPlanHasATmpOfItsOwnAndTheWorkspaceStaysWritable() async throws {
        guard let sandbox = try await testSandbox() else { return }
        let fixture = try await RunnerFixture(sandbox: sandbox)
        let marker = "baton-sandbox-\(UUID().uuidString)"
        try fixture.script("write.py", """
            import os
            with open("/tmp/\(marker)", "w") as f:
                f.write("mine")
            with open("artefact.txt", "w") as f:
                f.write("kept")
            os.makedirs(os.path.expanduser("~/.cache/tool"))
            print(os.environ["HOME"])
            """)
        try fixture.script("look.py", "import os\nprint(os.path.exists('/tmp/\(marker)'))\n")
        let (written, _) = await fixture.run(PlanSpec(entryPoint: .script("write.py")))
        #expect(written.outcome.status == .succeeded, "\(written.stderr.text)")
        #expect(written.stdout.text == Sandbox.home + "\n")
        #expect(try String(contentsOfFile: fixture.workspace.file("artefact.txt"), encoding: .utf8) == "kept")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/" + marker), "the plan's /tmp is not the host's")
        let (looked, _) = await fixture.run(PlanSpec(entryPoint: .script("look.py")))
        #expect(looked.stdout.text == "False\n", "another plan's /tmp: \(looked.stderr.text)")
    }

    @Test func devHoldsOnlyHarmlessDevicesAndTheRestOfTheSystemIsReadOnly() async throws {
        guard let sandbox = try await testSandbox() else { return }
        let fixture = try await RunnerFixture(sandbox: sandbox)
        try fixture.script("devices.py", """
            import json, os, pty
            def attempt(action):
                try:
                    action()
                    return "ok"
                except OSError as error:
                    return type(error).__name__
            def write_etc():
                open("/etc/baton-sandbox-probe", "w").close()
            def use_devices():
                with open("/dev/null", "w") as null, open("/dev/urandom", "rb") as random:
                    null.write("x")
                    assert len(random.read(8)) == 8
            def open_terminal():
                leader, follower = pty.openpty()
                os.write(leader, b"hi\\n")
                os.close(leader)
                os.close(follower)
            print(json.dumps({"dev": sorted(os.listdir("/dev")), "etc": attempt(write_etc),
                              "devices": attempt(use_devices), "pty": attempt(open_terminal)}))
            """)
        let (report, _) = await fixture.run(PlanSpec(entryPoint: .script("devices.py")))
        #expect(report.outcome.status == .succeeded, "\(report.stderr.text)")
        let seen = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.text.utf8)) as? [String: Any])
        let devices = try #require(seen["dev"] as? [String])
        let allowed: Set = ["null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm", "fd", "stdin", "stdout", "stderr"]
        #expect(Set(devices).isSubset(of: allowed), "the host's devices show: \(devices)")
        #expect(devices.contains("null") && devices.contains("urandom"))
        #expect(seen["etc"] as? String == "OSError" || seen["etc"] as? String == "PermissionError", "\(seen)")
        #expect(!FileManager.default.fileExists(atPath: "/etc/baton-sandbox-probe"))
        #expect(seen["devices"] as? String == "ok", "\(seen)")
        #expect(seen["pty"] as? String == "ok", "\(seen)")
    }

    @Test func nothingAPlanStartedOutlivesIt() async throws {
        guard let sandbox = try await testSandbox() else { return }
        let fixture = try await RunnerFixture(grace: .milliseconds(200), sandbox: sandbox)
        // A daemon that leaves the session, a double-forked grandchild and a plain child, each
        // saying it started with a file in the workspace; then the plan exits, or hangs until
        // its timeout. The test looks for what is left from outside, by command line.
        let sleeper = "sleep \(Int.random(in: 100_000...999_999))"
        try fixture.script("escape.py", """
            import os, subprocess, sys, time
            tag = sys.argv[1]
            subprocess.Popen(["/bin/sh", "-c", f"echo > pid-{tag}-daemon; exec \(sleeper)"], start_new_session=True)
            if os.fork() == 0:
                if os.fork() == 0:
                    os.setsid()
                    time.sleep(600)
                os._exit(0)
            subprocess.Popen(["/bin/sh", "-c", f"echo > pid-{tag}-child; exec \(sleeper)"])
            while not all(os.path.exists(f"pid-{tag}-{kind}") for kind in ("daemon", "child")):
                time.sleep(0.01)
            if tag == "hang":
                time.sleep(600)
            """)
        let workspace = fixture.workspace.path
        for (tag, timeout) in [("exit", 60), ("hang", 1)] {
            let (report, _) = await fixture.run(PlanSpec(entryPoint: .script("escape.py"), args: [tag], timeoutSeconds: timeout))
            #expect(report.outcome.status == (tag == "exit" ? .succeeded : .timedOut), "\(tag): \(report.stderr.text)")
            let left = await eventually {
                processesRunning(containing: sleeper).isEmpty && processesRunning(containing: workspace).isEmpty
            }
            #expect(left, "\(tag): still running: \(processesRunning(containing: sleeper) + processesRunning(containing: workspace))")
        }
    }

    @Test func aSignalsEndIsReportedAsTheSignal() async throws {
        guard let sandbox = try await testSandbox() else { return }
        let fixture = try await RunnerFixture(sandbox: sandbox)
        let (killed, _) = await fixture.run(PlanSpec(entryPoint: .code("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")))
        #expect(killed.outcome.status == .failed)
        #expect(killed.outcome.signal == 9, "\(killed.outcome)")
        let (exited, _) = await fixture.run(PlanSpec(entryPoint: .code("import sys\nsys.exit(3)")))
        #expect(exited.outcome.exitCode == 3)
    }

    @Test func withoutConfineAutoRunsUnsandboxedAndOnRefusesToStart() async throws {
        let empty = try TemporaryDirectory()
        let options = Sandbox.Options(confine: empty.path + "/baton-confine")
        let auto = try await Sandbox.decide(.auto, options: options, path: empty.path)
        guard case .off(let reason) = auto else { Issue.record("decided \(auto)"); return }
        #expect(reason.contains("is not an executable baton-confine"))
        #expect(try await Sandbox.decide(.off) == .off(reason: "--sandbox off"))
        await #expect(throws: SandboxError.self) {
            try await Sandbox.decide(.on, options: options, path: empty.path)
        }
    }
}
