import ArgumentParser
import BatonClient
import Foundation

/// Where the server is and which token to show it, shared by every client command.
///
/// Each comes from its flag, else its environment variable, else this machine: the default
/// address, and the admin token `baton serve` wrote into its data directory.
struct ConnectionOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The Baton server. [env: BATON_SERVER] [default: http://127.0.0.1:8080]", valueName: "url"))
    var server: String?
    @Option(help: ArgumentHelp("API token. [env: BATON_TOKEN] [default: the admin token in --data-dir]", valueName: "token"))
    var token: String?
    @Option(help: ArgumentHelp("Data directory of a server on this machine, whose admin token to use. [env: BATON_DATA_DIR] [default: ./.baton]", valueName: "dir"))
    var dataDir: String?

    static let defaultServer = "http://127.0.0.1:8080"

    func validate() throws {
        _ = try serverURL(environment: ProcessInfo.processInfo.environment)
    }

    func serverURL(environment: [String: String]) throws -> URL {
        let text = server ?? environment["BATON_SERVER"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultServer
        guard let url = URL(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw ValidationError("--server must be an http:// or https:// address like \(Self.defaultServer); got \(text)")
        }
        return url
    }

    /// The token: `--token`, `BATON_TOKEN`, or — for a server on this machine only — the admin
    /// token in its data directory, which is never sent anywhere else.
    func resolvedToken(server: URL, environment: [String: String]) -> String? {
        if let token { return token }
        if let token = environment["BATON_TOKEN"], !token.isEmpty { return token }
        guard Self.isLoopback(server) else { return nil }
        let directory = DataDirectory.resolve(dataDir, environment: environment)
        guard let text = try? String(contentsOfFile: directory + "/admin.token", encoding: .utf8) else { return nil }
        let secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return secret.isEmpty ? nil : secret
    }

    /// `localhost`, `::1`, or a numeric IPv4 address in 127.0.0.0/8 (not a name like
    /// `127.example.com`).
    static func isLoopback(_ url: URL) -> Bool {
        guard let host = url.host?.lowercased() else { return false }
        if host == "localhost" || host == "::1" || host == "[::1]" { return true }
        var address = in_addr()
        return inet_pton(AF_INET, host, &address) == 1 && UInt32(bigEndian: address.s_addr) >> 24 == 127
    }

    /// A client for these options.
    func client() throws -> BatonClient {
        let environment = ProcessInfo.processInfo.environment
        let server = try serverURL(environment: environment)
        return BatonClient(server: server, token: resolvedToken(server: server, environment: environment))
    }

    /// Runs `body` with a client; a failed call prints what went wrong and exits with
    /// `CLIExit.serverError` (design §7).
    func run<T>(_ body: (BatonClient) async throws -> T) async throws -> T {
        let client = try client()
        do {
            return try await body(client)
        } catch let error as BatonClientError {
            printError(error.description)
            throw ExitCode(CLIExit.serverError)
        }
    }
}

/// The data directory of a server on this machine: the flag, else `BATON_DATA_DIR`, else `./.baton`.
enum DataDirectory {
    static func resolve(_ flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        flag ?? environment["BATON_DATA_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? ".baton"
    }
}
