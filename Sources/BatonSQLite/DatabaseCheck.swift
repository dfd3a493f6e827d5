import BatonCore
import Foundation

/// What `baton doctor` learns of a database: whether SQLite finds it sound, its schema version,
/// and how many plans it holds. Reads only; safe while a server uses the database.
public struct DatabaseCheck: Sendable {
    /// `PRAGMA user_version`: the last migration applied.
    public let schemaVersion: Int
    /// What `PRAGMA integrity_check` found wrong (at most 20 lines); empty when the database is sound.
    public let problems: [String]
    /// Plans in the database, ended ones included.
    public let planCount: Int

    /// Checks the database at `path`, which must exist.
    public static func run(path: String) async throws -> DatabaseCheck {
        guard FileManager.default.fileExists(atPath: path) else {
            throw SQLiteError(code: 14, message: "no database at \(path); `baton serve` or `baton migrate` creates it")  // SQLITE_CANTOPEN
        }
        let serial = try await SerialConnection.open(path: path, options: .init(queryOnly: true), threadName: "baton-check")
        do {
            let check = try await serial.perform { connection in
                let lines = try connection.rows("PRAGMA integrity_check(20)") { $0.string("integrity_check") }
                let version = try connection.firstRow("PRAGMA user_version") { $0.int("user_version") } ?? 0
                let plans = version > 0 ? try connection.firstRow("SELECT count(*) AS n FROM plans") { $0.int("n") } ?? 0 : 0
                return DatabaseCheck(schemaVersion: version, problems: lines == ["ok"] ? [] : lines, planCount: plans)
            }
            await serial.close()
            return check
        } catch {
            await serial.close()
            throw error
        }
    }
}
