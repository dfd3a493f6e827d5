import BatonCore
import BatonPostgres
import BatonTestSupport
import Foundation
import Logging
import PostgresNIO

/// A fresh database on the server `BATON_TEST_POSTGRES_URL` names, created for one test and
/// dropped after it (with any connection still open to it).
final class PostgresTestDatabase: TestDatabase {
    let server: PostgresURL
    let url: PostgresURL

    init(server text: String) async throws {
        server = try PostgresURL(text)
        let name = "baton_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        url = server.replacingDatabase(with: name)
        try await Self.onServer(server) { try await $0.query("CREATE DATABASE \(unescaped: name)") }
    }

    func open(policy: QueuePolicy) async throws -> any PlanStore & TokenStore {
        var configuration = PostgresPlanStore.Configuration(url: url)
        configuration.policy = policy
        return try await PostgresPlanStore(configuration: configuration, logger: quietLogger)
    }

    func destroy() async {
        try? await Self.onServer(server) { try await $0.query("DROP DATABASE IF EXISTS \(unescaped: url.database) WITH (FORCE)") }
    }

    /// Runs `body` with a client connected to the server's own database.
    private static func onServer(_ server: PostgresURL, _ body: (PostgresClient) async throws -> Void) async throws {
        let client = PostgresClient(configuration: server.clientConfiguration, backgroundLogger: quietLogger)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await client.run() }
            try await body(client)
            group.cancelAll()
        }
    }
}
