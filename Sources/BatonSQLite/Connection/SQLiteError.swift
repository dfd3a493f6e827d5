import BatonCore
import CSQLite

/// A failed SQLite call: the result code, SQLite's message and the SQL that was running.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    /// The primary result code (`SQLITE_BUSY`, `SQLITE_CONSTRAINT`, ...).
    public let code: Int32
    /// The extended result code (`SQLITE_CONSTRAINT_UNIQUE`, ...).
    public let extendedCode: Int32
    /// SQLite's own explanation.
    public let message: String
    /// The statement that failed, when there was one.
    public let sql: String?

    init(code: Int32, extendedCode: Int32? = nil, message: String, sql: String? = nil) {
        self.code = code & 0xFF
        self.extendedCode = extendedCode ?? code
        self.message = message
        self.sql = sql
    }

    init(resultCode: Int32, connection: OpaquePointer?, sql: String? = nil) {
        let message = connection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
            ?? String(cString: sqlite3_errstr(resultCode))
        let extended = connection.map { sqlite3_extended_errcode($0) } ?? resultCode
        self.init(code: resultCode, extendedCode: extended, message: message, sql: sql)
    }

    /// The database was locked by another connection for longer than the busy timeout.
    public var isBusy: Bool { code == SQLITE_BUSY || code == SQLITE_LOCKED }

    /// A `UNIQUE` constraint failed.
    public var isUniqueViolation: Bool { extendedCode == SQLITE_CONSTRAINT | (8 << 8) }  // SQLITE_CONSTRAINT_UNIQUE, a macro Swift cannot import

    public var description: String {
        var text = "SQLite error \(code) (extended \(extendedCode)): \(message)"
        if let sql { text += " — in: \(sql.split(whereSeparator: \.isNewline).joined(separator: " "))" }
        return text
    }
}
