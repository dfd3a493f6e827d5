import ArgumentParser
import BatonClient
import Foundation

/// `baton status`: the orchestrator's state, workers and queue.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the orchestrator's state, workers and queue.")

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

/// `baton poll`: poll the queue now instead of at the next tick.
struct Poll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Poll the queue now (needs a producer token).")

    @Flag(help: "Print the server's answer as JSON.")
    var json = false
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await connection.run { client in
            let reply = try await client.poll()
            if json { return Terminal.json(reply.body) }
            let report = reply.value
            let claimed = report.claimed.isEmpty ? "no plans" : "plans " + report.claimed.map(String.init).joined(separator: ", ")
            print("polled at \(report.polledAt): claimed \(claimed)" + (report.state == "paused" ? " (paused: nothing is claimed)" : ""))
            print("queue: " + OrchestratorText.queue(report.queue))
        }
    }
}

/// `baton pause`: stop claiming plans; running plans go on.
struct Pause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop claiming plans; running plans go on (needs an admin token).")

    @Flag(help: "Print the server's answer as JSON.")
    var json = false
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await connection.run { client in
            let reply = try await client.pause()
            if json { return Terminal.json(reply.body) }
            print("orchestrator \(reply.value.state); `baton resume` starts claiming again")
        }
    }
}

/// `baton resume`: claim plans again after a pause.
struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Claim plans again after a pause (needs an admin token).")

    @Flag(help: "Print the server's answer as JSON.")
    var json = false
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await connection.run { client in
            let reply = try await client.resume()
            if json { return Terminal.json(reply.body) }
            print("orchestrator \(reply.value.state)")
        }
    }
}

/// `baton restart`: a new generation of the orchestrator's loop, pool and interpreter check.
struct Restart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restart the orchestrator (needs an admin token).",
        discussion: """
            Graceful (the default) stops claiming, lets running plans finish for up to \
            --drain-timeout seconds, then requeues what still runs. --immediate stops and requeues \
            running plans at once. Either way the loop, the worker pool and the interpreter check \
            start afresh; the command answers once the new generation runs. The HTTP server and \
            the queue are not touched.
            """
    )

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
            let reply = try await client.restart(immediate: immediate, drainTimeoutSeconds: drainTimeout)
            if json { return Terminal.json(reply.body) }
            let report = reply.value
            print("orchestrator restarted: generation \(report.generation)"
                  + (report.python.map { ", Python \($0.version)" } ?? ""))
            if !report.drained.isEmpty { print("finished while draining: " + report.drained.map(String.init).joined(separator: ", ")) }
            if !report.requeued.isEmpty { print("requeued: " + report.requeued.map(String.init).joined(separator: ", ")) }
        }
    }
}

/// Human text for the orchestrator's answers.
enum OrchestratorText {
    static let queueOrder = ["scheduled", "queued", "running", "succeeded", "failed", "timed_out", "canceled"]

    static func queue(_ counts: [String: Int]) -> String {
        queueOrder.map { "\($0) \(counts[$0] ?? 0)" }.joined(separator: ", ")
    }

    static func describe(_ state: OrchestratorState) {
        var lines = [
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
