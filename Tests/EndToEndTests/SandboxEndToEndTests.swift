import BatonClient
import BatonCore
import BatonTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `baton serve --sandbox`: what a plan can no longer reach of the server, and how the server
/// says whether plans are sandboxed.
@Suite("sandboxed plans end to end")
struct SandboxEndToEndTests {
    /// Whether the sandbox runs here; CI sets `BATON_TEST_REQUIRE_SANDBOX`, and then it must.
    static func sandboxAvailable() async throws -> Bool {
        guard case .off(let reason) = try await Sandbox.decide(.auto) else { return true }
        try #require(ProcessInfo.processInfo.environment["BATON_TEST_REQUIRE_SANDBOX"] == nil, "no sandbox in CI: \(reason)")
        print("note: sandboxed baton serve is not tested here: \(reason)")
        return false
    }

    @Test("a sandboxed plan cannot read the admin token, the database or the server's environment")
    func theServerIsOutOfReach() async throws {
        guard try await Self.sandboxAvailable() else { return }
        let directory = try TestDirectory()
        defer { directory.remove() }
        try await ServerProcess.with(dataDir: directory.dataDir, workspace: directory.workspace, arguments: ["--sandbox", "on"]) { server in
            let peek = """
                import json, os
                def read(path):
                    try:
                        with open(path, "rb") as f:
                            return "read %d bytes" % len(f.read())
                    except OSError as error:
                        return type(error).__name__
                print(json.dumps({"token": read("\(server.dataDir)/admin.token"), "database": read("\(server.dataDir)/baton.sqlite"),
                                  "server": read("/proc/\(server.processID)/environ"), "uid": os.getuid()}))
                """
            let body = try JSONSerialization.data(withJSONObject: ["code": peek])
            let plan = try await server.client.enqueue(planJSON: body).value
            let finished = try await server.client.plan(plan.id, wait: 60).value
            #expect(finished.status == "succeeded", "\(finished)")
            let seen = try #require(try JSONSerialization.jsonObject(with: Data(try await server.client.output(of: plan.id, stream: "stdout").utf8)) as? [String: Any])
            #expect(seen["token"] as? String == "FileNotFoundError", "\(seen)")
            #expect(seen["database"] as? String == "FileNotFoundError", "\(seen)")
            #expect(seen["server"] as? String == "FileNotFoundError", "\(seen)")

            let health = try await server.client.health().value
            #expect(health.sandbox?.state == "on")
            let doctor = try await baton(["doctor", "--data-dir", server.dataDir], environment: server.environment())
            #expect(doctor.stdout.contains("ok   sandbox: plans run in a sandbox"), "\(doctor)")
        }
    }

    @Test("kill -9 of the server while a plan's setsid daemon runs: after restart and recovery, nothing of it is left")
    func nothingOutlivesACrashedServer() async throws {
        guard try await Self.sandboxAvailable() else { return }
        let directory = try TestDirectory()
        defer { directory.remove() }
        let gate = Gate(directory: directory.workspace)
        defer { gate.open() }
        // A tag no other process on the machine has in its command line, ending in the attempt:
        // the rerun after recovery starts a daemon of its own.
        let tag = Int.random(in: 100_000...999_999)
        let sleeper = "sleep \(tag)1"
        try directory.write(script: "daemon.py", """
            import os, subprocess
            subprocess.Popen(["/bin/sh", "-c", "exec sleep \(tag)" + os.environ["BATON_ATTEMPT"]], start_new_session=True)
            \(gate.python())
            """)
        let arguments = ["--sandbox", "on", "--lease", "3"]
        var planID: Int64 = 0
        try await ServerProcess.with(dataDir: directory.dataDir, workspace: directory.workspace, arguments: arguments) { server in
            planID = try await server.client.enqueue(planJSON: Data(#"{"script": "daemon.py"}"#.utf8)).value.id
            try #require(await gate.waitUntilReady(), "the plan did not start:\n\(server.log.suffix(1500))")
            #expect(!processesRunning(containing: sleeper).isEmpty, "the daemon runs while the plan does")
            server.send(SIGKILL)
        }
        // A killed server's plan goes on until it is recovered, or until a server starting on
        // this host clears what dead servers left in their cgroups (as root), whichever is first.
        try await ServerProcess.with(dataDir: directory.dataDir, workspace: directory.workspace, arguments: arguments) { server in
            let recovered = try await eventually(within: .seconds(60)) {
                try await server.client.plan(planID).value.attempt >= 2
            }
            #expect(recovered, "\(server.log.suffix(1500))")
            let gone = await eventually { processesRunning(containing: sleeper).isEmpty }
            #expect(gone, "the first attempt's daemon is still running: \(processesRunning(containing: sleeper))")
        }
    }

    @Test("without baton-confine, auto runs plans unsandboxed and says why; on refuses to start")
    func withoutConfine() async throws {
        let directory = try TestDirectory()
        defer { directory.remove() }
        // `baton` alone in a directory, with Python beside it and no baton-confine anywhere.
        let bin = directory.root + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        let python = try #require(["/usr/bin/python3", "/usr/local/bin/python3"].first(where: FileManager.default.isExecutableFile(atPath:)))
        try FileManager.default.createSymbolicLink(atPath: bin + "/python3", withDestinationPath: python)
        let lone = bin + "/baton"
        if link(BatonBinary.path, lone) != 0 { try FileManager.default.copyItem(atPath: BatonBinary.path, toPath: lone) }
        let environment = ["PATH": bin]
        let missing = "baton-confine is not installed beside baton or on the search path"

        let refused = try await baton(["serve", "--data-dir", directory.dataDir, "--workspace", directory.workspace, "--port", "0",
                                       "--sandbox", "on"], environment: environment, executable: lone)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("--sandbox on, but \(missing)"), "\(refused)")

        try await ServerProcess.with(dataDir: directory.dataDir, workspace: directory.workspace, arguments: ["--sandbox", "auto"],
                                     environment: environment, executable: lone) { server in
            #expect(server.log.contains("plans run unsandboxed"), "\(server.log)")
            let health = try await server.client.health().value
            #expect(health.sandbox?.state == "off")
            #expect(health.sandbox?.reason?.contains(missing) == true, "\(String(describing: health.sandbox))")
            let doctor = try await baton(["doctor", "--data-dir", server.dataDir], environment: server.environment().merging(environment) { $1 },
                                         executable: lone)
            #expect(doctor.stdout.contains("warn sandbox: off"), "\(doctor)")
        }
    }
}
