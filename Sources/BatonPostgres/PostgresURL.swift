import Foundation
import PostgresNIO

/// A PostgreSQL connection URL (`--database`, `BATON_DATABASE`), parsed once and printed only
/// without its password.
///
/// Accepted forms: `postgres://user:password@host:5432/dbname` and, for a Unix socket,
/// `postgres://user@/dbname?host=/var/run/postgresql`. `sslmode` may be `disable`, `prefer`
/// (the default) or `require`. Without a password in the URL, it comes from
/// `BATON_DATABASE_PASSWORD`, then from libpq's `PGPASSWORD`.
public struct PostgresURL: Sendable, CustomStringConvertible {
    public let host: String
    public let port: Int
    /// A directory holding the server's socket, instead of a host and port.
    public let socketDirectory: String?
    public let username: String
    public let database: String
    public let sslMode: SSLMode
    let password: String?

    public enum SSLMode: String, Sendable, CaseIterable {
        case disable, prefer, require
    }

    /// Whether `text` names a PostgreSQL database (rather than a SQLite file).
    public static func isPostgres(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// Parses `text`; the error says which part is wrong, without echoing the password.
    public init(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(PostgresURLError) {
        guard Self.isPostgres(text), let components = URLComponents(string: text) else {
            throw PostgresURLError.notAPostgresURL
        }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        guard let username = components.user?.removingPercentEncoding, !username.isEmpty else {
            throw PostgresURLError("the URL names no user: postgres://USER@host/database")
        }
        let database = String(components.path.drop { $0 == "/" }).removingPercentEncoding ?? ""
        guard !database.isEmpty else {
            throw PostgresURLError("the URL names no database: postgres://user@host/DATABASE")
        }
        if let mode = query["sslmode"] {
            guard let sslMode = SSLMode(rawValue: mode) else {
                throw PostgresURLError("sslmode \(mode) is not one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self.sslMode = sslMode
        } else {
            sslMode = .prefer
        }
        let socket = query["host"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? (socket == nil ? "localhost" : "")
        if let port = components.port, !(1...65535).contains(port) {
            throw PostgresURLError("port \(port) is not between 1 and 65535")
        }
        port = components.port ?? 5432
        socketDirectory = socket
        self.username = username
        self.database = database
        password = components.password?.removingPercentEncoding ?? environment["BATON_DATABASE_PASSWORD"] ?? environment["PGPASSWORD"]
    }

    private init(copying other: PostgresURL, database: String) {
        host = other.host
        port = other.port
        socketDirectory = other.socketDirectory
        username = other.username
        self.database = database
        sslMode = other.sslMode
        password = other.password
    }

    /// The same server and credentials, another database.
    public func replacingDatabase(with database: String) -> PostgresURL {
        PostgresURL(copying: self, database: database)
    }

    /// The URL with its password masked: the only form Baton logs or shows.
    public var description: String {
        let auth = username + (password == nil ? "" : ":***")
        if let socketDirectory { return "postgres://\(auth)@/\(database)?host=\(socketDirectory)" }
        return "postgres://\(auth)@\(host):\(port)/\(database)"
    }

    /// How postgres-nio connects to this database.
    public var clientConfiguration: PostgresClient.Configuration {
        if let socketDirectory {
            return PostgresClient.Configuration(unixSocketPath: socketDirectory + "/.s.PGSQL.\(port)", username: username,
                                                password: password, database: database)
        }
        let tls: PostgresClient.Configuration.TLS = switch sslMode {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
        return PostgresClient.Configuration(host: host, port: port, username: username, password: password, database: database, tls: tls)
    }
}

/// A `--database` URL that cannot be used, and why.
public struct PostgresURLError: Error, CustomStringConvertible {
    public let description: String
    init(_ reason: String) { description = "invalid PostgreSQL URL: \(reason)" }

    /// Text that is not a PostgreSQL URL at all. It is not echoed: it may hold a password.
    public static let notAPostgresURL = PostgresURLError("expected postgres://user:password@host:port/database")
}
