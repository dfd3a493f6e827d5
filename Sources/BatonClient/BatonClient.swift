import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// A connection to a Baton server's HTTP API (design §6), as the `baton` CLI uses it.
///
/// Every call either returns the server's answer or throws a `BatonClientError` that says what
/// went wrong and what to do.
public struct BatonClient: Sendable {
    /// The server's base address, e.g. `http://127.0.0.1:8080`.
    public let server: URL
    private let token: String?
    private let http: HTTPClient
    /// How long a call may take to get its answer's head, beyond any `?wait` it asks for.
    public var timeout: TimeAmount = .seconds(30)
    /// How long an event stream may stay silent before it counts as broken. The server sends a
    /// heartbeat every 15 s, so only a dead connection is this quiet.
    public var streamIdleTimeout: Duration = .seconds(45)

    /// The largest answer read into memory (plan output is capped on the server at far less).
    private static let maxBodyBytes = 256 << 20

    /// A client of the server at `server`, showing it `token` (none: only `/health` answers).
    public init(server: URL, token: String?, http: HTTPClient = BatonClient.failFastHTTPClient) {
        self.server = server
        self.token = token
        self.http = http
    }

    /// A process-wide HTTP client that reports a server that is not listening at once.
    /// (`HTTPClient.shared` keeps retrying to connect until the request's deadline.) It lives as
    /// long as the process, so it is never shut down.
    public static let failFastHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    // MARK: Plans

    /// `POST /plans` with a PlanSpec as JSON. The reply's status is 200 when an earlier plan
    /// with the same idempotency key is returned, 201 for a new one.
    public func enqueue(planJSON: Data) async throws -> Reply<PlanResource> {
        try await send(.POST, "plans", body: planJSON)
    }

    /// `POST /plans/batch` with `{"plans": [PlanSpec, ...]}` as JSON: every plan enqueued, in
    /// the order sent, or none.
    public func enqueueBatch(plansJSON: Data) async throws -> Reply<PlanPage> {
        try await send(.POST, "plans/batch", body: plansJSON)
    }

    /// `GET /plans/{id}`; with `wait`, held until the plan is terminal or that many seconds pass.
    public func plan(_ id: Int64, wait seconds: Int? = nil) async throws -> Reply<PlanResource> {
        let query = seconds.map { [URLQueryItem(name: "wait", value: String($0))] } ?? []
        return try await send(.GET, "plans/\(id)", query: query, extraTime: .seconds(Int64(seconds ?? 0)))
    }

    /// `GET /plans` with the filters of design §6, newest first.
    public func plans(status: [String] = [], labels: [String: String] = [:], nameContains: String? = nil,
                      limit: Int? = nil, cursor: Int64? = nil) async throws -> Reply<PlanPage> {
        var query: [URLQueryItem] = []
        if !status.isEmpty { query.append(.init(name: "status", value: status.joined(separator: ","))) }
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) { query.append(.init(name: "label", value: "\(key):\(value)")) }
        if let nameContains { query.append(.init(name: "q", value: nameContains)) }
        if let limit { query.append(.init(name: "limit", value: String(limit))) }
        if let cursor { query.append(.init(name: "cursor", value: String(cursor))) }
        return try await send(.GET, "plans", query: query)
    }

    /// `POST /plans/{id}/cancel`.
    public func cancel(_ id: Int64) async throws -> Reply<PlanResource> {
        try await send(.POST, "plans/\(id)/cancel")
    }

    /// `GET /plans/{id}/output`: the captured output as text, of one stream or both.
    public func output(of id: Int64, stream: String? = nil) async throws -> String {
        let query = stream.map { [URLQueryItem(name: "stream", value: $0)] } ?? []
        let (_, body) = try await exchange(.GET, "plans/\(id)/output", query: query)
        return String(decoding: body, as: UTF8.self)
    }

    /// `GET /plans/{id}/events`: the plan's output so far, then live events until `end`.
    ///
    /// The sequence finishes after `end`, or early when the server closes the stream (at its
    /// shutdown, or when this client fell too far behind). Call again with the last update's
    /// `lastEventID` to go on where it stopped, without repeats.
    public func events(of id: Int64, resumingAfter lastEventID: String? = nil) -> AsyncThrowingStream<PlanStreamUpdate, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var request = request(.GET, "plans/\(id)/events", accept: "text/event-stream")
                    if let lastEventID { request.headers.add(name: "Last-Event-ID", value: lastEventID) }
                    let response = try await execute(request, extraTime: .zero)
                    guard response.status == .ok else {
                        throw try Self.rejection(response.status, try await collect(response))
                    }
                    let activity = StreamActivity()
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            var parser = ServerSentEventParser()
                            for try await chunk in response.body {
                                activity.touch()
                                for event in parser.feed(chunk.readableBytesView) {
                                    guard let planEvent = PlanStreamEvent(event) else { continue }
                                    continuation.yield(PlanStreamUpdate(event: planEvent, lastEventID: event.lastEventID))
                                    if case .end = planEvent { return }
                                }
                            }
                        }
                        group.addTask { [server, streamIdleTimeout] in
                            // AsyncHTTPClient's deadline covers only the answer's head: watch the body.
                            while true {
                                try await Task.sleep(for: .seconds(1))
                                if activity.silence > streamIdleTimeout {
                                    throw BatonClientError.connectionLost(server: server.absoluteString, reason: "the event stream went silent")
                                }
                            }
                        }
                        try await group.next()
                        group.cancelAll()
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: mapped(error))
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    // MARK: Orchestrator

    /// `GET /orchestrator`.
    public func orchestrator() async throws -> Reply<OrchestratorState> {
        try await send(.GET, "orchestrator")
    }

    /// `POST /orchestrator/poll`: poll the queue now, on every node or the one named.
    public func poll(node: String? = nil) async throws -> Reply<PollReport> {
        try await send(.POST, "orchestrator/poll", body: Self.controlBody(node: node))
    }

    /// `POST /orchestrator/pause`: stop claiming plans, on every node or the one named; running
    /// plans go on.
    public func pause(node: String? = nil) async throws -> Reply<OrchestratorState> {
        try await send(.POST, "orchestrator/pause", body: Self.controlBody(node: node))
    }

    /// `POST /orchestrator/resume`, on every node or the one named.
    public func resume(node: String? = nil) async throws -> Reply<OrchestratorState> {
        try await send(.POST, "orchestrator/resume", body: Self.controlBody(node: node))
    }

    /// `POST /orchestrator/restart` of the serving node, or of `node` (`*` for all); answers once
    /// the new generations run, so the call may take as long as the drain.
    public func restart(immediate: Bool, drainTimeoutSeconds: Int, node: String? = nil) async throws -> Reply<RestartReport> {
        var fields: [String: Any] = ["mode": immediate ? "immediate" : "graceful", "drain_timeout_seconds": drainTimeoutSeconds]
        if let node { fields["node"] = node }
        let body = try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
        return try await send(.POST, "orchestrator/restart", body: body, extraTime: .seconds(Int64(drainTimeoutSeconds) + 30))
    }

    private static func controlBody(node: String?) -> Data? {
        node.flatMap { try? JSONSerialization.data(withJSONObject: ["node": $0]) }
    }

    // MARK: Cluster

    /// `GET /nodes`: every node sharing the queue.
    public func nodes() async throws -> Reply<NodeList> {
        try await send(.GET, "nodes")
    }

    /// `GET /audit`: a page of the audit log, newest first.
    public func audit(limit: Int? = nil, cursor: Int64? = nil) async throws -> Reply<AuditLogPage> {
        var query: [URLQueryItem] = []
        if let limit { query.append(URLQueryItem(name: "limit", value: String(limit))) }
        if let cursor { query.append(URLQueryItem(name: "cursor", value: String(cursor))) }
        return try await send(.GET, "audit", query: query)
    }

    /// `POST /prune`: delete plans that ended more than `olderThanSeconds` ago.
    public func prune(olderThanSeconds: Int) async throws -> Reply<PruneReport> {
        try await send(.POST, "prune", body: Data(#"{"older_than_seconds": \#(olderThanSeconds)}"#.utf8))
    }

    // MARK: Environments

    /// `GET /envs`: the environments of plans' requirements on the node asked.
    public func environments() async throws -> Reply<EnvironmentList> {
        try await send(.GET, "envs")
    }

    /// `POST /envs/prune`: remove the environments no plan has used for `unusedSeconds`.
    public func pruneEnvironments(unusedSeconds: Int) async throws -> Reply<EnvironmentPruneReport> {
        try await send(.POST, "envs/prune", body: Data(#"{"unused_seconds": \#(unusedSeconds)}"#.utf8))
    }

    // MARK: Tokens

    /// `POST /tokens`.
    public func createToken(name: String, role: String) async throws -> Reply<CreatedToken> {
        let body = try JSONSerialization.data(withJSONObject: ["name": name, "role": role])
        return try await send(.POST, "tokens", body: body)
    }

    /// `GET /tokens`.
    public func tokens() async throws -> Reply<TokenList> {
        try await send(.GET, "tokens")
    }

    /// `DELETE /tokens/{id}`.
    public func revokeToken(id: Int64) async throws {
        _ = try await exchange(.DELETE, "tokens/\(id)")
    }

    // MARK: Health

    /// `GET /health`. A 503 is an answer here, not an error: its problems say what is wrong.
    public func health() async throws -> Reply<HealthReport> {
        do {
            let response = try await execute(request(.GET, "health"), extraTime: .zero)
            let body = try await collect(response)
            guard response.status == .ok || response.status == .serviceUnavailable else {
                throw try Self.rejection(response.status, body)
            }
            return Reply(value: try Self.decode(HealthReport.self, body), body: body, status: Int(response.status.code))
        } catch {
            throw mapped(error)
        }
    }

    // MARK: Transport

    private func send<Value: Decodable & Sendable>(
        _ method: HTTPMethod, _ path: String, query: [URLQueryItem] = [], body: Data? = nil, extraTime: TimeAmount = .zero
    ) async throws -> Reply<Value> {
        let (status, data) = try await exchange(method, path, query: query, body: body, extraTime: extraTime)
        return Reply(value: try Self.decode(Value.self, data), body: data, status: status)
    }

    /// Sends a request and returns a 2xx answer's status and body; throws for anything else.
    private func exchange(
        _ method: HTTPMethod, _ path: String, query: [URLQueryItem] = [], body: Data? = nil, extraTime: TimeAmount = .zero
    ) async throws -> (status: Int, body: Data) {
        do {
            let response = try await execute(request(method, path, query: query, body: body), extraTime: extraTime)
            let data = try await collect(response)
            guard (200..<300).contains(response.status.code) else { throw try Self.rejection(response.status, data) }
            return (Int(response.status.code), data)
        } catch {
            throw mapped(error)
        }
    }

    private func request(_ method: HTTPMethod, _ path: String, query: [URLQueryItem] = [], body: Data? = nil,
                         accept: String = "application/json") -> HTTPClientRequest {
        var components = URLComponents(url: server.appendingPathComponent("api/v1/" + path), resolvingAgainstBaseURL: false)
        if !query.isEmpty { components?.queryItems = query }
        var request = HTTPClientRequest(url: components?.string ?? server.absoluteString)
        request.method = method
        request.headers.add(name: "Accept", value: accept)
        request.headers.add(name: "User-Agent", value: "baton-cli")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        return request
    }

    private func execute(_ request: HTTPClientRequest, extraTime: TimeAmount) async throws -> HTTPClientResponse {
        do {
            return try await http.execute(request, timeout: timeout + extraTime)
        } catch {
            throw mapped(error)
        }
    }

    /// Turns transport errors into `unreachable` (never connected) or `connectionLost`; leaves
    /// Baton's own errors and cancellation as they are.
    private func mapped(_ error: any Error) -> any Error {
        let server = server.absoluteString
        switch error {
        case is BatonClientError, is CancellationError:
            return error
        case let error as HTTPClientError where error == .cancelled:
            return CancellationError()
        case let error as HTTPClientError where error == .deadlineExceeded:
            return BatonClientError.connectionLost(server: server, reason: "no answer in time")
        default:
            let text = String(describing: error)
            if text.contains("connectionRefused") || text.contains("Connection refused") {
                return BatonClientError.unreachable(server: server, reason: "connection refused")
            }
            if text.contains("connectTimeout") { return BatonClientError.unreachable(server: server, reason: "connecting timed out") }
            if text.contains("NIOConnectionError") || text.contains("resolve") || text.contains("getaddrinfo") {
                return BatonClientError.unreachable(server: server, reason: text)
            }
            return BatonClientError.connectionLost(server: server, reason: text)
        }
    }

    /// Reads a whole answer's body. AsyncHTTPClient's deadline ends with the answer's head, so
    /// the body gets ``timeout`` of its own: a connection that dies silently must not hang a call.
    private func collect(_ response: HTTPClientResponse) async throws -> Data {
        let (server, limit) = (server.absoluteString, Duration.nanoseconds(timeout.nanoseconds))
        return try await withThrowingTaskGroup(of: Data?.self) { group in
            group.addTask {
                var buffer = try await response.body.collect(upTo: Self.maxBodyBytes)
                return buffer.readData(length: buffer.readableBytes) ?? Data()
            }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let body = try await group.next() ?? nil else {
                throw BatonClientError.connectionLost(server: server, reason: "the answer's body did not arrive in time")
            }
            return body
        }
    }

    private static func rejection(_ status: HTTPResponseStatus, _ body: Data) throws -> BatonClientError {
        if let problem = try? JSONDecoder().decode(APIProblem.self, from: body) { return .rejected(problem) }
        let text = String(decoding: body.prefix(200), as: UTF8.self)
        return .rejected(APIProblem(status: Int(status.code), title: status.reasonPhrase, detail: text.isEmpty ? nil : text))
    }

    private static func decode<Value: Decodable>(_ type: Value.Type, _ body: Data) throws -> Value {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(type, from: body)
        } catch {
            throw BatonClientError.unexpectedResponse("\(Value.self) could not be read: \(error)")
        }
    }
}
