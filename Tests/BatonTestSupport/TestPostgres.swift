import BatonPostgres
import Foundation
import Logging
import PostgresNIO

/// The PostgreSQL server tests may use: the one `BATON_TEST_POSTGRES_URL` names (`.ci/run` starts
/// a throwaway one). Each test makes a database of its own on it and drops it afterwards.
public enum TestPostgres {
    /// The server's URL, or nil when none is set (then PostgreSQL tests are skipped, with a note).
    public static var serverURL: String? {
        ProcessInfo.processInfo.environment["BATON_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Creates an empty database on `server` and returns the URL text that names it (the
    /// server's, with another database).
    public static func createDatabase(on server: String) async throws -> String {
        let name = "baton_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        try await onServer(server) { try await $0.query("CREATE DATABASE \(unescaped: name)") }
        guard var components = URLComponents(string: server) else { throw PostgresURLError.notAPostgresURL }
        components.path = "/" + name
        guard let url = components.string else { throw PostgresURLError.notAPostgresURL }
        return url
    }

    /// Drops the database `url` names, with any connection still open to it.
    public static func dropDatabase(_ url: String, on server: String) async {
        guard let database = try? PostgresURL(url).database else { return }
        try? await onServer(server) { try await $0.query("DROP DATABASE IF EXISTS \(unescaped: database) WITH (FORCE)") }
    }

    /// Runs `body` with a client connected to the server's own database.
    private static func onServer(_ server: String, _ body: (PostgresClient) async throws -> Void) async throws {
        let client = PostgresClient(configuration: try PostgresURL(server).clientConfiguration, backgroundLogger: quietLogger)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await client.run() }
            try await body(client)
            group.cancelAll()
        }
    }
}
