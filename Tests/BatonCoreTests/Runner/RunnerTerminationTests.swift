@testable import BatonCore
import BatonTestSupport
import Foundation
import Testing

/// Timeouts, cancels, signals and grandchildren: a run always ends, and nothing of it survives.
///
/// Timeouts are a few seconds, not one: the script must reach its first line (a Python start on
/// a loaded machine) before the timeout, or the test would check something else.
@Suite struct RunnerTerminationTests {
    @Test func aSleepingScriptTimesOut() async throws {
        let fixture = try await RunnerFixture(grace: .seconds(2))
        try fixture.script("sleep.py", "import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n")
        let (report, events) = await fixture.run(PlanSpec(entryPoint: .script("sleep.py"), timeoutSeconds: 3))
        #expect(report.outcome.status == .timedOut)
        #expect(report.outcome.error?.kind == .timeout)
        #expect(report.termination == .timeout)
        #expect(report.outcome.signal == SIGTERM)
        #expect(events.text(of: .stdout) == "sleeping\n", "output before the timeout is kept")
        let group = try #require(report.processGroup)
        #expect(!isAlive(group))
    }

    @Test func aScriptIgnoringSIGTERMIsKilledAfterTheGracePeriod() async throws {
        let fixture = try await RunnerFixture(grace: .milliseconds(500))
        try fixture.script("stubborn.py", """
            import signal, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print('ignoring SIGTERM', flush=True)
            time.sleep(600)

            """)
        let (report, _) = await fixture.run(PlanSpec(entryPoint: .script("stubborn.py"), timeoutSeconds: 3))
        #expect(report.outcome.status == .timedOut)
        #expect(report.outcome.signal == SIGKILL)
        #expect(!isAlive(try #require(report.processGroup)))
    }

    /// The script starts a grandchild that ignores SIGTERM, then prints its pid (only once it
    /// ignores SIGTERM), and sleeps; the script waits.
    static let grandparent = """
        import subprocess, sys, time
        subprocess.Popen([sys.executable, '-c', 'import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(os.getpid(), flush=True); time.sleep(600)'])
        time.sleep(600)

        """

    @Test func noProcessOfTheGroupSurvivesATimeout() async throws {
        let fixture = try await RunnerFixture(grace: .milliseconds(500))
        try fixture.script("grandparent.py", Self.grandparent)
        let (report, events) = await fixture.run(PlanSpec(entryPoint: .script("grandparent.py"), timeoutSeconds: 5))
        #expect(report.outcome.status == .timedOut)
        let grandchild = try #require(Int32(events.text(of: .stdout).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(await eventually { !isAlive(grandchild) }, "grandchild \(grandchild) survived")
        #expect(!isAlive(try #require(report.processGroup)))
    }

    @Test func noProcessOfTheGroupSurvivesACancel() async throws {
        let fixture = try await RunnerFixture(grace: .milliseconds(500))
        try fixture.script("grandparent.py", Self.grandparent)
        let control = RunControl()
        let grandchild = Locked<Int32?>(nil)
        let (report, _) = await fixture.run(PlanSpec(entryPoint: .script("grandparent.py"), timeoutSeconds: 600), control: control) { event in
            if case .output(.stdout, let bytes) = event, let pid = Int32(String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) {
                grandchild.withLock { $0 = pid }
                control.cancel(reason: "canceled by ops")
            }
        }
        #expect(report.outcome.status == .canceled)
        #expect(report.outcome.error == PlanFailure(kind: .canceled, message: "canceled by ops"))
        #expect(report.termination == .canceled(reason: "canceled by ops"))
        let pid = try #require(grandchild.withLock { $0 })
        #expect(await eventually { !isAlive(pid) }, "grandchild \(pid) survived")
    }

    @Test func theWholeGroupGetsTheGracePeriodNotOnlyTheLeader() async throws {
        let fixture = try await RunnerFixture(grace: .seconds(10))
        let marker = fixture.workspace.file("cleaned-up")
        // The leader dies at once on SIGTERM; the grandchild needs a moment to clean up.
        try fixture.script("cleanup.py", """
            import subprocess, sys, time
            code = '''
            import os, signal, sys, time
            def stop(*_):
                time.sleep(0.5)
                open(sys.argv[1], "w").write("done")
                sys.exit(0)
            signal.signal(signal.SIGTERM, stop)
            print(os.getpid(), flush=True)
            time.sleep(600)
            '''
            subprocess.Popen([sys.executable, '-c', code, sys.argv[1]])
            time.sleep(600)

            """)
        let control = RunControl()
        let (report, _) = await fixture.run(PlanSpec(entryPoint: .script("cleanup.py"), args: [marker], timeoutSeconds: 600), control: control) { event in
            if case .output(.stdout, _) = event { control.cancel(reason: "canceled by ops") }
        }
        #expect(report.outcome.status == .canceled)
        #expect(FileManager.default.fileExists(atPath: marker), "the grandchild finished its SIGTERM handler before SIGKILL")
    }

    @Test func aGrandchildLeftBehindByAFinishedRunIsStopped() async throws {
        let fixture = try await RunnerFixture()
        try fixture.script("daemon.py", """
            import subprocess, sys
            child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
            print(child.pid)

            """)
        let (report, events) = await fixture.run(PlanSpec(entryPoint: .script("daemon.py")))
        #expect(report.outcome.status == .succeeded)
        let grandchild = try #require(Int32(events.text(of: .stdout).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(await eventually { !isAlive(grandchild) })
    }

    @Test func aGrandchildHoldingThePipesDoesNotHoldTheRun() async throws {
        let fixture = try await RunnerFixture()
        // The grandchild inherits stdin, stdout and stderr and never reads or closes them.
        try fixture.script("holder.py", """
            import subprocess, sys
            subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])
            print('leader done', flush=True)

            """)
        let input = try JSONText(validating: "\"" + String(repeating: "x", count: 1 << 20) + "\"")
        let (report, _) = await fixture.run(PlanSpec(entryPoint: .script("holder.py"), input: input, timeoutSeconds: 120))
        #expect(report.outcome.status == .succeeded)
        #expect(report.termination == nil, "ended with its leader, not by the timeout")
        #expect(report.stdout.text == "leader done\n")
    }

    @Test func deathByASignalBatonDidNotSendFails() async throws {
        let fixture = try await RunnerFixture()
        try fixture.script("crash.py", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
        let (report, _) = await fixture.run(PlanSpec(entryPoint: .script("crash.py")))
        #expect(report.outcome.status == .failed)
        #expect(report.outcome.signal == SIGKILL)
        #expect(report.outcome.exitCode == nil)
        #expect(report.outcome.error == PlanFailure(kind: .signal, message: "killed by signal 9 (SIGKILL)"))
    }

    @Test func cancellingTheCallingTaskStopsTheRunAsShutdown() async throws {
        let fixture = try await RunnerFixture(grace: .milliseconds(500))
        try fixture.script("sleep.py", "import time\nprint('up', flush=True)\ntime.sleep(600)\n")
        let started = AsyncStream.makeStream(of: Int32.self)
        let task = Task {
            await fixture.run(PlanSpec(entryPoint: .script("sleep.py"), timeoutSeconds: 600)) { event in
                if case .started(let group) = event { started.continuation.yield(group) }
            }
        }
        var iterator = started.stream.makeAsyncIterator()
        let group = try #require(await iterator.next())
        task.cancel()
        let (report, _) = await task.value
        #expect(report.termination == .shutdown)
        #expect(report.outcome.status == .canceled)
        #expect(!isAlive(group))
    }

    @Test func theProcessGroupIsTheChildsOwn() async throws {
        let fixture = try await RunnerFixture()
        try fixture.script("pg.py", "import os\nprint(os.getpgid(0), os.getpid(), os.getsid(0))\n")
        let (report, events) = await fixture.run(PlanSpec(entryPoint: .script("pg.py")))
        let numbers = report.stdout.text.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        #expect(numbers.count == 3)
        #expect(numbers[0] == numbers[1] && numbers[1] == numbers[2], "leader of its own group and session")
        #expect(events.processGroup == numbers[0])
        #expect(report.processGroup == numbers[0])
        #expect(numbers[0] != getpgrp())
    }
}
