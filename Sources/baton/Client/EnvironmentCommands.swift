import ArgumentParser
import BatonClient
import Foundation

/// `baton envs`: the virtual environments Baton built for plans' requirements.
struct Envs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List and prune the environments built for plans' requirements (needs an admin token).",
        discussion: """
            A plan that names requirements runs in a virtual environment Baton builds once per set and \
            reuses. Each node keeps its own, in its data directory: these commands answer for the node \
            they reach.
            """,
        subcommands: [List.self, Prune.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List environments: their set, size, last use, and the plans that used them.")

        @Flag(help: "Print the server's answer as JSON.")
        var json = false
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            try await connection.run { client in
                let reply = try await client.environments()
                if json { return Terminal.json(reply.body) }
                let environments = reply.value.environments
                guard !environments.isEmpty else { return print("no environments") }
                let rows = environments.map { environment in
                    [environment.key, Envs.size(environment.sizeBytes), environment.lastUsedAt, "\(environment.plans)",
                     environment.inUse > 0 ? "\(environment.inUse)" : "-", environment.requirements.joined(separator: " ")]
                }
                print(Formatting.table([["KEY", "SIZE", "LAST USED", "PLANS", "IN USE", "REQUIREMENTS"]] + rows))
            }
        }
    }

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove environments no plan has used for a while.",
            discussion: "Environments in use are kept; a plan that needs a removed set later builds it again. Example: baton envs prune --unused 7d"
        )

        @Option(help: ArgumentHelp("Remove environments unused for this long: 7d, 12h, 30m or seconds.", valueName: "age"))
        var unused: String
        @Flag(help: "Print the server's answer as JSON.")
        var json = false
        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            guard DurationText(unused) != nil else { throw ValidationError("--unused takes an age like 7d, 12h or 30m; got \(unused)") }
        }

        func run() async throws {
            let age = Int(DurationText(unused)!.seconds.rounded(.up))
            try await connection.run { client in
                let reply = try await client.pruneEnvironments(unusedSeconds: age)
                if json { return Terminal.json(reply.body) }
                let count = reply.value.removed.count
                print("removed \(count) environment\(count == 1 ? "" : "s") unused since \(reply.value.cutoff), freeing \(Envs.size(reply.value.freedBytes))")
            }
        }
    }

    /// `12.3 MB`.
    static func size(_ bytes: Int64) -> String {
        ByteCountFormatter.string(fromByteCount: bytes, countStyle: .file)
    }
}
