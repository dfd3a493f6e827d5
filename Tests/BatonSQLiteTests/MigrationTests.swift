import Foundation
import BatonTestSupport
import Testing
import BatonCore
@testable import BatonSQLite

@Suite struct MigrationTests {
    @Test func anEmptyFileIsMigratedToTheLatestSchema() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("baton.sqlite")
        let store = try await SQLitePlanStore(configuration: .init(path: path), logger: quietLogger)
        await store.close()
        let connection = try SQLiteConnection(path: path)
        defer { connection.close() }
        #expect(try connection.userVersion == PlanSchema.latestVersion)
        let tables = try connection.rows("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") { $0.string("name") }
        for table in ["plans", "plan_labels", "plan_events", "plan_output", "plan_steps", "tokens", "nodes", "leadership", "control_commands", "control_answers", "audit_log"] {
            #expect(tables.contains(table), "\(table) in \(tables)")
        }
        #expect(try connection.firstRow("PRAGMA journal_mode") { $0.string("journal_mode") } == "wal")
    }

    @Test(arguments: 0..<PlanSchema.latestVersion)
    func aDatabaseAtAnEarlierVersionIsMigratedKeepingItsPlans(from version: Int) async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("baton.sqlite")
        let seeded: Int64? = try {
            let connection = try SQLiteConnection(path: path)
            defer { connection.close() }
            try PlanSchema.migrate(connection, to: version)
            #expect(try connection.userVersion == version)
            guard version >= 1 else { return nil }
            // A plan as version 1 wrote it.
            try connection.run("""
                INSERT INTO plans (name, entry_kind, entry, args, input, priority, timeout_seconds, max_attempts,
                                   env, labels, status, enqueued_at, triggered_by)
                VALUES ('old', 'script', 'old.py', '[]', '{"n": 1}', 2, 60, 1, '{}', '{}', 'queued', 0, 'cli')
                """)
            return connection.lastInsertRowID
        }()

        let store = try await SQLitePlanStore(configuration: .init(path: path), logger: quietLogger)
        if let seeded {
            let plan = try #require(try await store.plan(seeded))
            #expect(plan.name == "old")
            #expect(plan.input.text == #"{"n": 1}"#)
            #expect(try await store.claimOne().id == seeded)
        }
        #expect(try await store.add(spec()).status == .queued)
        await store.close()
        let connection = try SQLiteConnection(path: path)
        defer { connection.close() }
        #expect(try connection.userVersion == PlanSchema.latestVersion)
    }

    @Test func migratingTwiceChangesNothing() throws {
        let directory = try TemporaryDirectory()
        let connection = try SQLiteConnection(path: directory.file("baton.sqlite"))
        defer { connection.close() }
        let first = try PlanSchema.migrate(connection)
        let second = try PlanSchema.migrate(connection)
        #expect(first.from == 0 && first.to == PlanSchema.latestVersion)
        #expect(second.from == PlanSchema.latestVersion && second.to == PlanSchema.latestVersion)
    }

    @Test func aDatabaseFromANewerBatonIsRefusedUntouched() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("baton.sqlite")
        do {
            let connection = try SQLiteConnection(path: path)
            try connection.setUserVersion(PlanSchema.latestVersion + 1)
            connection.close()
        }
        await expectStoreError(.schemaTooNew) {
            _ = try await SQLitePlanStore(configuration: .init(path: path), logger: quietLogger)
        }
        let connection = try SQLiteConnection(path: path)
        defer { connection.close() }
        #expect(try connection.userVersion == PlanSchema.latestVersion + 1)
        #expect(try connection.rows("SELECT name FROM sqlite_master") { $0.string("name") }.isEmpty)
    }

    @Test func aFailedMigrationLeavesTheDatabaseAtItsLastGoodVersion() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("baton.sqlite")
        do {
            let connection = try SQLiteConnection(path: path)
            try PlanSchema.migrate(connection, to: 1)
            try connection.execute("CREATE TABLE tokens (in_the_way INTEGER)")  // makes migration 2 fail
            connection.close()
        }
        await #expect(throws: SQLiteError.self) {
            _ = try await SQLitePlanStore(configuration: .init(path: path), logger: quietLogger)
        }
        let connection = try SQLiteConnection(path: path)
        defer { connection.close() }
        #expect(try connection.userVersion == 1)
        #expect(try connection.firstRow("SELECT count(*) AS n FROM sqlite_master WHERE name = 'tokens_live_name'") { $0.int("n") } == 0)
    }
}
