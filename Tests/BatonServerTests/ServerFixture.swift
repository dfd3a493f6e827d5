import BatonCore
import BatonSQLite
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import BatonTestSupport
import Testing
@testable import BatonServer


let sharedInterpreter = Task { try await PythonInterpreter.resolve() }

/// A store, a running orchestrator and the API over them; `body` gets the test client.
func withServer(
    workers: Int = 1,
    configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: @escaping @Sendable (APIClient, SQLitePlanStore, Orchestrator) async throws -> Void
) async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("baton-server-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let store = try await SQLitePlanStore(configuration: .init(path: directory + "/baton.sqlite"), logger: quietLogger)
    let metrics = ServerMetrics()
    var nodeConfiguration = BatonNode.Configuration()
    nodeConfiguration.orchestrator.workers = workers
    nodeConfiguration.orchestrator.pollInterval = .seconds(600)
    nodeConfiguration.orchestrator.shutdownDrainTimeout = .milliseconds(200)
    let node = BatonNode(store: store, configuration: nodeConfiguration, metrics: metrics.metrics, logger: { _ in quietLogger }) {
        let interpreter = try await sharedInterpreter.value
        var runner = PythonRunner.Configuration(interpreter: interpreter, workspaceRoot: directory)
        runner.killGracePeriod = .milliseconds(300)
        return PreparedRunner(runner: PythonRunner(configuration: runner, logger: quietLogger), interpreter: interpreter)
    }
    let orchestrator = node.orchestrator
    // The node's services; the test client stands in for the HTTP server.
    let group = node.serviceGroup(logger: quietLogger)
    let service = Task { try await group.run() }
    while (try await orchestrator.status()).lastPollAt == nil { try await Task.sleep(for: .milliseconds(10)) }
    var configuration = ServerConfiguration()
    configure(&configuration)
    var secrets: [String: String] = [:]
    for role in TokenRole.allCases {
        secrets[role.rawValue] = try await makeToken(store, name: "\(role.rawValue)-token", role: role)
    }
    let revoked = try await makeToken(store, name: "revoked-token", role: .admin)
    _ = try await store.revokeToken(id: try await store.tokens().last!.id, now: Date())
    secrets["revoked"] = revoked
    let tokens = secrets
    let app = buildApplication(configuration: configuration, node: node, metrics: metrics, logger: quietLogger)
    var failure: (any Error)?
    do {
        try await app.test(.router) { client in try await body(APIClient(client: client, secrets: tokens, bus: node.bus), store, orchestrator) }
    } catch {
        failure = error
    }
    await group.triggerGracefulShutdown()
    _ = try? await service.value
    if let failure { throw failure }
}

/// Creates a token with `role` straight in the store and returns its secret.
func makeToken(_ store: SQLitePlanStore, name: String, role: TokenRole) async throws -> String {
    let secret = "test-\(name)-\(UUID().uuidString)"
    _ = try await store.createToken(name: name, role: role, secretHash: TokenSecret.hash(secret), now: Date())
    return secret
}

/// The test client, sending a token of the given kind (`admin` unless said otherwise):
/// `viewer`, `producer`, `admin`, `revoked`, or `nil` for none.
struct APIClient: Sendable {
    let client: any TestClientProtocol
    let secrets: [String: String]
    /// The server's event bus, for tests that publish notices themselves.
    let bus: EventBus

    private func headers(_ token: String?, contentType: String? = nil) -> HTTPFields {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(secrets[token] ?? token)" }
        if let contentType { headers[.contentType] = contentType }
        return headers
    }

    func post(_ uri: String, json: String, contentType: String = "application/json", as token: String? = "admin") async throws -> TestResponse {
        try await client.execute(uri: uri, method: .post, headers: headers(token, contentType: contentType), body: ByteBuffer(string: json)) { $0 }
    }

    func get(_ uri: String, as token: String? = "admin", lastEventID: String? = nil) async throws -> TestResponse {
        var headers = headers(token)
        if let lastEventID { headers[.lastEventID] = lastEventID }
        return try await client.execute(uri: uri, method: .get, headers: headers) { $0 }
    }

    func delete(_ uri: String, as token: String? = "admin") async throws -> TestResponse {
        try await client.execute(uri: uri, method: .delete, headers: headers(token)) { $0 }
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    /// The body as a JSON object.
    var object: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    /// The `field`s named in a problem's `errors`.
    var problemFields: [String] {
        (object["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }
    }
}
