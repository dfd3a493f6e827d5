import Foundation
import BatonTestSupport
import Testing
@testable import BatonCore

/// How a run's result block and exit status decide its outcome (design §5).
@Suite struct RunnerResultTests {
    static let start = "__BATON_RESULT_START__"
    static let end = "__BATON_RESULT_END__"

    @Test func theChildReadsItsInputFromStdin() async throws {
        let fixture = try await RunnerFixture()
        try fixture.script("echo.py", "import sys\nsys.stdout.write(sys.stdin.read())\n")
        let input = #"{"n": 123, "f": 1.50, "s": "ünï", "k": [true, null]}"#
        let (report, events) = await fixture.run(PlanSpec(entryPoint: .script("echo.py"), input: try JSONText(validating: input)))
        #expect(report.outcome.status == .succeeded)
        #expect(report.outcome.exitCode == 0)
        #expect(report.stdout.text == input, "the input arrives byte for byte")
        #expect(events.text(of: .stdout) == input)
        #expect(report.outcome.result == nil)
    }

    @Test func withoutAResultBlockTheExitCodeDecides() async throws {
        let fixture = try await RunnerFixture()
        try fixture.script("ok.py", "print('fine')\n")
        try fixture.script("bad.py", "import sys\nprint('broken', file=sys.stderr)\nsys.exit(3)\n")
        let (ok, _) = await fixture.run(PlanSpec(entryPoint: .script("ok.py")))
        #expect(ok.outcome.status == .succeeded)
        let (bad, _) = await fixture.run(PlanSpec(entryPoint: .script("bad.py")))
        #expect(bad.outcome.status == .failed)
        #expect(bad.outcome.exitCode == 3)
        #expect(bad.outcome.error == PlanFailure(kind: .nonzeroExit, message: "exited with status 3"))
        #expect(bad.stderr.text == "broken\n")
    }

    @Test func aValidBlockBecomesTheResultWithStepsAndUsage() async throws {
        let fixture = try await RunnerFixture()
        let block = #"{"status": "success", "output": {"passed": 12, "ratio": 1.0}, "steps": [{"name": "setup", "status": "success", "started_at": "2026-11-21T10:00:00.250Z", "finished_at": "2026-11-21T10:00:01.500Z", "duration_ms": 1250, "output": {"ok": true}}, {"name": "tests", "status": "error", "error": "2 failed"}], "usage": {"input_tokens": 100, "output_tokens": 20, "cost_usd": 0.25}}"#
        try fixture.script("result.py", "print('before')\nprint('\(Self.start)')\nprint('''\(block)''')\nprint('\(Self.end)')\nprint('after')\n")
        let (report, _) = await fixture.run(PlanSpec(entryPoint: .script("result.py")))
        #expect(report.outcome.status == .succeeded)
        #expect(report.outcome.result?.text == block, "the whole object, as printed")
        #expect(report.outcome.usage == PlanUsage(inputTokens: 100, outputTokens: 20, costUSD: 0.25))
        #expect(report.steps.map(\.name) == ["setup", "tests"])
        #expect(report.steps[0].durationMs == 1250)
        #expect(report.steps[0].startedAt == Date(timeIntervalSince1970: 1_795_255_200.25))
        #expect(report.steps[0].output?.text == #"{"ok":true}"#)
        #expect(report.steps[1].status == "error")
        #expect(report.steps[1].error == "2 failed")
    }

    @Test func nodeExecutionsIsAnAliasForSteps() async throws {
        let fixture = try await RunnerFixture()
        try fixture.script("alias.py", "print('\(Self.start)')\nprint('{\"status\": \"success\", \"nodeExecutions\": [{\"name\": \"n1\"}]}')\nprint('\(Self.end)')\n")
        let (report, _) = await fixture.run(PlanSpec(entryPoint: .script("alias.py")))
        #expect(report.steps.map(\.name) == ["n1"])
    }

    @Test func invalidJSONInTheBlockFailsAsBadResult() async throws {
        let fixture = try await RunnerFixture()
        try fixture.script("invalid.py", "print('\(Self.start)')\nprint('{\"status\": \"success\", ')\nprint('\(Self.end)')\n")
        let (report, _) = await fixture.run(PlanSpec(entryPoint: .script("invalid.py")))
        #expect(report.outcome.status == .failed)
        #expect(report.outcome.exitCode == 0)
        #expect(report.outcome.error?.kind == .badResult)
        #expect(report.outcome.error?.message.contains("not valid JSON") == true)
    }

    @Test func aReportedErrorFailsEvenWithExitCodeZero() async throws {
        let fixture = try await RunnerFixture()
        try fixture.script("reported.py", "print('\(Self.start)')\nprint('{\"status\": \"error\", \"error\": \"3 tests failed\"}')\nprint('\(Self.end)')\n")
        let (report, _) = await fixture.run(PlanSpec(entryPoint: .script("reported.py")))
        #expect(report.outcome.status == .failed)
        #expect(report.outcome.exitCode == 0)
        #expect(report.outcome.error == PlanFailure(kind: .reported, message: "3 tests failed"))
    }

    @Test func theLastOfTwoBlocksWins() async throws {
        let fixture = try await RunnerFixture()
        try fixture.script("two.py", """
            print('\(Self.start)'); print('{"status": "error", "output": 1}'); print('\(Self.end)')
            print('\(Self.start)'); print('{"status": "success", "output": 2}'); print('\(Self.end)')
            print('\(Self.start)'); print('{"status": "error", "unfinished": true}')

            """)
        let (report, _) = await fixture.run(PlanSpec(entryPoint: .script("two.py")))
        #expect(report.outcome.status == .succeeded, "an unfinished block does not count")
        #expect(report.outcome.result?.text == #"{"status": "success", "output": 2}"#)
    }

    @Test func aBlockSplitAcrossReadsIsStillFound() async throws {
        let fixture = try await RunnerFixture()
        try fixture.script("split.py", """
            import sys, time
            parts = ['__BATON_RESU', 'LT_START__\\n{"status": "succ', 'ess", "output": {"n": 4', '2}}\\n__BATON_RESULT', '_END__\\n']
            for part in parts:
                sys.stdout.write(part); sys.stdout.flush(); time.sleep(0.05)

            """)
        // Usually several reads; a loaded machine may coalesce them, so the byte-by-byte case
        // is covered deterministically in OutputParsingTests.
        let (report, _) = await fixture.run(PlanSpec(entryPoint: .script("split.py")))
        #expect(report.outcome.status == .succeeded)
        #expect(report.outcome.result?.text == #"{"status": "success", "output": {"n": 42}}"#)
    }

    @Test func theHelperModuleProducesAResultBaton() async throws {
        let fixture = try await RunnerFixture()
        try fixture.script("helper.py", """
            import baton_plan
            data = baton_plan.read_input()
            with baton_plan.step("double") as s:
                s.output = data["n"] * 2
            baton_plan.emit_result({"doubled": data["n"] * 2}, usage={"input_tokens": 3, "output_tokens": 4, "cost_usd": 0.01})

            """)
        let (report, _) = await fixture.run(PlanSpec(entryPoint: .script("helper.py"), input: try JSONText(validating: #"{"n": 21}"#)))
        #expect(report.outcome.status == .succeeded, "\(report.stderr.text)")
        #expect(report.steps.map(\.name) == ["double"])
        #expect(report.steps.first?.output?.text == "42")
        #expect(report.outcome.usage == PlanUsage(inputTokens: 3, outputTokens: 4, costUSD: 0.01))
        let result = try JSONSerialization.jsonObject(with: Data(try #require(report.outcome.result).text.utf8)) as? [String: Any]
        #expect((result?["output"] as? [String: Int]) == ["doubled": 42])
    }

    @Test func theExamplesRunAsDocumented() async throws {
        var configuration = PythonRunner.Configuration(interpreter: try await sharedInterpreter.value, workspaceRoot: repositoryRoot,
                                                       helperDirectory: repositoryRoot + "/python")
        configuration.killGracePeriod = .seconds(5)
        let runner = PythonRunner(configuration: configuration, logger: quietLogger)
        func run(_ script: String, _ input: String = "{}") async throws -> RunReport {
            var plan = QueueRules.enqueuing(PlanSpec(entryPoint: .script(script), input: try JSONText(validating: input)), policy: QueuePolicy(), now: t0).plan
            plan.id = 1
            return await runner.run(plan, attempt: 1, control: RunControl()) { _ in }
        }
        let hello = try await run("examples/hello.py", #"{"name": "Ada"}"#)
        #expect(hello.outcome.status == .succeeded, "\(hello.stderr.text)")
        #expect(hello.outcome.result?.text.contains("Hello, Ada!") == true)
        let failing = try await run("examples/failing.py")
        #expect(failing.outcome.status == .failed)
        #expect(failing.outcome.error?.kind == .reported)
        #expect(failing.steps.map(\.status).contains("error"))
        let suite = try await run("examples/pytest_suite.py")
        #expect(suite.outcome.status == .succeeded, "\(suite.stdout.text) \(suite.stderr.text)")
        #expect(suite.stdout.text.contains("passed"), "pytest's own output streams through")
        let broken = try await run("examples/pytest_suite.py", #"{"path": "examples/no_such_tests"}"#)
        #expect(broken.outcome.status == .failed)
    }
}
