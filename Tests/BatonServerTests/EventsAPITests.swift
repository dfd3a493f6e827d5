import BatonCore
import Foundation
import HummingbirdTesting
import Testing
@testable import BatonServer

@Suite struct EventsAPITests {
    /// The events of a Server-Sent Events body: (name, data object).
    static func events(_ text: String) -> [(name: String, data: [String: Any])] {
        text.components(separatedBy: "\n\n").compactMap { block in
            var name: String?
            var data: String?
            for line in block.split(separator: "\n") {
                if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
            }
            guard let name, let data, let object = try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any] else { return nil }
            return (name, object)
        }
    }

    @Test func aRunningPlansOutputStreamsOnceInOrderAndEndsWithEnd() async throws {
        try await withServer { client, _, _ in
            let code = #"import time\nfor i in range(5):\n    print('line', i, flush=True)\n    time.sleep(0.15)"#
            let created = try await client.post("/api/v1/plans", json: #"{"code": "\#(code)"}"#)
            let id = try #require(created.object["id"] as? Int)
            // Join after the first lines are out, so stored output and live output meet.
            #expect(try await eventually { try await client.get("/api/v1/plans/\(id)/output?stream=stdout").text.contains("line 1") })
            let stream = try await client.get("/api/v1/plans/\(id)/events", as: "viewer")
            #expect(stream.status == .ok)
            #expect(stream.headers[.contentType] == "text/event-stream")
            let events = Self.events(stream.text)
            let text = events.filter { $0.name == "output" && $0.data["stream"] as? String == "stdout" }.compactMap { $0.data["text"] as? String }.joined()
            #expect(text == "line 0\nline 1\nline 2\nline 3\nline 4\n", "every line exactly once, in order")
            #expect(events.first { $0.name == "status" }?.data["status"] as? String == "running")
            #expect(events.contains { $0.name == "result" })
            #expect(events.last?.name == "end")
            #expect(events.last?.data["status"] as? String == "succeeded")
        }
    }

    @Test func aFinishedPlanIsReplayedFromTheStore() async throws {
        try await withServer { client, _, _ in
            let created = try await client.post("/api/v1/plans", json: #"{"code": "import sys\nprint('hello')\nprint('warn', file=sys.stderr)\nsys.exit(3)"}"#)
            let id = try #require(created.object["id"] as? Int)
            #expect(try await client.get("/api/v1/plans/\(id)?wait=30").object["status"] as? String == "failed")
            let events = Self.events(try await client.get("/api/v1/plans/\(id)/events").text)
            #expect(events.map(\.name) == ["output", "output", "status", "result", "end"])
            #expect(events[0].data["text"] as? String == "hello\n")
            #expect(events[1].data["stream"] as? String == "stderr")
            #expect((events[3].data["error"] as? [String: Any])?["kind"] as? String == "nonzero_exit")
            #expect(events[4].data["status"] as? String == "failed")
            #expect(try await client.get("/api/v1/plans/9999/events").status == .notFound)
            #expect(try await client.get("/api/v1/plans/\(id)/events", as: nil).status == .unauthorized)
        }
    }
}
