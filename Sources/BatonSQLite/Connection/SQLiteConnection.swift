import BatonCore
import CSQLite

#if canImport(Glibc)
import Glibc
#endif

/// How hard SQLite works to make a commit survive power loss (`PRAGMA synchronous`).
public enum SQLiteSynchronous: String, Sendable, CaseIterable {
    /// Commits survive a crash of the process; the last ones may be lost on power loss. WAL default.
    case normal
    /// Every commit is fsynced: survives power loss, several times slower on most disks.
    case full
}

/// One SQLite database connection.
///
/// Not thread-safe: a connection belongs to one ``SerialConnection``, which runs every call on its
/// own thread. Statements are prepared once and cached by their SQL text.
public final class SQLiteConnection {
    /// Settings applied when a connection is opened.
    public struct Options: Sendable {
        public var synchronous: SQLiteSynchronous = .normal
        /// How long a statement waits for another connection's lock before failing with `SQLITE_BUSY`.
        public var busyTimeout: Duration = .seconds(10)
        /// Refuse every write on this connection (`PRAGMA query_only`).
        public var queryOnly = false

        public init(synchronous: SQLiteSynchronous = .normal, busyTimeout: Duration = .seconds(10), queryOnly: Bool = false) {
            self.synchronous = synchronous
            self.busyTimeout = busyTimeout
            self.queryOnly = queryOnly
        }
    }

    /// How a transaction takes its locks.
    public enum TransactionKind: String {
        /// Takes the write lock at `BEGIN`, so the transaction never fails half-way on a lock upgrade.
        case immediate = "BEGIN IMMEDIATE"
        /// Takes locks as statements need them: right for read-only transactions.
        case deferred = "BEGIN DEFERRED"
    }

    private var handle: OpaquePointer?
    private var statements: [String: SQLiteStatement] = [:]
    /// The database file.
    public let path: String

    /// Opens (creating if needed) the database at `path` in WAL mode with `options`.
    public init(path: String, options: Options = Options()) throws {
        self.path = path
        var connection: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let code = sqlite3_open_v2(path, &connection, flags, nil)
        guard code == SQLITE_OK, let connection else {
            let reason = SQLiteError(resultCode: code, connection: connection, sql: nil)
            sqlite3_close_v2(connection)
            throw SQLiteError(
                code: reason.code, extendedCode: reason.extendedCode,
                message: "cannot open the database \(path): \(reason.message); check that its directory exists and is writable (--data-dir)"
            )
        }
        handle = connection
        sqlite3_extended_result_codes(connection, 1)
        sqlite3_busy_timeout(connection, Int32(clamping: options.busyTimeout.wholeMilliseconds))
        do {
            // Switching a new file to WAL takes a lock that SQLite does not wait for with the busy
            // handler: when two processes open a new database at once, one may get SQLITE_BUSY.
            let mode = try Self.retryingWhileBusy(for: options.busyTimeout) {
                try firstRow("PRAGMA journal_mode = WAL") { $0.string("journal_mode") }
            }
            guard mode?.lowercased() == "wal" else {
                throw SQLiteError(
                    code: SQLITE_CANTOPEN,
                    message: "the database \(path) cannot use write-ahead logging (journal mode stays \(mode ?? "unknown")); put the data directory on a local file system"
                )
            }
            try execute("PRAGMA synchronous = \(options.synchronous.rawValue.uppercased())")
            try execute("PRAGMA foreign_keys = ON")
            // A queue's hot pages (the claim index, recent rows) stay in memory: 16 MiB of page
            // cache and memory-mapped reads instead of read() calls. After a checkpoint the WAL
            // file is cut back to 64 MiB so it cannot grow without end.
            try execute("PRAGMA cache_size = -16384")
            try execute("PRAGMA mmap_size = 268435456")
            try execute("PRAGMA journal_size_limit = 67108864")
            if options.queryOnly { try execute("PRAGMA query_only = ON") }
        } catch {
            close()
            throw error
        }
    }

    deinit {
        close()
    }

    /// Runs `body` again while it fails with SQLITE_BUSY, for up to `limit`. It blocks: call it
    /// only on a connection's own thread.
    private static func retryingWhileBusy<T>(for limit: Duration, _ body: () throws -> T) throws -> T {
        let deadline = ContinuousClock.now + limit
        while true {
            do {
                return try body()
            } catch let error as SQLiteError where error.code == SQLITE_BUSY && ContinuousClock.now < deadline {
                usleep(5_000)
            }
        }
    }

    /// Finalizes every statement and closes the connection. Later calls fail with `SQLITE_MISUSE`.
    public func close() {
        statements.removeAll()
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    private func open() throws -> OpaquePointer {
        guard let handle else {
            throw SQLiteError(code: SQLITE_MISUSE, message: "the database connection to \(path) is closed")
        }
        return handle
    }

    /// Runs one or more statements that take no parameters (schema, pragmas).
    public func execute(_ sql: String) throws {
        let handle = try open()
        let code = sqlite3_exec(handle, sql, nil, nil, nil)
        guard code == SQLITE_OK else { throw SQLiteError(resultCode: code, connection: handle, sql: sql) }
    }

    /// The prepared statement for `sql`, prepared on first use and reused afterwards. For the
    /// fixed statements of a store; SQL composed at run time goes through ``prepare(_:)``.
    public func statement(_ sql: String) throws -> SQLiteStatement {
        if let cached = statements[sql] { return cached }
        let statement = try prepare(sql)
        statements[sql] = statement
        return statement
    }

    /// A new statement for `sql`, not cached: finalized when the caller lets go of it.
    public func prepare(_ sql: String) throws -> SQLiteStatement {
        try SQLiteStatement(connection: try open(), sql: sql)
    }

    /// Runs `sql` with `values` bound, ignoring rows.
    public func run(_ sql: String, _ values: [SQLiteBindable] = []) throws {
        try statement(sql).run(values)
    }

    /// Runs `sql` with `values` bound and maps every row.
    public func rows<T>(_ sql: String, _ values: [SQLiteBindable] = [], _ transform: (SQLiteRow) throws -> T) throws -> [T] {
        try statement(sql).rows(values, transform)
    }

    /// Runs `sql` with `values` bound and maps the first row, if any.
    public func firstRow<T>(_ sql: String, _ values: [SQLiteBindable] = [], _ transform: (SQLiteRow) throws -> T) throws -> T? {
        try statement(sql).firstRow(values, transform)
    }

    /// Rows changed by the last `INSERT`, `UPDATE` or `DELETE`.
    public var changes: Int {
        handle.map { Int(sqlite3_changes($0)) } ?? 0
    }

    /// The rowid of the last successful `INSERT`.
    public var lastInsertRowID: Int64 {
        handle.map { sqlite3_last_insert_rowid($0) } ?? 0
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    public func transaction<T>(_ kind: TransactionKind = .immediate, _ body: () throws -> T) throws -> T {
        try run(kind.rawValue)
        do {
            let value = try body()
            try run("COMMIT")
            return value
        } catch {
            if let handle, sqlite3_get_autocommit(handle) == 0 {
                try? execute("ROLLBACK")
            }
            throw error
        }
    }

    /// `PRAGMA user_version`: the schema version this database was migrated to.
    public var userVersion: Int {
        get throws { try firstRow("PRAGMA user_version") { $0.int("user_version") } ?? 0 }
    }

    /// Sets `PRAGMA user_version` (a pragma cannot take a bound parameter).
    public func setUserVersion(_ version: Int) throws {
        try execute("PRAGMA user_version = \(version)")
    }
}
