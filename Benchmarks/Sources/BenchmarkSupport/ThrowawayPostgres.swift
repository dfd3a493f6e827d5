import BatonPostgres
import Foundation
import PostgresNIO
import Subprocess
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL server of the benchmark's own: `initdb` in a temporary directory (as the
/// unprivileged `postgres` user when run as root), `pg_ctl` on a free loopback port, stopped and
/// removed by ``stop()``. Durability is not what is measured against SQLite's WAL `normal`, so the
/// server runs with `synchronous_commit = off` — as a commit there, too, survives a crash of
/// Baton but not of the machine.
public struct ThrowawayPostgres: Sendable {
    /// The server's own database, as a URL.
    public let serverURL: String
    private let directory: String
    private let binaries: String
    private let asOwner: [String]

    public static func start() async throws -> ThrowawayPostgres {
        let candidates = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        guard let version = candidates.compactMap(Int.init).max() else {
            throw BenchmarkFailure("PostgreSQL is not installed (Debian: apt-get install postgresql)")
        }
        let binaries = "/usr/lib/postgresql/\(version)/bin"
        let directory = try Floor.scratchDirectory("baton-bench-postgres")
        var asOwner: [String] = []
        if getuid() == 0 {
            try FileManager.default.setAttributes([.ownerAccountName: "postgres"], ofItemAtPath: directory)
            asOwner = ["/usr/sbin/runuser", "-u", "postgres", "--"]
        }
        let port = try freePort()
        let server = ThrowawayPostgres(serverURL: "postgres://baton@127.0.0.1:\(port)/postgres?sslmode=disable",
                                       directory: directory, binaries: binaries, asOwner: asOwner)
        try await server.run(binaries + "/initdb", ["-D", directory + "/data", "-U", "baton", "--auth=trust", "-E", "UTF8", "--no-sync"])
        try await server.run(binaries + "/pg_ctl", [
            "-D", directory + "/data", "-l", directory + "/server.log", "-w", "-t", "60",
            "-o", "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c synchronous_commit=off -c max_connections=200",
            "start",
        ])
        return server
    }

    /// Creates an empty database and returns its URL.
    public func createDatabase() async throws -> PostgresURL {
        let name = "bench_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        let server = try PostgresURL(serverURL)
        let client = PostgresClient(configuration: server.clientConfiguration, backgroundLogger: Floor.quiet)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await client.run() }
            try await client.query("CREATE DATABASE \(unescaped: name)")
            group.cancelAll()
        }
        return server.replacingDatabase(with: name)
    }

    public func stop() async {
        _ = try? await run(binaries + "/pg_ctl", ["-D", directory + "/data", "-m", "fast", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func run(_ executable: String, _ arguments: [String]) async throws {
        let command = asOwner + [executable] + arguments
        let result = try await Subprocess.run(.path(FilePath(command[0])), arguments: Arguments(Array(command.dropFirst())),
                                              output: .string(limit: 1 << 16), error: .string(limit: 1 << 16))
        guard case .exited(0) = result.terminationStatus else {
            throw BenchmarkFailure("\(executable) failed: \(result.standardError)")
        }
    }

    private static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        guard bound else { throw BenchmarkFailure("no free port on 127.0.0.1") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// A benchmark that cannot go on, and why.
public struct BenchmarkFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
