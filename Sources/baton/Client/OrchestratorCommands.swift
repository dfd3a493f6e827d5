import ArgumentParser
import BatonClient
import Foundation

/// `baton status`: the orchestrator's state, workers and queue.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the serving node's orchestrator: state, workers and the queue.",
        discussion: "`baton nodes` lists every node sharing the queue."
    )

    @Flag(help: "Print the server's answer as JSON.")
    var json = false
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await connection.run { client in
            let reply = try await client.orchestrator()
            if json { return Terminal.json(reply.body) }
            OrchestratorText.describe(reply.value)
        }
    }
}

/// `--node`: which nodes a control command reaches.
struct NodeOption: ParsableArguments {
    @Option(help: ArgumentHelp("A node's name (see `baton nodes`), or '*' for every live node.", valueName: "name"))
    var node: String?
}

/// `baton poll`: poll the queue now instead of at the next tick.
struct Poll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Poll the queue now (needs a producer token).",
        discussion: "Every live node polls unless --node names one."
    )

    @OptionGroup var target: NodeOption
    @Flag(help: "Print the server's answer as JSON.")
    var json = false
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await connection.run { client in
            let reply = try await client.poll(node: target.node)
            if json { return Terminal.json(reply.body) }
            let report = reply.value
            print("polled at \(report.polledAt): claimed \(OrchestratorText.plans(report.claimed, none: "no plans"))")
            try OrchestratorText.answers(report.nodes) { answer in
                answer.state == "paused" ? "paused: claims nothing" : "claimed \(OrchestratorText.plans(answer.claimed ?? [], none: "nothing"))"
            }
            print("queue: " + OrchestratorText.queue(report.queue))
        }
    }
}

/// `baton pause`: stop claiming plans; running plans go on.
struct Pause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop claiming plans; running plans go on (needs an admin token).",
        discussion: "Every live node pauses unless --node names one."
    )

    @OptionGroup var target: NodeOption
    @Flag(help: "Print the server's answer as JSON.")
    var json = false
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await connection.run { client in
            let reply = try await client.pause(node: target.node)
            if json { return Terminal.json(reply.body) }
            try OrchestratorText.answers(reply.value.nodes) { $0.state ?? "-" }
            print("`baton resume` starts claiming again")
        }
    }
}

/// `baton resume`: claim plans again after a pause.
struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Claim plans again after a pause (needs an admin token).",
        discussion: "Every live node resumes unless --node names one."
    )

    @OptionGroup var target: NodeOption
    @Flag(help: "Print the server's answer as JSON.")
    var json = false
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await connection.run { client in
            let reply = try await client.resume(node: target.node)
            if json { return Terminal.json(reply.body) }
            try OrchestratorText.answers(reply.value.nodes) { $0.state ?? "-" }
        }
    }
}

/// `baton restart`: a new generation of the orchestrator's loop, pool and interpreter check.
struct Restart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restart the orchestrator of a node (needs an admin token).",
        discussion: """
            Restarts the node the command reaches, or the one --node names ('*' for every live \
            node, one after another's answer). Graceful (the default) stops claiming, lets running \
            plans finish for up to --drain-timeout seconds, then requeues what still runs. \
            --immediate stops and requeues running plans at once. Either way the loop, the worker \
            pool and the interpreter check start afresh; the command answers once the new \
            generation runs. The HTTP server and the queue are not touched.
            """
    )

    @OptionGroup var target: NodeOption
    @Flag(help: "Stop running plans at once and requeue them.")
    var immediate = false
    @Option(help: ArgumentHelp("Seconds running plans get to finish (0 to 3600). [default: 30]", valueName: "seconds"))
    var drainTimeout = 30
    @Flag(help: "Print the server's answer as JSON.")
    var json = false
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard (0...3600).contains(drainTimeout) else { throw ValidationError("--drain-timeout must be from 0 to 3600; got \(drainTimeout)") }
    }

    func run() async throws {
        try await connection.run { client in
            let reply = try await client.restart(immediate: immediate, drainTimeoutSeconds: drainTimeout, node: target.node)
            if json { return Terminal.json(reply.body) }
            try OrchestratorText.answers(reply.value.nodes) { answer in
                var text = "restarted: generation \(answer.generation.map(String.init) ?? "?")"
                if let drained = answer.drained, !drained.isEmpty { text += "; finished while draining: " + OrchestratorText.plans(drained, none: "") }
                if let requeued = answer.requeued, !requeued.isEmpty { text += "; requeued: " + OrchestratorText.plans(requeued, none: "") }
                return text
            }
            if let python = reply.value.python { print("python \(python.version) at \(python.path)") }
        }
    }
}

/// Human text for the orchestrator's answers.
enum OrchestratorText {
    static let queueOrder = ["scheduled", "queued", "running", "succeeded", "failed", "timed_out", "canceled"]

    static func queue(_ counts: [String: Int]) -> String {
        queueOrder.map { "\($0) \(counts[$0] ?? 0)" }.joined(separator: ", ")
    }

    static func plans(_ ids: [Int64], none: String) -> String {
        ids.isEmpty ? none : "plans " + ids.map(String.init).joined(separator: ", ")
    }

    /// One line per node: what it did, or why it did not. A node that failed or did not answer
    /// makes the command exit 5 once every line is printed.
    static func answers(_ answers: [NodeAnswer]?, describe: (NodeAnswer) -> String) throws {
        let answers = answers ?? []
        print(Formatting.fields(answers.map { answer in ("node \(answer.node)", answer.error.map { "failed: \($0)" } ?? describe(answer)) }))
        if answers.contains(where: { $0.error != nil }) { throw ExitCode(CLIExit.serverError) }
    }

    static func describe(_ state: OrchestratorState) {
        var lines: [(String, String)] = []
        if let node = state.node { lines.append(("node", node)) }
        lines += [
            ("state", "\(state.state) (generation \(state.generation))"),
            ("workers", "\(state.workers.busy) of \(state.workers.total) busy"
                + (state.workers.running.isEmpty ? "" : ": plans " + state.workers.running.map(String.init).joined(separator: ", "))),
            ("queue", queue(state.queue)),
        ]
        if let python = state.python { lines.append(("python", "\(python.version) at \(python.path)")) }
        if let last = state.lastPollAt { lines.append(("last poll", last)) }
        if let next = state.nextPollAt { lines.append(("next poll", next)) }
        if let error = state.lastError { lines.append(("last error", error)) }
        print(Formatting.fields(lines))
    }
}
