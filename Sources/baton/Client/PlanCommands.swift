import ArgumentParser
import BatonClient
import Foundation

/// `baton list`: plans, newest first, with the API's filters.
struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List plans, newest first.")

    @Option(help: ArgumentHelp("Only plans in these statuses (comma-separated: queued,running,...).", valueName: "status"))
    var status: String?
    @Option(name: .customLong("label"), help: ArgumentHelp("Only plans with this label (repeatable; all must match).", valueName: "KEY=VALUE"))
    var labels: [String] = []
    @Option(name: .customLong("name"), help: ArgumentHelp("Only plans whose name contains this.", valueName: "text"))
    var nameContains: String?
    @Option(help: "How many plans (1 to 1000). [default: 50]")
    var limit: Int?
    @Option(help: ArgumentHelp("Continue from an earlier page's next cursor.", valueName: "cursor"))
    var cursor: Int64?
    @Flag(help: "Print the server's answer as JSON.")
    var json = false
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        if let limit, !(1...1000).contains(limit) { throw ValidationError("--limit must be from 1 to 1000; got \(limit)") }
    }

    func run() async throws {
        let labels = try Enqueue.pairs(labels, option: "--label")
        let statuses = status.map { $0.split(separator: ",").map(String.init) } ?? []
        try await connection.run { client in
            let reply = try await client.plans(status: statuses, labels: labels, nameContains: nameContains, limit: limit, cursor: cursor)
            if json { return Terminal.json(reply.body) }
            let page = reply.value
            guard !page.plans.isEmpty else { return print("no plans") }
            let rows = page.plans.map { plan in
                [String(plan.id), plan.status, String(plan.priority), plan.durationMs.map { Formatting.duration(milliseconds: $0) } ?? "-",
                 plan.enqueuedAt, plan.name]
            }
            print(Formatting.table([["ID", "STATUS", "PRI", "TOOK", "ENQUEUED", "NAME"]] + rows))
            if let next = page.nextCursor { print("more: baton list --cursor \(next)") }
        }
    }
}

/// `baton show`: one plan.
struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one plan.")

    @Argument(help: "The plan's id.")
    var id: Int64
    @Flag(help: "Print the plan as JSON.")
    var json = false
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await connection.run { client in
            let reply = try await client.plan(id)
            if json { return Terminal.json(reply.body) }
            let plan = reply.value
            var lines = [
                ("plan", "\(plan.id) \(plan.name)"),
                ("status", plan.status + (plan.attempt > 0 ? " (attempt \(plan.attempt) of \(plan.maxAttempts))" : "")),
                ("runs", plan.entryPoint),
                ("priority", String(plan.priority)),
                ("timeout", "\(plan.timeoutSeconds)s"),
                ("enqueued", "\(plan.enqueuedAt) by \(plan.triggeredBy)"),
            ]
            if let started = plan.startedAt { lines.append(("started", started)) }
            if let finished = plan.finishedAt { lines.append(("finished", finished)) }
            if let duration = plan.durationMs { lines.append(("took", Formatting.duration(milliseconds: duration))) }
            if let code = plan.exitCode { lines.append(("exit code", String(code))) }
            if let signal = plan.signal { lines.append(("signal", String(signal))) }
            if let error = plan.error { lines.append(("error", "\(error.kind): \(error.message)")) }
            if !plan.labels.isEmpty {
                lines.append(("labels", plan.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")))
            }
            print(Formatting.fields(lines))
        }
    }
}

/// `baton logs`: a plan's captured output; `--follow` streams it live until the plan ends.
struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a plan's output.",
        discussion: "The script's stdout goes to stdout and its stderr to stderr, so they can be redirected apart."
    )

    @Argument(help: "The plan's id.")
    var id: Int64
    @Flag(name: .shortAndLong, help: "Keep printing output as the plan runs, until it ends; reconnects where it stopped if the server restarts.")
    var follow = false
    @Option(help: ArgumentHelp("Only this stream: stdout or stderr.", valueName: "stream"))
    var stream: String?
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        if let stream, !["stdout", "stderr"].contains(stream) { throw ValidationError("--stream must be stdout or stderr; got \(stream)") }
    }

    func run() async throws {
        try await connection.run { client in
            guard follow else {
                for name in stream.map({ [$0] }) ?? ["stdout", "stderr"] {
                    let text = try await client.output(of: id, stream: name)
                    Terminal.planOutput(text, stream: name)
                }
                return
            }
            try await PlanOutputFollower(client: client, planID: id).follow { event in
                if case .output(let name, let text) = event, stream == nil || stream == name {
                    Terminal.planOutput(text, stream: name)
                }
            }
        }
    }
}

/// `baton cancel`: cancel a plan that has not ended.
struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cancel a plan.",
        discussion: "A queued plan never runs; a running one is stopped (its whole process group). A plan that already ended is left as it is (exit 5)."
    )

    @Argument(help: "The plan's id.")
    var id: Int64
    @Flag(help: "Print the plan as JSON.")
    var json = false
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await connection.run { client in
            var reply = try await client.cancel(id)
            // A running plan ends once its process group is stopped (at most the grace period).
            if !reply.value.isTerminal { reply = try await client.plan(id, wait: 30) }
            if json { return Terminal.json(reply.body) }
            print(Formatting.summary(reply.value))
        }
    }
}
