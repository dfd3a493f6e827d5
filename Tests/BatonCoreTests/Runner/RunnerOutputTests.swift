import Foundation
import BatonTestSupport
import Testing
@testable import BatonCore

/// Output of any size and shape is drained, capped, streamed and never blocks the child.
@Suite struct RunnerOutputTests {
    @Test func aFloodIsCappedWithBoundedMemoryAndTheResultAfterItIsFound() async throws {
        let fixture = try await RunnerFixture(maxOutputBytes: 64 << 10)
        try fixture.script("flood.py", """
            import sys
            line = ('x' * 1023 + '\\n').encode()
            block = line * 1024
            for _ in range(100):          # 100 MiB
                sys.stdout.buffer.write(block)
            sys.stdout.buffer.flush()
            print('__BATON_RESULT_START__')
            print('{"status": "success", "output": "after the flood"}')
            print('__BATON_RESULT_END__')

            """)
        let streamed = Locked<Int64>(0)
        let before = residentBytes()
        var plan = QueueRules.enqueuing(PlanSpec(entryPoint: .script("flood.py"), timeoutSeconds: 300), policy: QueuePolicy(), now: t0).plan
        plan.id = 1
        let report = await fixture.runner.run(plan, attempt: 1, control: RunControl()) { event in
            if case .output(_, let bytes) = event { streamed.withLock { $0 += Int64(bytes.count) } }
        }
        let growth = residentBytes() - before
        #expect(report.outcome.status == .succeeded)
        #expect(report.outcome.result?.text == #"{"status": "success", "output": "after the flood"}"#)
        #expect(report.stdout.totalBytes > 100 << 20)
        #expect(streamed.withLock { $0 } == report.stdout.totalBytes, "every byte was streamed")
        let kept = report.stdout.bytes
        #expect(kept.count < (64 << 10) + 200)
        #expect(report.stdout.text.contains("bytes truncated ...]"))
        #expect(report.stdout.text.hasSuffix("__BATON_RESULT_END__\n"), "the tail is kept")
        #expect(growth < 60 << 20, "the runner grew by \(growth >> 20) MiB while 100 MiB went through it")
    }

    @Test func stdoutAndStderrAreReadTogether() async throws {
        let fixture = try await RunnerFixture()
        // Enough on each stream to fill a pipe: reading one to its end first would deadlock.
        try fixture.script("both.py", """
            import sys
            for i in range(2000):
                sys.stdout.write(f'out {i} ' + 'o' * 100 + '\\n')
                sys.stderr.write(f'err {i} ' + 'e' * 100 + '\\n')

            """)
        let (report, events) = await fixture.run(PlanSpec(entryPoint: .script("both.py")))
        #expect(report.outcome.status == .succeeded)
        let out = events.text(of: .stdout).split(separator: "\n")
        let err = events.text(of: .stderr).split(separator: "\n")
        #expect(out.count == 2000 && err.count == 2000)
        #expect(out.enumerated().allSatisfy { $0.element.hasPrefix("out \($0.offset) ") }, "in order")
        #expect(err.enumerated().allSatisfy { $0.element.hasPrefix("err \($0.offset) ") }, "in order")
    }

    @Test func aChildThatNeverReadsALargeInputStillSucceeds() async throws {
        let fixture = try await RunnerFixture()
        try fixture.script("ignore.py", "print('not reading')\n")
        let input = try JSONText(validating: "\"" + String(repeating: "y", count: 10 << 20) + "\"")
        let (report, _) = await fixture.run(PlanSpec(entryPoint: .script("ignore.py"), input: input))
        #expect(report.outcome.status == .succeeded)
        #expect(report.stdout.text == "not reading\n")
    }

    @Test func aLargeInputIsDeliveredWhole() async throws {
        let fixture = try await RunnerFixture()
        try fixture.script("count.py", "import sys, json\ndata = json.load(sys.stdin)\nprint(len(data['blob']))\n")
        let input = try JSONText(validating: #"{"blob": ""# + String(repeating: "z", count: 10 << 20) + #""}"#)
        let (report, _) = await fixture.run(PlanSpec(entryPoint: .script("count.py"), input: input))
        #expect(report.stdout.text == "\(10 << 20)\n")
    }

    @Test func resourceUsageIsMeasured() async throws {
        let fixture = try await RunnerFixture()
        try fixture.script("work.py", """
            import time
            block = bytearray(80 * 1024 * 1024)
            for i in range(0, len(block), 4096):
                block[i] = 1
            end = time.process_time() + 0.3
            while time.process_time() < end:
                pass

            """)
        let (report, _) = await fixture.run(PlanSpec(entryPoint: .script("work.py")))
        let resources = try #require(report.resources)
        #expect(resources.maxResidentBytes > 80 << 20)
        #expect(resources.cpuTime >= .milliseconds(300))
        #expect(report.outcome.durationMs ?? 0 >= 300)
    }

    /// This process's resident set size.
    private func residentBytes() -> Int64 {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = Int64(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kib * 1024
    }
}
