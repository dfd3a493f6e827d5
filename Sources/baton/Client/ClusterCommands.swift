import ArgumentParser
import BatonClient
import Foundation

/// `baton nodes`: every node sharing the queue.
struct Nodes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the nodes sharing the queue: state, leader, workers, last heartbeat.",
        discussion: """
            A node that has not been seen for one lease is `lost`; one shut down cleanly is \
            `stopped`. The leader (*) runs lease recovery, scheduling and pruning for all.
            """
    )

    @Flag(help: "Print the server's answer as JSON.")
    var json = false
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await connection.run { client in
            let reply = try await client.nodes()
            if json { return Terminal.json(reply.body) }
            let rows = reply.value.nodes.map { node in
                [node.name + (node.leader ? " *" : ""), node.state, "\(node.workers.busy)/\(node.workers.total)",
                 String(node.generation), node.version, node.lastSeenAt]
            }
            print(Formatting.table([["NODE", "STATE", "BUSY", "GENERATION", "VERSION", "LAST SEEN"]] + rows))
        }
    }
}

/// `baton audit`: the audit log.
struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the audit log, newest first (needs an admin token).",
        discussion: "Control commands, token changes and prunes: who, when, on what, and how it went."
    )

    @Option(help: ArgumentHelp("Entries to show (1 to 500).", valueName: "n"))
    var limit = 50
    @Option(help: ArgumentHelp("Start below this entry id (the next_cursor of --json).", valueName: "id"))
    var cursor: Int64?
    @Flag(help: "Print the server's answer as JSON.")
    var json = false
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard (1...500).contains(limit) else { throw ValidationError("--limit must be from 1 to 500; got \(limit)") }
    }

    func run() async throws {
        try await connection.run { client in
            let reply = try await client.audit(limit: limit, cursor: cursor)
            if json { return Terminal.json(reply.body) }
            let rows = reply.value.entries.map { [$0.at, $0.actor, $0.action, $0.target, $0.outcome] }
            print(Formatting.table([["AT", "BY", "ACTION", "TARGET", "OUTCOME"]] + rows))
            if let next = reply.value.nextCursor { printNote("older entries: baton audit --cursor \(next)") }
        }
    }
}

/// `baton prune`: delete plans that ended long ago, with their output, steps and events.
struct Prune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete plans that ended before a given age, with their output and events (needs an admin token).",
        discussion: """
            Asks the server, whatever its store; safe while it runs. Plans that have not ended are \
            never touched, and the prune is recorded in the audit log. For pruning on a schedule, \
            start the server with --retention. Example: baton prune --older-than 7d
            """
    )

    @Option(help: ArgumentHelp("Age of the plans to delete: 7d, 12h, 30m or seconds.", valueName: "age"))
    var olderThan: String
    @Flag(help: "Print the server's answer as JSON.")
    var json = false
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard DurationText(olderThan) != nil else { throw ValidationError("--older-than takes an age like 7d, 12h or 30m; got \(olderThan)") }
    }

    func run() async throws {
        let age = Int(DurationText(olderThan)!.seconds.rounded(.up))
        try await connection.run { client in
            let reply = try await client.prune(olderThanSeconds: age)
            if json { return Terminal.json(reply.body) }
            let count = reply.value.deleted
            print("deleted \(count) plan\(count == 1 ? "" : "s") that ended before \(reply.value.cutoff)")
        }
    }
}
