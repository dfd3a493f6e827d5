/// A ``SQLiteConnection`` owned by an actor that runs on a thread of its own.
///
/// Every call to ``perform(_:)`` runs on that thread, one at a time, so the connection is never
/// shared between threads and blocking SQLite calls never run on the cooperative pool.
public actor SerialConnection {
    private let executor: ThreadExecutor
    private var connection: SQLiteConnection?

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    private init(threadName: String) {
        executor = ThreadExecutor(name: threadName)
    }

    /// Opens the database at `path` on a new thread named `threadName`.
    public static func open(path: String, options: SQLiteConnection.Options, threadName: String) async throws -> SerialConnection {
        let serial = SerialConnection(threadName: threadName)
        do {
            try await serial.connect(path: path, options: options)
        } catch {
            serial.executor.shutdown()
            throw error
        }
        return serial
    }

    private func connect(path: String, options: SQLiteConnection.Options) throws {
        connection = try SQLiteConnection(path: path, options: options)
    }

    /// Runs `body` with the connection, on the connection's thread.
    public func perform<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        guard let connection else {
            throw SQLiteError(code: 21, message: "the database connection is closed")  // SQLITE_MISUSE
        }
        return try body(connection)
    }

    /// Closes the connection and lets its thread end.
    public func close() {
        connection?.close()
        connection = nil
        executor.shutdown()
    }

    deinit {
        executor.shutdown()
    }
}
