import BatonCore
import CSQLite

/// A prepared statement. Owned by one ``SQLiteConnection`` and used only on its thread.
public final class SQLiteStatement {
    let handle: OpaquePointer
    /// The SQL text, kept for error messages.
    public let sql: String
    private let connection: OpaquePointer
    private lazy var columnIndexByName: [String: Int32] = {
        var map: [String: Int32] = [:]
        for index in 0..<sqlite3_column_count(handle) {
            map[String(cString: sqlite3_column_name(handle, index))] = index
        }
        return map
    }()

    init(connection: OpaquePointer, sql: String) throws {
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v3(connection, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard code == SQLITE_OK, let statement else {
            throw SQLiteError(resultCode: code, connection: connection, sql: sql)
        }
        self.handle = statement
        self.connection = connection
        self.sql = sql
    }

    deinit {
        sqlite3_finalize(handle)
    }

    /// Clears earlier bindings and binds `values` to parameters 1, 2, ... in order.
    public func bind(_ values: [SQLiteBindable]) throws {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (offset, value) in values.enumerated() {
            try bind(value.sqliteValue, at: Int32(offset + 1))
        }
    }

    private func bind(_ value: SQLiteValue, at index: Int32) throws {
        let code: Int32
        switch value {
        case .null:
            code = sqlite3_bind_null(handle, index)
        case .integer(let integer):
            code = sqlite3_bind_int64(handle, index, integer)
        case .real(let real):
            code = sqlite3_bind_double(handle, index, real)
        case .text(var text):
            // A nil pointer would bind NULL, not the empty string.
            text.makeContiguousUTF8()
            code = text.withUTF8 { utf8 in
                guard let base = utf8.baseAddress, !utf8.isEmpty else {
                    return baton_sqlite3_bind_text_copy(handle, index, "", 0)
                }
                return base.withMemoryRebound(to: CChar.self, capacity: utf8.count) {
                    baton_sqlite3_bind_text_copy(handle, index, $0, Int32(utf8.count))
                }
            }
        case .blob(let bytes):
            code = bytes.withUnsafeBytes { buffer in
                guard let base = buffer.baseAddress, !buffer.isEmpty else {
                    return sqlite3_bind_zeroblob(handle, index, 0)
                }
                return baton_sqlite3_bind_blob_copy(handle, index, base, Int32(buffer.count))
            }
        }
        guard code == SQLITE_OK else { throw SQLiteError(resultCode: code, connection: connection, sql: sql) }
    }

    /// Advances to the next row; `false` once the statement is done.
    @discardableResult
    public func step() throws -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW:
            return true
        case SQLITE_DONE:
            return false
        case let code:
            let error = SQLiteError(resultCode: code, connection: connection, sql: sql)
            sqlite3_reset(handle)
            throw error
        }
    }

    /// Runs the statement to completion, ignoring any rows.
    public func run(_ values: [SQLiteBindable] = []) throws {
        try bind(values)
        while try step() {}
        sqlite3_reset(handle)
    }

    /// Runs the statement and maps every row with `transform`.
    public func rows<T>(_ values: [SQLiteBindable] = [], _ transform: (SQLiteRow) throws -> T) throws -> [T] {
        try bind(values)
        defer { sqlite3_reset(handle) }
        var results: [T] = []
        let row = SQLiteRow(statement: self)
        while try step() {
            results.append(try transform(row))
        }
        return results
    }

    /// Runs the statement and maps its first row, if any.
    public func firstRow<T>(_ values: [SQLiteBindable] = [], _ transform: (SQLiteRow) throws -> T) throws -> T? {
        try bind(values)
        defer { sqlite3_reset(handle) }
        return try step() ? transform(SQLiteRow(statement: self)) : nil
    }

    func columnIndex(_ name: String) -> Int32 {
        guard let index = columnIndexByName[name] else {
            preconditionFailure("column \(name) is not in the result of: \(sql)")
        }
        return index
    }
}

/// The current row of a statement, read by column name.
public struct SQLiteRow {
    let statement: SQLiteStatement

    private func index(_ name: String) -> Int32 { statement.columnIndex(name) }

    /// Whether the column holds `NULL`.
    public func isNull(_ name: String) -> Bool {
        sqlite3_column_type(statement.handle, index(name)) == SQLITE_NULL
    }

    public func int64(_ name: String) -> Int64 {
        sqlite3_column_int64(statement.handle, index(name))
    }

    public func int(_ name: String) -> Int { Int(int64(name)) }

    public func optionalInt64(_ name: String) -> Int64? {
        isNull(name) ? nil : int64(name)
    }

    public func double(_ name: String) -> Double {
        sqlite3_column_double(statement.handle, index(name))
    }

    public func optionalDouble(_ name: String) -> Double? {
        isNull(name) ? nil : double(name)
    }

    public func string(_ name: String) -> String {
        optionalString(name) ?? ""
    }

    public func optionalString(_ name: String) -> String? {
        let column = index(name)
        guard let text = sqlite3_column_text(statement.handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(statement.handle, column))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    public func bytes(_ name: String) -> [UInt8] {
        let column = index(name)
        let count = Int(sqlite3_column_bytes(statement.handle, column))
        guard count > 0, let pointer = sqlite3_column_blob(statement.handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }
}
