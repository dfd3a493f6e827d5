import Foundation
import BatonTestSupport
import Testing
import BatonCore
@testable import BatonSQLite

@Suite struct SQLiteLayerTests {
    @Test func valuesRoundTripThroughBoundParameters() throws {
        let directory = try TemporaryDirectory()
        let connection = try SQLiteConnection(path: directory.file("t.sqlite"))
        defer { connection.close() }
        try connection.execute("CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n TEXT)")
        let text = "ünïcödé ✓ 'quoted'; DROP TABLE t; --"
        try connection.run("INSERT INTO t VALUES (?, ?, ?, ?, ?)", [Int64.max, 2.5, text, [UInt8]([0, 1, 255]), String?.none])
        let row = try connection.firstRow("SELECT i, r, s, b, n FROM t") { row in
            (row.int64("i"), row.double("r"), row.string("s"), row.bytes("b"), row.optionalString("n"))
        }
        let (i, r, s, b, n) = try #require(row)
        #expect(i == Int64.max)
        #expect(r == 2.5)
        #expect(s == text)
        #expect(b == [0, 1, 255])
        #expect(n == nil)
        #expect(try connection.firstRow("SELECT count(*) AS n FROM t") { $0.int("n") } == 1, "bound text is data, never SQL")

        try connection.run("INSERT INTO t (s, b) VALUES (?, ?)", ["", [UInt8]()])
        let empty = try connection.firstRow("SELECT s IS NULL AS s_null, b IS NULL AS b_null, s, length(b) AS b_length FROM t WHERE s = ''") {
            ($0.int("s_null"), $0.int("b_null"), $0.string("s"), $0.int("b_length"))
        }
        #expect(empty?.0 == 0 && empty?.1 == 0, "empty text and blobs are not NULL")
        #expect(empty?.2 == "" && empty?.3 == 0)
    }

    @Test func aThrowingTransactionRollsBack() throws {
        struct Abort: Error {}
        let directory = try TemporaryDirectory()
        let connection = try SQLiteConnection(path: directory.file("t.sqlite"))
        defer { connection.close() }
        try connection.execute("CREATE TABLE t (x INTEGER)")
        #expect(throws: Abort.self) {
            try connection.transaction {
                try connection.run("INSERT INTO t VALUES (1)")
                throw Abort()
            }
        }
        #expect(try connection.firstRow("SELECT count(*) AS n FROM t") { $0.int("n") } == 0)
        try connection.transaction { try connection.run("INSERT INTO t VALUES (2)") }
        #expect(try connection.firstRow("SELECT count(*) AS n FROM t") { $0.int("n") } == 1)
    }

    @Test func errorsCarryCodeMessageAndSQL() throws {
        let directory = try TemporaryDirectory()
        let connection = try SQLiteConnection(path: directory.file("t.sqlite"))
        defer { connection.close() }
        let error = try #require(throws: SQLiteError.self) { try connection.run("SELECT * FROM missing_table") }
        #expect(error.code == 1)
        #expect(error.message.contains("missing_table"))
        #expect(error.sql == "SELECT * FROM missing_table")
        try connection.execute("CREATE TABLE u (k TEXT UNIQUE)")
        try connection.run("INSERT INTO u VALUES ('a')")
        let unique = try #require(throws: SQLiteError.self) { try connection.run("INSERT INTO u VALUES ('a')") }
        #expect(unique.isUniqueViolation)
    }

    @Test func aClosedConnectionFailsCleanly() throws {
        let directory = try TemporaryDirectory()
        let connection = try SQLiteConnection(path: directory.file("t.sqlite"))
        connection.close()
        let error = try #require(throws: SQLiteError.self) { try connection.execute("SELECT 1") }
        #expect(error.message.contains("closed"))
    }

    @Test func anUnopenablePathSaysWhichPathAndWhatToCheck() throws {
        let path = "/nonexistent-dir-\(UUID())/x.sqlite"
        let error = try #require(throws: SQLiteError.self) { try SQLiteConnection(path: path) }
        #expect(error.message.contains(path))
        #expect(error.message.contains("--data-dir"))
    }

    @Test func connectionsAreConfiguredForAQueue() throws {
        let directory = try TemporaryDirectory()
        let connection = try SQLiteConnection(path: directory.file("t.sqlite"), options: .init(synchronous: .full, busyTimeout: .seconds(7)))
        defer { connection.close() }
        #expect(try connection.firstRow("PRAGMA journal_mode") { $0.string("journal_mode") } == "wal")
        #expect(try connection.firstRow("PRAGMA synchronous") { $0.int("synchronous") } == 2)  // FULL
        #expect(try connection.firstRow("PRAGMA foreign_keys") { $0.int("foreign_keys") } == 1)
        #expect(try connection.firstRow("PRAGMA busy_timeout") { $0.int("timeout") } == 7000)
        let normal = try SQLiteConnection(path: directory.file("t.sqlite"))
        defer { normal.close() }
        #expect(try normal.firstRow("PRAGMA synchronous") { $0.int("synchronous") } == 1)  // NORMAL
        #expect(try normal.firstRow("PRAGMA busy_timeout") { $0.int("timeout") } ?? 0 >= 5000)
    }

    @Test func workRunsOnTheConnectionsOwnThreadAndReadersCannotWrite() async throws {
        let directory = try TemporaryDirectory()
        let database = try await SQLiteDatabase(path: directory.file("t.sqlite"), options: .init()) {
            try $0.execute("CREATE TABLE t (x INTEGER)")
        }
        let writerThread = try await database.write { _ in ThreadExecutor.currentName }
        let readerThread = try await database.read { _ in ThreadExecutor.currentName }
        #expect(writerThread == "baton.sqlite.writer")
        #expect(readerThread?.hasPrefix("baton.sqlite.reader") == true)
        #expect(ThreadExecutor.currentName == nil, "the test itself runs on the cooperative pool")
        await #expect(throws: SQLiteError.self) {
            try await database.read { try $0.run("INSERT INTO t VALUES (1)") }
        }
        await database.close()
        await #expect(throws: SQLiteError.self) { try await database.write { _ in 1 } }
        await #expect(throws: SQLiteError.self) { try await database.read { _ in 1 } }
    }

    @Test func aClosedStoreAnswersWithAnErrorInsteadOfHanging() async throws {
        let directory = try TemporaryDirectory()
        let store = try await SQLitePlanStore(configuration: .init(path: directory.file("baton.sqlite")), logger: quietLogger)
        try await store.add(spec())
        await store.close()
        await #expect(throws: SQLiteError.self) { try await store.add(spec()) }
        await #expect(throws: SQLiteError.self) { _ = try await store.plan(1) }
    }

    @Test func twoStoresOpeningANewFileAtOnceBothMigrateIt() async throws {
        for _ in 0..<5 {
            let directory = try TemporaryDirectory()
            let configuration = SQLitePlanStore.Configuration(path: directory.file("baton.sqlite"))
            async let first = SQLitePlanStore(configuration: configuration, logger: quietLogger)
            async let second = SQLitePlanStore(configuration: configuration, logger: quietLogger)
            let stores = try await [first, second]
            for store in stores {
                #expect(try await store.add(spec()).status == .queued)
                await store.close()
            }
        }
    }

    @Test func aLockHeldTooLongIsReportedAsBusyNotAsALockingError() async throws {
        try await withStore({ $0.busyTimeout = .milliseconds(200) }) { store, path in
            let intruder = try SQLiteConnection(path: path)
            defer { intruder.close() }
            try intruder.execute("BEGIN IMMEDIATE")
            await expectStoreError(.databaseBusy) { try await store.add(spec()) }
            do {
                try await store.add(spec())
            } catch let error as PlanStoreError {
                #expect(error.message.contains("try again"))
            }
            try intruder.execute("ROLLBACK")
            #expect(try await store.add(spec()).status == .queued, "writes go through once the lock is gone")
        }
    }
}
