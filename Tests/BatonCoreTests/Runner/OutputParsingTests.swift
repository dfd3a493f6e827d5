import Foundation
import BatonTestSupport
import Testing
@testable import BatonCore

@Suite struct OutputParsingTests {
    @Test func capturedOutputKeepsHeadAndTail() {
        var output = CapturedOutput(cap: 10)
        output.append(Array("0123456789".utf8))
        #expect(output.text == "0123456789")
        #expect(output.droppedBytes == 0)
        output.append(Array("abcdefghij".utf8))
        #expect(output.totalBytes == 20)
        #expect(output.droppedBytes == 10)
        #expect(output.text == "01234\n[... 10 bytes truncated ...]\nfghij")
    }

    @Test func capturedOutputStaysBoundedByteByByte() {
        var output = CapturedOutput(cap: 8)
        for byte in 0..<10_000 { output.append([UInt8(byte % 26) + 97]) }
        #expect(output.totalBytes == 10_000)
        #expect(output.droppedBytes == 10_000 - 8)
        #expect(output.text.hasPrefix("abcd\n[... 9992 bytes truncated ...]\n"))
    }

    @Test func theScannerFindsABlockFedOneByteAtATime() {
        var scanner = ResultBlockScanner()
        let text = "noise\n  __BATON_RESULT_START__  \r\n{\"a\":\n1}\n__BATON_RESULT_END__\r\ntrailing"
        for byte in text.utf8 { scanner.scan([byte]) }
        scanner.finish()
        #expect(scanner.lastBlock == .text("{\"a\":\n1}\n"))
    }

    @Test func markersMustStandAlone() {
        var scanner = ResultBlockScanner()
        scanner.scan(Array("echo __BATON_RESULT_START__\n{}\n__BATON_RESULT_END__\n".utf8))
        #expect(scanner.lastBlock == nil)
    }

    @Test func aBlockOfExactlyTheLimitIsKept() {
        var scanner = ResultBlockScanner(maxBlockBytes: 16)
        scanner.scan(Array("__BATON_RESULT_START__\n123456789012345\n__BATON_RESULT_END__\n".utf8))
        #expect(scanner.lastBlock == .text("123456789012345\n"))
    }

    @Test func anOversizedBlockIsReportedNotKept() {
        var scanner = ResultBlockScanner(maxBlockBytes: 16)
        scanner.scan(Array("__BATON_RESULT_START__\n\(String(repeating: "x", count: 100))\n__BATON_RESULT_END__\n".utf8))
        guard case .tooLarge = scanner.lastBlock else {
            Issue.record("expected tooLarge, got \(String(describing: scanner.lastBlock))")
            return
        }
        let (outcome, _) = RunVerdict.outcome(exit: .code(0), termination: nil, block: scanner.lastBlock, timeoutSeconds: 1, duration: .zero)
        #expect(outcome.error?.kind == .badResult)
    }

    @Test func aBlockWithAnUnknownStatusIsABadResult() {
        let (outcome, _) = RunVerdict.outcome(exit: .code(0), termination: nil, block: .text(#"{"status": "maybe"}"#), timeoutSeconds: 1, duration: .zero)
        #expect(outcome.error?.kind == .badResult)
        let (array, _) = RunVerdict.outcome(exit: .code(0), termination: nil, block: .text("[1, 2]"), timeoutSeconds: 1, duration: .zero)
        #expect(array.error?.kind == .badResult)
    }

    @Test func aSuccessBlockDoesNotHideANonzeroExit() {
        let (outcome, _) = RunVerdict.outcome(exit: .code(2), termination: nil, block: .text(#"{"status": "success"}"#), timeoutSeconds: 1, duration: .zero)
        #expect(outcome.status == .failed)
        #expect(outcome.error?.kind == .nonzeroExit)
    }
}
