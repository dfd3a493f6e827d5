import BatonCore
import Synchronization

/// One database file behind one writer connection and a few reader connections.
///
/// SQLite allows one writer at a time; funnelling every write through one connection (one
/// thread) serialises them without lock contention inside the process, while WAL lets the
/// readers run beside it. Writes run in `BEGIN IMMEDIATE` transactions.
public final class SQLiteDatabase: Sendable {
    private let writer: SerialConnection
    private let readers: [SerialConnection]
    private let nextReader = Atomic<Int>(0)
    /// The database file.
    public let path: String

    /// Opens `path` with one writer and `readerCount` readers, each on its own thread, and runs
    /// `prepare` on the writer before any reader opens (schema migrations).
    public init(
        path: String,
        options: SQLiteConnection.Options,
        readerCount: Int = 2,
        prepare: @Sendable (SQLiteConnection) throws -> Void = { _ in }
    ) async throws {
        self.path = path
        writer = try await SerialConnection.open(path: path, options: options, threadName: "baton.sqlite.writer")
        do {
            try await writer.perform(prepare)
            var readers: [SerialConnection] = []
            var readerOptions = options
            readerOptions.queryOnly = true
            for index in 0..<max(1, readerCount) {
                readers.append(try await SerialConnection.open(path: path, options: readerOptions, threadName: "baton.sqlite.reader\(index)"))
            }
            self.readers = readers
        } catch {
            await writer.close()
            throw error
        }
    }

    /// Runs `body` in a write transaction on the writer connection.
    public func write<T: Sendable>(_ body: @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await writer.perform { connection in
            try connection.transaction(.immediate) { try body(connection) }
        }
    }

    /// Runs `body` on one of the reader connections. With `snapshot`, inside a read transaction,
    /// so that several statements see one consistent state (one statement always does).
    public func read<T: Sendable>(snapshot: Bool = false, _ body: @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        let reader = readers[nextReader.add(1, ordering: .relaxed).oldValue % readers.count]
        return try await reader.perform { connection in
            snapshot ? try connection.transaction(.deferred) { try body(connection) } : try body(connection)
        }
    }

    /// Closes every connection. Calls after this fail.
    public func close() async {
        for reader in readers { await reader.close() }
        await writer.close()
    }
}
