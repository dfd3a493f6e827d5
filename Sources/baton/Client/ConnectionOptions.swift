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

    func resolvedToken(environment: [String: String]) -> String? {
        if let token { return token }
        if let token = environment["BATON_TOKEN"], !token.isEmpty { return token }
        let directory = dataDir ?? environment["BATON_DATA_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? ".baton"
        guard let text = try? String(contentsOfFile: directory + "/admin.token", encoding: .utf8) else { return nil }
        let secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return secret.isEmpty ? nil : secret
    }

    /// A client for these options.
    func client() throws -> BatonClient {
        let environment = ProcessInfo.processInfo.environment
        return BatonClient(server: try serverURL(environment: environment), token: resolvedToken(environment: environment))
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

/// The exit codes of client commands (design §7).
enum CLIExit {
    static let succeeded: Int32 = 0
    static let failed: Int32 = 1
    static let timedOut: Int32 = 3
    static let canceled: Int32 = 4
    /// The server could not be reached or answered an error.
    static let serverError: Int32 = 5
    /// Interrupted (Ctrl-C) while waiting, the plan left running: 128 + SIGINT, as shells report it.
    static let interrupted: Int32 = 130

    /// The exit code for a plan that ended in `status`.
    static func forPlan(status: String) -> Int32 {
        switch status {
        case "succeeded": succeeded
        case "timed_out": timedOut
        case "canceled": canceled
        default: failed
        }
    }
}

/// Writes a message to stderr, prefixed with `baton: `.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("baton: \(message)\n".utf8))
}

/// Writes to stderr without a prefix: progress and notes that are not the command's answer.
func printNote(_ message: String, terminator: String = "\n") {
    FileHandle.standardError.write(Data((message + terminator).utf8))
}
