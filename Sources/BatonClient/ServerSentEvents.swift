import Foundation

/// One event of a `text/event-stream`: its `event:` name and its `data:` lines joined.
public struct ServerSentEvent: Sendable, Equatable {
    /// The `event:` field; `message` when there was none.
    public var name: String
    /// The `data:` lines, joined with LF.
    public var data: String
    /// The last `id:` the stream gave, at or before this event: what a reconnect sends as
    /// `Last-Event-ID`.
    public var lastEventID: String?

    /// An event named `name` carrying `data`.
    public init(name: String, data: String, lastEventID: String? = nil) {
        self.name = name
        self.data = data
        self.lastEventID = lastEventID
    }
}

/// Splits the bytes of a `text/event-stream` into events, chunk by chunk, as they arrive.
///
/// Follows the WHATWG rules that matter here: lines end in LF, CRLF or CR; a blank line ends an
/// event; `:` starts a comment (heartbeats); one space after the colon is dropped; several
/// `data:` lines join with LF; an event with no `event:` is a `message`.
public struct ServerSentEventParser: Sendable {
    private var line: [UInt8] = []
    private var name = ""
    private var data: [String] = []
    private var hasData = false
    private var lastWasCR = false
    private var lastEventID: String?

    public init() {}

    /// Feeds the next bytes; returns the events they complete.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        for byte in bytes {
            if lastWasCR {
                lastWasCR = false
                if byte == UInt8(ascii: "\n") { continue }
            }
            switch byte {
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                lastWasCR = byte == UInt8(ascii: "\r")
                if let event = endLine() { events.append(event) }
            default:
                line.append(byte)
            }
        }
        return events
    }

    private mutating func endLine() -> ServerSentEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            defer { (name, data, hasData) = ("", [], false) }
            guard hasData else { return nil }
            return ServerSentEvent(name: name.isEmpty ? "message" : name, data: data.joined(separator: "\n"), lastEventID: lastEventID)
        }
        if line.first == UInt8(ascii: ":") { return nil }
        let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
        let field = String(decoding: line[..<colon], as: UTF8.self)
        var valueStart = colon == line.endIndex ? colon : line.index(after: colon)
        if valueStart < line.endIndex, line[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
        let value = String(decoding: line[valueStart...], as: UTF8.self)
        switch field {
        case "event": name = value
        case "data":
            data.append(value)
            hasData = true
        case "id" where !value.contains("\0"):
            lastEventID = value
        default: break  // retry: not used by Baton's streams
        }
        return nil
    }
}

/// An event of a plan's stream, with where the stream then stood.
public struct PlanStreamUpdate: Sendable, Equatable {
    /// What happened.
    public let event: PlanStreamEvent
    /// Pass to `BatonClient.events(of:resumingAfter:)` to go on from here after a reconnect.
    public let lastEventID: String?
}

/// An event of a plan's live stream (`GET /plans/{id}/events`, design §6).
public enum PlanStreamEvent: Sendable, Equatable {
    /// The plan moved to `status` in run `attempt`.
    case status(String, attempt: Int)
    /// Output of the running script; `stream` is `stdout` or `stderr`.
    case output(stream: String, text: String)
    /// The result block the script printed, and the error of a run that did not succeed, as JSON text.
    case result(json: String)
    /// The plan ended in `status`; nothing follows.
    case end(status: String)

    /// Reads a server-sent event of a plan stream; nil for an event this client does not know.
    public init?(_ event: ServerSentEvent) {
        let data = Data(event.data.utf8)
        switch event.name {
        case "status":
            struct Body: Decodable { let status: String; let attempt: Int }
            guard let body = try? JSONDecoder().decode(Body.self, from: data) else { return nil }
            self = .status(body.status, attempt: body.attempt)
        case "output":
            struct Body: Decodable { let stream: String; let text: String }
            guard let body = try? JSONDecoder().decode(Body.self, from: data) else { return nil }
            self = .output(stream: body.stream, text: body.text)
        case "result":
            self = .result(json: event.data)
        case "end":
            struct Body: Decodable { let status: String }
            guard let body = try? JSONDecoder().decode(Body.self, from: data) else { return nil }
            self = .end(status: body.status)
        default:
            return nil
        }
    }
}
