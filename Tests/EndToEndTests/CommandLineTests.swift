import BatonClient
import BatonTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The `baton` CLI against a real `baton serve`, both as built (design §7).
@Suite("baton CLI end to end", .serialized)
struct CommandLineTests {
    @Test("enqueue --wait exits 0, 1, 3 and 4 for succeeded, failed, timed-out and canceled plans")
    func waitExitCodes() async throws {
        let directory = try TestDirectory()
        defer { directory.remove() }
        try await ServerProcess.with(dataDir: directory.dataDir, workspace: directory.workspace) { server in
            let env = server.environment()
            let succeeded = try await baton(["enqueue", "--code", "print('fine')", "--wait"], environment: env)
            #expect(succeeded.status == 0, "\(succeeded)")
            #expect(succeeded.stderr.contains("succeeded"), "\(succeeded)")

            let failed = try await baton(["enqueue", "--code", "raise SystemExit(7)", "--wait"], environment: env)
            #expect(failed.status == 1, "\(failed)")
            #expect(failed.stderr.contains("exit code 7"), "\(failed)")

            let timedOut = try await baton(["enqueue", "--code", "import time; time.sleep(120)", "--timeout", "1", "--wait"], environment: env)
            #expect(timedOut.status == 3, "\(timedOut)")

            // Cancel from another command while the first one waits.
            async let waiting = baton(["enqueue", "--name", "to-cancel", "--code", "import time; time.sleep(120)", "--wait"], environment: env)
            var planID: Int64?
            let running = try await eventually {
                let list = try await baton(["list", "--json", "--name", "to-cancel", "--status", "running"], environment: env)
                planID = ((list.object["plans"] as? [[String: Any]])?.first?["id"] as? NSNumber)?.int64Value
                return planID != nil
            }
            try #require(running)
            let cancel = try await baton(["cancel", "\(planID!)"], environment: env)
            #expect(cancel.status == 0, "\(cancel)")
            let canceled = try await waiting
            #expect(canceled.status == 4, "\(canceled)")
            #expect(canceled.stderr.contains("plan \(planID!) canceled"), "\(canceled)")
        }
    }

    @Test("enqueue --follow prints the plan's output in order, stdout and stderr apart, then the summary")
    func follow() async throws {
        let directory = try TestDirectory()
        defer { directory.remove() }
        try directory.write(script: "count.py", """
            import json, sys, time
            n = json.load(sys.stdin)["n"]
            for i in range(n):
                print(f"line {i}", flush=True)
                if i % 10 == 0:
                    print(f"progress {i}", file=sys.stderr, flush=True)
                    time.sleep(0.02)
            """)
        try await ServerProcess.with(dataDir: directory.dataDir, workspace: directory.workspace) { server in
            let result = try await baton(["enqueue", "--script", "count.py", "--input", #"{"n": 200}"#, "--follow"], environment: server.environment())
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout == (0..<200).map { "line \($0)\n" }.joined(), "\(result)")
            #expect(result.stderr.contains("progress 190"), "\(result)")
            #expect(result.stderr.contains("succeeded"), "\(result)")

            // `logs` prints the same stored output afterwards; `logs --follow` of an ended plan too.
            let id = try #require(try await server.client.plans().value.plans.first?.id)
            let logs = try await baton(["logs", "\(id)", "--stream", "stdout"], environment: server.environment())
            #expect(logs.stdout == result.stdout)
            let followed = try await baton(["logs", "--follow", "\(id)"], environment: server.environment())
            #expect(followed.status == 0)
            #expect(followed.stdout == result.stdout)
        }
    }

    @Test("list --json and show --json answer what the API answers; input and labels go through as given")
    func listAndShowAgreeWithAPI() async throws {
        let directory = try TestDirectory()
        defer { directory.remove() }
        try await ServerProcess.with(dataDir: directory.dataDir, workspace: directory.workspace) { server in
            let env = server.environment()
            let input = #"{"big": 12345678901234567890, "f": 1.50, "z": 1, "a": 2}"#
            let enqueued = try await baton(["enqueue", "--code", "import sys; print(sys.stdin.read())", "--input", input,
                                            "--label", "branch=main", "--env", "SECRET=hunter2", "--priority", "2", "--json", "--wait"],
                                           environment: env)
            #expect(enqueued.status == 0, "\(enqueued)")
            #expect(!enqueued.stdout.contains("hunter2"))
            let id = try #require((enqueued.object["id"] as? NSNumber)?.int64Value, "\(enqueued)")

            let api = try await server.client.plan(id)
            let show = try await baton(["show", "\(id)", "--json"], environment: env)
            #expect(show.stdout == String(decoding: api.body, as: UTF8.self) + "\n")
            #expect(api.value.priority == 2 && api.value.labels == ["branch": "main"])

            let list = try await baton(["list", "--json", "--label", "branch=main"], environment: env)
            let apiList = try await server.client.plans(labels: ["branch": "main"])
            #expect(list.stdout == String(decoding: apiList.body, as: UTF8.self) + "\n")

            // The script saw the input exactly as written: number spelling and key order kept.
            let logs = try await baton(["logs", "\(id)"], environment: env)
            #expect(logs.stdout == input + "\n")

            let human = try await baton(["show", "\(id)"], environment: env)
            #expect(human.stdout.contains("succeeded") && human.stdout.contains("branch=main"), "\(human)")
        }
    }

    @Test("poll needs a producer token; pause, resume and restart need admin and say forbidden otherwise")
    func roles() async throws {
        let directory = try TestDirectory()
        defer { directory.remove() }
        try await ServerProcess.with(dataDir: directory.dataDir, workspace: directory.workspace) { server in
            let admin = server.environment()
            let created = try await baton(["token", "create", "--role", "producer", "--name", "ci", "--json"], environment: admin)
            #expect(created.status == 0, "\(created)")
            let producerToken = try #require(created.object["token"] as? String)
            let producer = server.environment(token: producerToken)

            let poll = try await baton(["poll"], environment: producer)
            #expect(poll.status == 0, "\(poll)")
            #expect(poll.stdout.contains("claimed"))

            for command in [["pause"], ["resume"], ["restart"], ["token", "list"]] {
                let refused = try await baton(command, environment: producer)
                #expect(refused.status == 5, "\(command): \(refused)")
                #expect(refused.stderr.contains("forbidden"), "\(command): \(refused)")
            }

            let pause = try await baton(["pause"], environment: admin)
            #expect(pause.status == 0 && pause.stdout.contains("paused"), "\(pause)")
            #expect(try await server.client.orchestrator().value.state == "paused")
            let resume = try await baton(["resume"], environment: admin)
            #expect(resume.status == 0 && resume.stdout.contains("running"), "\(resume)")
            let restart = try await baton(["restart", "--drain-timeout", "5"], environment: admin)
            #expect(restart.status == 0 && restart.stdout.contains("generation 2"), "\(restart)")
            let immediate = try await baton(["restart", "--immediate", "--json"], environment: admin)
            #expect((immediate.object["generation"] as? Int) == 3, "\(immediate)")

            let status = try await baton(["status"], environment: producer)
            #expect(status.status == 0 && status.stdout.contains("generation 3"), "\(status)")
            let nodes = try await baton(["nodes"], environment: producer)
            #expect(nodes.status == 0 && nodes.stdout.contains(" * ") && nodes.stdout.contains("running"), "\(nodes)")
            let unknown = try await baton(["pause", "--node", "elsewhere"], environment: admin)
            #expect(unknown.status == 5 && unknown.stderr.contains("no node is named elsewhere"), "\(unknown)")
            #expect(try await baton(["audit"], environment: producer).status == 5, "the audit log is for admins")
            let audit = try await baton(["audit", "--json"], environment: admin)
            let actions = (audit.object["entries"] as? [[String: Any]] ?? []).map { $0["action"] as? String ?? "" }
            #expect(actions.prefix(4) == ["restart", "restart", "resume", "pause"], "\(audit)")

            // Revoked by name, the token stops working at once.
            let revoke = try await baton(["token", "revoke", "ci"], environment: admin)
            #expect(revoke.status == 0, "\(revoke)")
            let afterRevoke = try await baton(["status"], environment: producer)
            #expect(afterRevoke.status == 5 && afterRevoke.stderr.contains("unauthorized"), "\(afterRevoke)")
        }
    }

    @Test("the admin token in --data-dir is found without --token; doctor checks the machine and the server")
    func localAdminTokenAndDoctor() async throws {
        let directory = try TestDirectory()
        defer { directory.remove() }
        try await ServerProcess.with(dataDir: directory.dataDir, workspace: directory.workspace) { server in
            // Not at a terminal, the server logs where the admin token is, never the token.
            #expect(!server.adminToken.isEmpty && !server.log.contains(server.adminToken))
            #expect(server.log.contains("admin.token"))
            let local = ["BATON_SERVER": server.url, "BATON_DATA_DIR": directory.dataDir]
            let status = try await baton(["status"], environment: local)
            #expect(status.status == 0, "\(status)")
            let doctor = try await baton(["doctor"], environment: local)
            #expect(doctor.status == 0, "\(doctor)")
            for check in ["python", "data directory", "database", "server", "token"] {
                #expect(doctor.stdout.contains("ok   \(check):"), "\(check): \(doctor)")
            }
            let noToken = try await baton(["status", "--data-dir", directory.root + "/elsewhere"], environment: ["BATON_SERVER": server.url])
            #expect(noToken.status == 5 && noToken.stderr.contains("--token"), "\(noToken)")
        }
    }

    @Test("Ctrl-C stops waiting and leaves the plan running; with --cancel-on-interrupt it cancels the plan")
    func interrupt() async throws {
        let directory = try TestDirectory()
        defer { directory.remove() }
        try await ServerProcess.with(dataDir: directory.dataDir, workspace: directory.workspace) { server in
            let env = server.environment()
            for (signal, cancels) in [(SIGINT, false), (SIGTERM, false), (SIGINT, true)] {
                let name = "interrupted-\(signal)-\(cancels)"
                var planID: Int64?
                let result = try await baton(
                    ["enqueue", "--name", name, "--code", "import time; time.sleep(120)", "--wait"] + (cancels ? ["--cancel-on-interrupt"] : []),
                    environment: env
                ) { pid, stderr in
                    let running = try await eventually {
                        planID = try await server.client.plans(status: ["running"], nameContains: name).value.plans.first?.id
                        return planID != nil
                    }
                    try #require(running)
                    // The command names the plan only once it traps the signal: from then on an
                    // interrupt is its to handle.
                    let id = try #require(planID)
                    try #require(await eventually { stderr().contains("plan \(id) ") })
                    kill(pid, signal)
                }
                let id = try #require(planID)
                let plan = try await server.client.plan(id).value
                if cancels {
                    #expect(result.status == 4, "\(result) \(plan.status)")
                    #expect(result.stderr.contains("canceling plan \(id)"), "\(result)")
                    #expect(plan.status == "canceled")
                } else {
                    #expect(result.status == 128 + signal, "\(result)")
                    #expect(result.stderr.contains("plan \(id) goes on on the server"), "\(result)")
                    #expect(plan.status == "running")
                    _ = try await server.client.cancel(id)
                }
            }
        }
    }

    @Test("doctor fails, naming each broken part: a damaged database, a missing interpreter, no server")
    func doctorFindsProblems() async throws {
        let directory = try TestDirectory()
        defer { directory.remove() }
        try FileManager.default.createDirectory(atPath: directory.dataDir, withIntermediateDirectories: true)
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: directory.dataDir + "/baton.sqlite"))
        let result = try await baton(["doctor", "--python", "/nonexistent/python3", "--data-dir", directory.dataDir],
                                     environment: ["BATON_SERVER": "http://127.0.0.1:9"])
        #expect(result.status == 1, "\(result)")
        for check in ["python", "database", "server"] {
            #expect(result.stdout.contains("FAIL \(check):"), "\(check): \(result)")
        }
        #expect(result.stdout.contains("ok   data directory"), "\(result)")
    }

    @Test("usage errors exit 64 and name what is wrong")
    func usageErrors() async throws {
        let cases: [([String], String)] = [
            (["enqueue"], "exactly one of --script"),
            (["enqueue", "--script", "a.py", "--code", "x"], "exactly one of --script"),
            (["enqueue", "--script", "a.py", "--input", "{not json"], "--input is not valid JSON"),
            (["enqueue", "--script", "a.py", "--priority", "12"], "--priority must be from 0 to 9"),
            (["enqueue", "--script", "a.py", "--label", "nokey"], "KEY=VALUE"),
            (["list", "--limit", "0"], "--limit"),
            (["prune", "--older-than", "soon"], "--older-than"),
            (["show", "abc"], "abc"),
            (["no-such-command"], "no-such-command"),
        ]
        for (arguments, message) in cases {
            let result = try await baton(arguments)
            #expect(result.status == 64, "\(arguments): \(result)")
            #expect(result.stderr.contains(message), "\(arguments): \(result)")
        }
    }

    @Test("an unreachable server exits 5 and says how to point at the right one")
    func unreachableServer() async throws {
        let result = try await baton(["enqueue", "--code", "pass", "--wait"], environment: ["BATON_SERVER": "http://127.0.0.1:9", "BATON_TOKEN": "x"])
        #expect(result.status == 5, "\(result)")
        #expect(result.stderr.contains("cannot reach the Baton server at http://127.0.0.1:9"), "\(result)")
        #expect(result.stderr.contains("BATON_SERVER"), "\(result)")
    }

    @Test("a rejected plan exits 5 with the server's field errors; prune deletes only old ended plans")
    func rejectedPlanAndPrune() async throws {
        let directory = try TestDirectory()
        defer { directory.remove() }
        try await ServerProcess.with(dataDir: directory.dataDir, workspace: directory.workspace) { server in
            let rejected = try await baton(["enqueue", "--script", "../outside.py"], environment: server.environment())
            #expect(rejected.status == 5, "\(rejected)")
            #expect(rejected.stderr.contains("script:"), "\(rejected)")

            let done = try await baton(["enqueue", "--code", "pass", "--wait"], environment: server.environment())
            #expect(done.status == 0)
            let kept = try await baton(["prune", "--older-than", "1d"], environment: server.environment())
            #expect(kept.status == 0 && kept.stdout.contains("deleted 0 plans"), "\(kept)")
            let pruned = try await baton(["prune", "--older-than", "0s"], environment: server.environment())
            #expect(pruned.status == 0 && pruned.stdout.contains("deleted 1 plan "), "\(pruned)")
            #expect(try await server.client.plans().value.plans.isEmpty)
            let audit = try await baton(["audit"], environment: server.environment())
            #expect(audit.status == 0, "\(audit)")
            #expect(audit.stdout.components(separatedBy: "\n").filter { $0.contains(" prune ") }.count == 2, "\(audit)")
        }
    }
}

/// `baton serve`'s settings: flag > environment > config file > default, checked at start.
@Suite("baton serve settings end to end", .serialized)
struct ServeSettingsTests {
    @Test("a flag wins over the environment, which wins over the config file; CRLF files and quotes read the same")
    func precedence() async throws {
        let directory = try TestDirectory()
        defer { directory.remove() }
        let config = directory.root + "/baton.env"
        try "# workers from the file, log level too\r\nBATON_WORKERS=\"3\"\r\nBATON_LOG_FORMAT=json\r\nBATON_MAX_TIMEOUT=999\r\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        // The file says 3 workers, the environment 5, the flag 7.
        try await ServerProcess.with(dataDir: directory.dataDir, workspace: directory.workspace,
                                     arguments: ["--config", config, "--workers", "7"], environment: ["BATON_WORKERS": "5"]) { server in
            #expect(try await server.client.orchestrator().value.workers.total == 7)
            #expect(server.log.contains(#""message":"Baton listening"#), "the file's log format: \(server.log)")
            // max_timeout came from the file: a plan above it is refused.
            let refused = try await baton(["enqueue", "--code", "pass", "--timeout", "1000"], environment: server.environment())
            #expect(refused.status == 5 && refused.stderr.contains("timeout_seconds"), "\(refused)")
        }
        try await ServerProcess.with(dataDir: directory.dataDir, workspace: directory.workspace,
                                     arguments: ["--config", config], environment: ["BATON_WORKERS": "5"]) { server throws in
            #expect(try await server.client.orchestrator().value.workers.total == 5)
        }
        try await ServerProcess.with(dataDir: directory.dataDir, workspace: directory.workspace, arguments: ["--config", config]) { server throws in
            #expect(try await server.client.orchestrator().value.workers.total == 3)
        }
    }

    @Test("invalid settings stop the start with exit 64 and a message naming the setting")
    func invalidSettings() async throws {
        let directory = try TestDirectory()
        defer { directory.remove() }
        let typo = directory.root + "/typo.env"
        try "BATON_WORKRES=3\n".write(toFile: typo, atomically: true, encoding: .utf8)
        let cases: [([String], [String: String], String)] = [
            (["--workers", "0"], [:], "--workers must be at least 1"),
            ([], ["BATON_WORKERS": "many"], "BATON_WORKERS=many is not a valid value for --workers"),
            (["--config", typo], [:], "BATON_WORKRES is not a setting"),
            (["--config", directory.root + "/missing.env"], [:], "cannot read that file"),
            (["--log-format", "xml"], [:], "--log-format must be text or json"),
            (["--max-wait", "0"], [:], "--max-wait must be from 1 to 300"),
            ([], ["BATON_HELPER_DIR": directory.root], "has no baton_plan.py"),
        ]
        for (arguments, environment, message) in cases {
            let result = try await baton(["serve", "--data-dir", directory.dataDir, "--workspace", directory.workspace, "--port", "0"] + arguments,
                                         environment: environment)
            #expect(result.status == 64, "\(arguments) \(environment): \(result)")
            #expect(result.stderr.contains(message), "\(arguments) \(environment): \(result)")
        }
    }
}
