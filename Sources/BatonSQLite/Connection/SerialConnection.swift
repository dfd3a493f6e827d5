import BatonCore

/// A ``SQLiteConnection`` owned by an actor that runs on a thread of its own.
///
/// Every call to ``perform(_:)`` runs on that thread, one at a time, so the connection is never
/// shared between threads and blocking SQLite calls never run on the cooperative pool. The thread
/// lives as long as the actor; the connection is closed on it.
public actor SerialConnection {
    private let executor: ThreadExecutor
    private var connection: SQLiteConnection?
    private let path: String

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    private init(path: String, threadName: String) {
        self.path = path
        executor = ThreadExecutor(name: threadName)
    }

    /// Opens the database at `path` on a new thread named `threadName`.
    public static func open(path: String, options: SQLiteConnection.Options, threadName: String) async throws -> SerialConnection {
        let serial = SerialConnection(path: path, threadName: threadName)
        try await serial.connect(options: options)
        return serial
    }

    private func connect(options: SQLiteConnection.Options) throws {
        connection = try SQLiteConnection(path: path, options: options)
    }

    /// Runs `body` with the connection, on the connection's thread.
    public func perform<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        guard let connection else {
            throw SQLiteError(code: 21, message: "the database connection to \(path) was closed")  // SQLITE_MISUSE
        }
        return try body(connection)
    }

    /// Closes the connection; later calls throw. The thread ends with the actor.
    public func close() {
        connection?.close()
        connection = nil
    }

    /// Runs on the connection's own thread (closing may checkpoint the WAL, which is blocking
    /// I/O), then lets the thread end.
    isolated deinit {
        connection?.close()
        executor.shutdown()
    }
}
