import BatonCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle

/// `GET /api/v1/plans/{id}/events`: Server-Sent Events of one plan (design §6).
///
/// First the output stored so far and the plan's status; then, live, `status`, `output`,
/// `result`, and a final `end`. The subscription is made before the store is read, and each
/// live chunk carries its offset in the run's stream, so nothing is lost or sent twice in
/// between. A comment every 15 s keeps idle connections alive (and lets a vanished client be
/// noticed). The stream ends at graceful shutdown, and when the client falls so far behind that
/// its subscription is dropped — the data stays in the store, where it reconnects to read it.
///
/// Each `output` event has an id, `attempt:stdoutBytes:stderrBytes` — how much of the run's
/// output the client has then. A client that reconnects with it as `Last-Event-ID` gets only
/// what came after, so a stream cut by a restart goes on without gaps or repeats.
struct PlanEventStream: Sendable {
    let store: any PlanStore
    let bus: EventBus
    let orchestrator: Orchestrator
    var heartbeat: Duration = .seconds(15)

    /// Where a reconnecting client stopped: the `Last-Event-ID` of an earlier stream.
    struct ResumePoint: Sendable {
        let attempt: Int
        let offsets: [StandardStream: Int64]

        /// Reads `attempt:stdoutBytes:stderrBytes`; nil for anything else (the stream then starts
        /// from the beginning).
        init?(_ text: String?) {
            let parts = text?.split(separator: ":", omittingEmptySubsequences: false).map { Int64($0) } ?? []
            guard parts.count == 3, let attempt = parts[0], let stdout = parts[1], let stderr = parts[2],
                  attempt >= 0, stdout >= 0, stderr >= 0
            else { return nil }
            self.attempt = Int(attempt)
            offsets = [.stdout: stdout, .stderr: stderr]
        }
    }

    func response(for id: Int64, resumingAt resume: ResumePoint? = nil) async throws -> Response {
        let notices = bus.subscribe(planID: id, buffer: 1024)
        guard var current = try await store.plan(id) else { throw PlanStoreError.planNotFound(id) }
        var stored: [StandardStream: [UInt8]] = [:]
        if let live = await orchestrator.liveOutput(of: id) {
            // Running here: the run's own record, which is ahead of the store.
            stored = live.output
            current.attempt = live.attempt
        } else {
            for stream in StandardStream.allCases {
                // The bytes themselves: their count is the offset live chunks continue from.
                stored[stream] = try await store.output(of: id, stream: stream, attempt: current.attempt).bytes
            }
        }
        let (storedOutput, heartbeat, plan) = (stored, heartbeat, current)
        let body = ResponseBody { writer in
            var sent: [StandardStream: Int64] = [:]
            var text = UTF8Joiner()
            var attempt = plan.attempt
            // What the client already has of this run, when it resumes one.
            let had = resume.flatMap { $0.attempt == plan.attempt ? $0.offsets : nil } ?? [:]
            /// An `output` event with the id `attempt:stdoutBytes:stderrBytes` (in that order):
            /// what the client has once it has this event.
            func outputEvent(_ stream: StandardStream, _ chunk: [UInt8]) -> ByteBuffer {
                let (stdout, stderr) = (sent[.stdout, default: 0] - Int64(text.pendingCount(.stdout)),
                                        sent[.stderr, default: 0] - Int64(text.pendingCount(.stderr)))
                return Self.event("output", Self.output(stream, chunk), id: "\(attempt):\(stdout):\(stderr)")
            }
            // The client starts with what it had, so each replayed event's id counts that too.
            for stream in StandardStream.allCases { sent[stream] = had[stream] ?? 0 }
            for stream in StandardStream.allCases {
                let bytes = storedOutput[stream] ?? []
                let skip = Int(min(had[stream] ?? 0, Int64(bytes.count)))
                sent[stream] = max(Int64(bytes.count), had[stream] ?? 0)
                let chunk = text.take(Array(bytes[skip...]), stream: stream)
                if !chunk.isEmpty { try await writer.write(outputEvent(stream, chunk)) }
            }
            try await writer.write(Self.event("status", Self.status(plan.status, plan.attempt)))
            if plan.status.isTerminal {
                try await writer.write(Self.event("result", Self.result(plan.result, plan.error)))
                try await writer.write(Self.event("end", Self.end(plan.status)))
                try await writer.finish(nil)
                return
            }

            let (items, feed) = AsyncStream.makeStream(of: Item.self, bufferingPolicy: .bufferingOldest(2048))
            let forward = Task {
                for await notice in notices {
                    // Too far behind here as well: end, and let the client read the store again.
                    guard case .enqueued = feed.yield(.notice(notice)) else { break }
                }
                feed.yield(.dropped)
                feed.finish()
            }
            let ticks = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: heartbeat)
                    feed.yield(.heartbeat)
                }
            }
            defer {
                forward.cancel()
                ticks.cancel()
            }
            loop: for await item in items.cancelOnGracefulShutdown() {
                switch item {
                case .heartbeat:
                    try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                case .dropped:
                    break loop
                case .notice(.status(_, let status, let runAttempt)):
                    if runAttempt != attempt {
                        attempt = runAttempt
                        (sent, text) = ([:], UTF8Joiner())  // a new run: its output starts afresh
                    }
                    try await writer.write(Self.event("status", Self.status(status, runAttempt)))
                case .notice(.output(_, let runAttempt, let stream, let offset, let bytes)):
                    guard runAttempt == attempt else { continue }
                    let already = sent[stream, default: 0]
                    let end = offset + Int64(bytes.count)
                    guard end > already else { continue }
                    if offset > already {
                        // Bytes between what was sent and this chunk are past the output cap,
                        // kept nowhere: say how many, and go on from here.
                        let notice = text.flush(stream) + Array("\n[... \(offset - already) bytes not kept ...]\n".utf8)
                        sent[stream] = offset
                        try await writer.write(outputEvent(stream, notice))
                    }
                    let fresh = Array(bytes.dropFirst(Int(sent[stream, default: 0] - offset)))
                    sent[stream] = end
                    let chunk = text.take(fresh, stream: stream)
                    if !chunk.isEmpty { try await writer.write(outputEvent(stream, chunk)) }
                case .notice(.result(_, let result, let error)):
                    try await writer.write(Self.event("result", Self.result(result, error)))
                case .notice(.end(_, let status)):
                    try await writer.write(Self.event("end", Self.end(status)))
                    break loop
                }
            }
            try await writer.finish(nil)
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: body)
    }

    /// Holds back the bytes of a character cut in two by a chunk boundary until the rest
    /// arrives, so no `output` event carries half a UTF-8 character.
    struct UTF8Joiner {
        private var pending: [StandardStream: [UInt8]] = [:]

        /// Bytes of `stream` held back, not sent yet.
        func pendingCount(_ stream: StandardStream) -> Int {
            pending[stream]?.count ?? 0
        }

        /// Drops what `stream` holds back (a character whose rest will never come), as text.
        mutating func flush(_ stream: StandardStream) -> [UInt8] {
            defer { pending[stream] = nil }
            return pending[stream].map { Array(String(decoding: $0, as: UTF8.self).utf8) } ?? []
        }

        mutating func take(_ bytes: [UInt8], stream: StandardStream) -> [UInt8] {
            let all = pending[stream, default: []] + bytes
            let cut = Self.completePrefixLength(all)
            pending[stream] = Array(all[cut...])
            return Array(all[..<cut])
        }

        /// The length of the longest prefix that does not end inside a multi-byte character.
        static func completePrefixLength(_ bytes: [UInt8]) -> Int {
            var index = bytes.count
            var continuation = 0
            while index > 0, continuation < 4, bytes[index - 1] & 0xC0 == 0x80 {
                index -= 1
                continuation += 1
            }
            guard index > 0 else { return bytes.count }
            let lead = bytes[index - 1]
            let length = lead & 0xE0 == 0xC0 ? 2 : lead & 0xF0 == 0xE0 ? 3 : lead & 0xF8 == 0xF0 ? 4 : 1
            return length > continuation + 1 ? index - 1 : bytes.count
        }
    }

    private enum Item: Sendable {
        case notice(PlanEventNotice)
        case heartbeat
        case dropped
    }

    static func event(_ name: String, _ data: String, id: String? = nil) -> ByteBuffer {
        ByteBuffer(string: (id.map { "id: \($0)\n" } ?? "") + "event: \(name)\ndata: \(data)\n\n")
    }

    static func output(_ stream: StandardStream, _ bytes: [UInt8]) -> String {
        var json = JSONWriter()
        json.string("stream", stream.rawValue)
        json.string("text", String(decoding: bytes, as: UTF8.self))
        return json.finished
    }

    static func status(_ status: PlanStatus, _ attempt: Int) -> String {
        var json = JSONWriter()
        json.string("status", status.rawValue)
        json.int("attempt", attempt)
        return json.finished
    }

    static func result(_ result: JSONText?, _ error: PlanFailure?) -> String {
        var json = JSONWriter()
        if let result { json.raw("result", result.text) } else { json.null("result") }
        if let error {
            json.object("error") { $0.string("kind", error.kind.rawValue); $0.string("message", error.message) }
        } else {
            json.null("error")
        }
        return json.finished
    }

    static func end(_ status: PlanStatus) -> String {
        var json = JSONWriter()
        json.string("status", status.rawValue)
        return json.finished
    }
}

extension HTTPField.Name {
    /// Sent by a reconnecting Server-Sent Events client: the id of the last event it received.
    static let lastEventID = HTTPField.Name("Last-Event-ID")!
}
