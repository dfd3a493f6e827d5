import ArgumentParser
import BatonClient
import Foundation

/// `baton token`: API tokens (admin).
struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list and revoke API tokens (needs an admin token).",
        discussion: "Roles: viewer (read), producer (read, enqueue, cancel, poll), admin (everything).",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token; its secret is shown only now.")

        @Option(help: "viewer, producer or admin.")
        var role: String
        @Option(help: "Who or what uses it (e.g. ci-main); recorded on the plans it enqueues.")
        var name: String
        @Flag(help: "Print the server's answer as JSON.")
        var json = false
        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            guard ["viewer", "producer", "admin"].contains(role) else { throw ValidationError("--role must be viewer, producer or admin; got \(role)") }
        }

        func run() async throws {
            try await connection.run { client in
                let reply = try await client.createToken(name: name, role: role)
                if json { return Terminal.json(reply.body) }
                let token = reply.value
                print(token.token)
                printNote("created \(token.role) token \(token.id) (\(token.name)); the secret above is shown only this once")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never their secrets).")

        @Flag(help: "Print the server's answer as JSON.")
        var json = false
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            try await connection.run { client in
                let reply = try await client.tokens()
                if json { return Terminal.json(reply.body) }
                let rows = reply.value.tokens.map { token in
                    [String(token.id), token.name, token.role, token.createdAt, token.lastUsedAt ?? "-", token.revokedAt.map { "revoked \($0)" } ?? "active"]
                }
                print(Formatting.table([["ID", "NAME", "ROLE", "CREATED", "LAST USED", "STATE"]] + rows))
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token by id or name; it stops working at once.")

        @Argument(help: "The token's id or name.")
        var token: String
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            try await connection.run { client in
                let id: Int64
                if let number = Int64(token) {
                    id = number
                } else {
                    let matches = try await client.tokens().value.tokens.filter { $0.name == token && $0.revokedAt == nil }
                    guard matches.count == 1, let match = matches.first else {
                        printError(matches.isEmpty ? "no active token is named \(token) (see `baton token list`)"
                                                   : "\(matches.count) active tokens are named \(token); revoke one by id")
                        throw ExitCode(CLIExit.serverError)
                    }
                    id = match.id
                }
                try await client.revokeToken(id: id)
                print("revoked token \(id)")
            }
        }
    }
}
