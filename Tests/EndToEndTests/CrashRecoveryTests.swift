import BatonClient
import BatonCore
import BatonTestSupport
import BatonSQLite
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `kill -9` of the server while plans run, then a start on the same data directory.
@Suite("crash recovery end to end")
struct CrashRecoveryTests {
    /// Each run takes an exclusive lock named after its plan for as long as it lives. A second
    /// live run of the same plan — for instance one started while an orphan of the killed server
    /// still runs — cannot get it and records the overlap. The kernel drops the lock with the
    /// process, so a killed run leaves nothing behind.
    ///
    /// A plan with `"hold": true` started while the workspace holds the file `hold` waits at the
    /// gate, so the kill provably catches it running, and its orphan outlives the lease.
    static func plan(gate: Gate) -> String {
        """
        import fcntl, json, os, sys, time
        plan = os.environ["BATON_PLAN_ID"]
        spec = json.load(sys.stdin)
        os.makedirs("runs", exist_ok=True)
        lock = open(os.path.join("runs", plan + ".lock"), "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            with open(os.path.join("runs", "overlaps"), "a") as out:
                out.write(plan + "\\n")
            sys.exit(2)
        if spec.get("hold") and os.path.exists("hold"):
        \(gate.python(indent: "    "))
        time.sleep(spec["sleep"])
        print("done", plan)
        """
    }

    @Test("200 plans, the server killed with -9 mid-run: every plan ends, none is lost, none runs twice at once")
    func killNineAndRestart() async throws {
        let directory = try TestDirectory()
        defer { directory.remove() }
        let gate = Gate(directory: directory.workspace)
        defer { gate.open() }
        try directory.write(script: "crash_plan.py", Self.plan(gate: gate))
        _ = FileManager.default.createFile(atPath: directory.workspace + "/hold", contents: nil)
        // A short lease, so the second server recovers the killed one's runs soon.
        let arguments = ["--workers", "4", "--lease", "3"]
        var acknowledged: Set<Int64> = []
        // Every 25th plan holds at the gate, so that the kill catches runs that are still alive
        // when the second server recovers them.
        var longPlans: Set<Int64> = []

        let firstExit = try await ServerProcess.with(dataDir: directory.dataDir, workspace: directory.workspace, arguments: arguments) { server in
            let client = server.client
            try await withThrowingTaskGroup(of: (Int64, Bool).self) { group in
                for index in 0..<200 {
                    group.addTask {
                        let long = index % 25 == 0
                        let body = #"{"script": "crash_plan.py", "name": "crash-\#(index)", "input": {"sleep": 0.2, "hold": \#(long)}}"#
                        return (try await client.enqueue(planJSON: Data(body.utf8)).value.id, long)
                    }
                }
                for try await (id, long) in group {
                    acknowledged.insert(id)
                    if long { longPlans.insert(id) }
                }
            }
            // Kill it while a long plan waits at the gate, once some plans have finished (or every
            // worker holds a long one, so no more would).
            try #require(await gate.waitUntilReady(within: .seconds(120)), "no long plan started")
            let midRun = try await eventually(within: .seconds(120)) {
                let state = try await client.orchestrator().value
                return (state.queue["succeeded"] ?? 0) >= 20 || Set(state.workers.running).isSubset(of: longPlans)
            }
            try #require(midRun, "the plans did not run")
            server.send(SIGKILL)
        }
        // Runs started from now on do not hold; the killed server's held runs wait on as orphans.
        try FileManager.default.removeItem(atPath: directory.workspace + "/hold")
        #expect(firstExit == .signaled(SIGKILL))
        #expect(acknowledged.count == 200)

        try await ServerProcess.with(dataDir: directory.dataDir, workspace: directory.workspace, arguments: arguments) { server in
            let client = server.client
            let allEnded = try await eventually(within: .seconds(180)) {
                let page = try await client.plans(status: ["queued", "scheduled", "running"], limit: 1).value
                return page.plans.isEmpty
            }
            #expect(allEnded, "plans still not ended:\n\(server.log.suffix(2000))")
            var plans: [PlanResource] = []
            var cursor: Int64?
            repeat {
                let page = try await client.plans(limit: 1000, cursor: cursor).value
                plans += page.plans
                cursor = page.nextCursor
            } while cursor != nil
            #expect(Set(plans.map(\.id)) == acknowledged, "a plan was lost or made up")
            let notSucceeded = plans.filter { $0.status != "succeeded" }.map { "\($0.id): \($0.status) \($0.error?.message ?? "")" }
            #expect(notSucceeded.isEmpty, "\(notSucceeded)")
        }

        let overlaps = (try? String(contentsOfFile: directory.workspace + "/runs/overlaps", encoding: .utf8)) ?? ""
        #expect(overlaps.isEmpty, "plans with two live runs at once: \(overlaps)")

        // The event log agrees: every claim is closed (finished, requeued, recovered) before the next.
        let store = try await SQLitePlanStore(configuration: .init(path: SQLitePlanStore.Configuration.databasePath(inDataDirectory: directory.dataDir)))
        var recovered = 0
        for id in acknowledged {
            var open = false
            for event in try await store.events(of: id) {
                switch event.kind {
                case .claimed:
                    #expect(!open, "plan \(id) claimed again while a run was open")
                    open = true
                case .finished, .requeued, .heartbeatLost, .canceled:
                    if event.kind == .heartbeatLost { recovered += 1 }
                    open = false
                default:
                    break
                }
            }
            #expect(!open, "plan \(id) ends with an open run")
        }
        await store.close()
        #expect(recovered >= 1, "no run was recovered: the kill came when nothing ran")
    }
}

/// `enqueue --follow` while the server is killed and started again on the same port.
@Suite("following a plan across a server crash")
struct FollowAcrossRestartTests {
    @Test("--follow reconnects, shows the rerun's whole output, and exits with the plan's outcome")
    func followAcrossRestart() async throws {
        let directory = try TestDirectory()
        defer { directory.remove() }
        // The first attempt stops at a gate after line 3 and is still running when the server is
        // killed; the rerun (attempt 2) prints every line.
        let gate = Gate(directory: directory.workspace)
        defer { gate.open() }
        try directory.write(script: "slow_count.py", """
            import os, time
            for i in range(30):
                print(f"line {i}", flush=True)
                if i == 3 and os.environ["BATON_ATTEMPT"] == "1":
            \(gate.python(indent: "        "))
                time.sleep(0.02)
            """)
        // A lease long enough that the CLI reconnects while the first run still holds the plan:
        // the resume then has a run to go on with before the rerun starts.
        let arguments = ["--lease", "8"]
        var url = ""
        var following: Task<CommandResult, any Error>?
        try await ServerProcess.with(dataDir: directory.dataDir, workspace: directory.workspace, arguments: arguments) { server in
            url = server.url
            following = Task { [environment = server.environment()] in
                try await baton(["enqueue", "--name", "slow", "--script", "slow_count.py", "--follow"], environment: environment)
            }
            // Kill it while the first attempt waits at the gate, once the CLI has seen line 3.
            try #require(await gate.waitUntilReady(), "the plan did not start:\n\(server.log.suffix(1500))")
            let shown = try await eventually {
                guard let plan = try await server.client.plans(nameContains: "slow").value.plans.first else { return false }
                return try await server.client.output(of: plan.id, stream: "stdout").contains("line 3")
            }
            try #require(shown)
            server.send(SIGKILL)
        }
        let port = try #require(url.split(separator: ":").last.map(String.init))
        try await ServerProcess.with(dataDir: directory.dataDir, workspace: directory.workspace, arguments: arguments + ["--port", port]) { server in
            #expect(server.url == url)
            let result = try await #require(following).value
            #expect(result.status == 0, "\(result)\n\(server.log.suffix(1500))")
            // The first run's lines up to the crash, then the rerun's, all of them, in order.
            let lines = result.stdout.split(separator: "\n").map(String.init)
            let full = (0..<30).map { "line \($0)" }
            #expect(lines.count >= 30 && Array(lines.suffix(30)) == full, "\(result)")
            #expect(Array(lines.prefix(lines.count - 30)) == Array(full.prefix(lines.count - 30)), "\(result)")
            #expect(result.stderr.contains("reconnecting") && result.stderr.contains("is back"), "\(result)")
            #expect(result.stderr.contains("(attempt 2)"), "\(result)")
        }
    }
}
