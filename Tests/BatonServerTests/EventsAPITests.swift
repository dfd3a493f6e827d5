@testable import BatonServer
import BatonCore
import BatonTestSupport
import Foundation
import HummingbirdTesting
import Testing

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
            let code = #"import time\nfor i in range(5):\n    print('line', i, flush=True)\n    time.sleep(0.3)"#
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
            // Usually still running when the stream opens; on a loaded machine it may have ended,
            // and the stream replays it — the output must be the same either way.
            #expect(["running", "succeeded"].contains(events.first { $0.name == "status" }?.data["status"] as? String ?? ""))
            #expect(events.contains { $0.name == "result" })
            #expect(events.last?.name == "end")
            #expect(events.last?.data["status"] as? String == "succeeded")
        }
    }

    @Test func liveChunksAreTrimmedToWhatTheStreamHasNotSentYet() async throws {
        try await withServer { client, store, orchestrator in
            await orchestrator.pause()
            // A plan run by another node: this server knows its output only from the store.
            let plan = try await store.enqueue(PlanSpec(entryPoint: .code("print(1)")), now: Date()).plan
            let attempt = try #require(try await store.claim(limit: 1, owner: "other-node/1/x/g1", leaseDuration: .seconds(600), now: Date()).first?.currentAttempt)
            try await store.appendOutput(Array("abc".utf8), stream: .stdout, for: attempt)

            let subscribersBefore = client.bus.subscriberCount
            let stream = Task { try await client.get("/api/v1/plans/\(plan.id)/events").text }
            #expect(await eventually { client.bus.subscriberCount > subscribersBefore })
            let id = plan.id
            for (offset, text) in [(Int64(1), "bcd"), (4, "ef"), (0, "ab")] {  // overlap, new, already sent
                client.bus.publish(.output(planID: id, attempt: 1, stream: .stdout, offset: offset, bytes: Array(text.utf8)))
            }
            client.bus.publish(.output(planID: id, attempt: 2, stream: .stdout, offset: 0, bytes: Array("other run".utf8)))
            client.bus.publish(.end(planID: id, status: .succeeded))

            let events = Self.events(try await stream.value)
            let texts = events.filter { $0.name == "output" }.compactMap { $0.data["text"] as? String }
            #expect(texts == ["abc", "d", "ef"], "stored first, then only unsent bytes of this run")
            #expect(events.last?.name == "end")
        }
    }

    @Test func aReconnectWithLastEventIDGoesOnWhereTheStreamStopped() async throws {
        try await withServer { client, store, orchestrator in
            await orchestrator.pause()
            // Run by another node, so the output here comes from the store and the bus.
            let plan = try await store.enqueue(PlanSpec(entryPoint: .code("print(1)")), now: Date()).plan
            let attempt = try #require(try await store.claim(limit: 1, owner: "other-node/1/x/g1", leaseDuration: .seconds(600), now: Date()).first?.currentAttempt)
            try await store.appendOutput(Array("abc".utf8), stream: .stdout, for: attempt)
            try await store.appendOutput(Array("xy".utf8), stream: .stderr, for: attempt)
            let baseline = client.bus.subscriberCount

            /// Opens a stream (resuming after `lastEventID`), lets `live` publish once it is
            /// subscribed, and returns its whole text; the bus's `end` closes it.
            func stream(after lastEventID: String? = nil, live: () -> Void = {}) async throws -> String {
                // The previous stream's subscription goes after it closes: wait for that first.
                #expect(await eventually { client.bus.subscriberCount == baseline })
                let response = Task { try await client.get("/api/v1/plans/\(plan.id)/events", lastEventID: lastEventID).text }
                #expect(await eventually { client.bus.subscriberCount > baseline })
                live()
                client.bus.publish(.end(planID: plan.id, status: .succeeded))
                return try await response.value
            }
            func outputs(_ text: String) -> [String] {
                Self.events(text).filter { $0.name == "output" }.map { "\($0.data["stream"] ?? ""):\($0.data["text"] ?? "")" }
            }
            func ids(_ text: String) -> [String] {
                text.split(separator: "\n").filter { $0.hasPrefix("id: ") }.map { String($0.dropFirst(4)) }
            }

            // Every output event says how much of each stream the client then has.
            let first = try await stream()
            #expect(outputs(first) == ["stdout:abc", "stderr:xy"])
            #expect(ids(first) == ["1:3:0", "1:3:2"], "\(first)")

            // Resumed after "ab" and "x": only the rest, then live chunks as usual.
            let resumed = try await stream(after: "1:2:1") {
                client.bus.publish(.output(planID: plan.id, attempt: 1, stream: .stdout, offset: 3, bytes: Array("de".utf8)))
            }
            #expect(outputs(resumed) == ["stdout:c", "stderr:y", "stdout:de"], "\(resumed)")
            #expect(ids(resumed) == ["1:3:1", "1:3:2", "1:5:2"], "\(resumed)")

            // A live chunk past a hole (bytes past the output cap): a notice, then on from there.
            let holed = try await stream(after: "1:3:2") {
                client.bus.publish(.output(planID: plan.id, attempt: 1, stream: .stdout, offset: 10, bytes: Array("z".utf8)))
            }
            #expect(outputs(holed) == ["stdout:\n[... 7 bytes not kept ...]\n", "stdout:z"], "\(holed)")
            #expect(ids(holed) == ["1:10:2", "1:11:2"], "\(holed)")

            // An id of another run, or one that makes no sense, starts from the beginning.
            for stale in ["0:99:99", "garbage", "1:-1:0"] {
                #expect(outputs(try await stream(after: stale)) == ["stdout:abc", "stderr:xy"], "\(stale)")
            }
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
