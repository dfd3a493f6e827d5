import BatonClient
import BatonTestSupport
import Testing

@Suite("Server-Sent Event parsing")
struct ServerSentEventParserTests {
    @Test("events split across chunks, CRLF, comments and multi-line data")
    func parsesAcrossChunks() {
        var parser = ServerSentEventParser()
        var events: [ServerSentEvent] = []
        let stream = ": keep-alive\n\nevent: output\r\ndata: {\"stream\": \"stdout\", \"text\": \"hi\\n\"}\r\n\r\nevent: x\ndata: a\ndata:b\n\ndata: plain\n\n"
        // One byte at a time: no event may depend on how the bytes were chunked.
        for byte in stream.utf8 { events += parser.feed([byte]) }
        #expect(events == [
            ServerSentEvent(name: "output", data: #"{"stream": "stdout", "text": "hi\n"}"#),
            ServerSentEvent(name: "x", data: "a\nb"),
            ServerSentEvent(name: "message", data: "plain"),
        ])
        #expect(PlanStreamEvent(events[0]) == .output(stream: "stdout", text: "hi\n"))
        #expect(PlanStreamEvent(events[1]) == nil)
    }

    @Test("an event is not delivered before its blank line")
    func waitsForBlankLine() {
        var parser = ServerSentEventParser()
        #expect(parser.feed(Array("event: end\ndata: {\"status\": \"failed\"}\n".utf8)).isEmpty)
        let events = parser.feed(Array("\n".utf8))
        #expect(events.map { PlanStreamEvent($0) } == [.end(status: "failed")])
    }
}
