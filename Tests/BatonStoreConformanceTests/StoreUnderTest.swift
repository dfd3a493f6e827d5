import BatonCore
import BatonSQLite
import BatonTestSupport
import Foundation
import Testing

/// A store the conformance suite runs against: every test of this target runs once per kind.
///
/// SQLite always runs. PostgreSQL joins when `BATON_TEST_POSTGRES_URL` names a server (`.ci/run`
/// starts one); without it the suite says so once and runs SQLite alone.
struct StoreKind: Sendable, CustomTestStringConvertible {
    let name: String
    /// Makes a fresh, empty database for one test.
    let makeDatabase: @Sendable () async throws -> any TestDatabase

    var testDescription: String { name }

    static let sqlite = StoreKind(name: "SQLite") { try SQLiteTestDatabase() }

    /// PostgreSQL on the server `url` names: a new database per test.
    static func postgres(server url: String) -> StoreKind {
        StoreKind(name: "PostgreSQL") { try await PostgresTestDatabase(server: url) }
    }

    /// The kinds this run tests.
    static let all: [StoreKind] = {
        guard let server = TestPostgres.serverURL else {
            print("note: BATON_TEST_POSTGRES_URL is not set; the store suite runs against SQLite only")
            return [.sqlite]
        }
        return [.sqlite, .postgres(server: server)]
    }()
}

/// One test's database: it opens stores on it (several, for tests of concurrent nodes) and is
/// removed afterwards.
protocol TestDatabase: Sendable {
    func open(policy: QueuePolicy) async throws -> any BatonStore
    func destroy() async
}

/// A SQLite file in a temporary directory.
final class SQLiteTestDatabase: TestDatabase {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("baton-store-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func open(policy: QueuePolicy) async throws -> any BatonStore {
        var configuration = SQLitePlanStore.Configuration(path: directory + "/baton.sqlite")
        configuration.policy = policy
        return try await SQLitePlanStore(configuration: configuration, logger: quietLogger)
    }

    func destroy() async {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Opens a store of `kind` on a new database, runs `body`, closes and removes it.
func withStore(
    _ kind: StoreKind,
    _ configure: (inout QueuePolicy) -> Void = { _ in },
    _ body: (any BatonStore) async throws -> Void
) async throws {
    try await withDatabase(kind) { database in
        var policy = QueuePolicy()
        configure(&policy)
        let store = try await database.open(policy: policy)
        do {
            try await body(store)
            await store.close()
        } catch {
            await store.close()
            throw error
        }
    }
}

/// Makes a database of `kind` for `body`, which may open several stores on it.
func withDatabase(_ kind: StoreKind, _ body: (any TestDatabase) async throws -> Void) async throws {
    let database = try await kind.makeDatabase()
    do {
        try await body(database)
        await database.destroy()
    } catch {
        await database.destroy()
        throw error
    }
}
