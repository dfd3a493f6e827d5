import ArgumentParser
import BatonClient
import Foundation
import UnixSignals

/// Waits for a plan to end, as `enqueue --wait` and `--follow` do, and gives the exit code its
/// outcome maps to (design §7).
///
/// Following streams the plan's output: stdout to stdout, stderr to stderr (both to stderr with
/// `--json`, which keeps stdout for the final plan). Otherwise the plan is
/// long-polled, with a progress line on a terminal while it waits. Ctrl-C stops the wait and leaves
/// the plan running, or cancels it with `cancelOnInterrupt`.
struct PlanWaiter {
    let client: BatonClient
    let planID: Int64
    let follow: Bool
    let json: Bool
    let cancelOnInterrupt: Bool
    let progress = ProgressLine()

    /// A progress line is drawn only on a terminal, and only when nothing else is printed.
    private var showsProgress: Bool { !follow && !json && ProgressLine.isTerminal }

    func run() async throws -> Int32 {
        let ending: Ending
        do {
            ending = try await withThrowingTaskGroup(of: Ending.self) { group in
                group.addTask { .ended(try await waitForEnd()) }
                group.addTask {
                    for await _ in await UnixSignalsSequence(trapping: .sigint) { return .interrupted }
                    return .interrupted
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
        } catch {
            if showsProgress { progress.clear() }
            throw error
        }
        if showsProgress { progress.clear() }
        switch ending {
        case .ended(let reply):
            report(reply)
            return CLIExit.forPlan(status: reply.value.status)
        case .interrupted:
            guard cancelOnInterrupt else {
                printNote("stopped waiting; plan \(planID) goes on running on the server (`baton cancel \(planID)` stops it)")
                return CLIExit.interrupted
            }
            // A running plan ends once its process group is stopped: wait for that.
            var reply = try await client.cancel(planID)
            printNote("canceled plan \(planID)")
            if !reply.value.isTerminal { reply = try await longPoll() }
            report(reply)
            return CLIExit.forPlan(status: reply.value.status)
        }
    }

    private enum Ending: Sendable {
        case ended(Reply<PlanResource>)
        case interrupted
    }

    private func report(_ reply: Reply<PlanResource>) {
        if json {
            Formatting.printJSON(reply.body)
        } else {
            printNote(Formatting.summary(reply.value))
        }
    }

    private func waitForEnd() async throws -> Reply<PlanResource> {
        if follow {
            var lastStatus = ""
            for try await event in client.events(of: planID) {
                switch event {
                case .output(let stream, let text):
                    // With --json, stdout carries only the final plan: all output goes to stderr.
                    (stream == "stderr" || json ? FileHandle.standardError : FileHandle.standardOutput).write(Data(text.utf8))
                case .status(let status, let attempt):
                    // The summary says how it ended; here only the moves on the way (a retry, a requeue).
                    if !json, status != lastStatus, !PlanResource.terminalStatuses.contains(status), status != "running" || attempt > 1 {
                        printNote("plan \(planID) \(status)" + (attempt > 1 ? " (attempt \(attempt))" : ""))
                    }
                    lastStatus = status
                case .result, .end:
                    break
                }
            }
            // After `end` the plan is terminal; if the stream was cut short, long-poll the rest.
        }
        return try await longPoll()
    }

    private func longPoll() async throws -> Reply<PlanResource> {
        let started = ContinuousClock.now
        while true {
            let reply = try await client.plan(planID, wait: showsProgress ? 2 : 60)
            if reply.value.isTerminal { return reply }
            if showsProgress { await progress.show(plan: reply.value, client: client, since: started) }
        }
    }
}

/// The line that shows, on a terminal, where a waiting plan is; redrawn in place on stderr.
struct ProgressLine {
    static let isTerminal = isatty(STDERR_FILENO) == 1

    func show(plan: PlanResource, client: BatonClient, since start: ContinuousClock.Instant) async {
        var text = "plan \(plan.id) \(plan.status)"
        if plan.status == "queued" {
            // Claims go by priority, then age: the plans ahead are those before it in that order.
            if let page = try? await client.plans(status: ["queued"], limit: 1000).value {
                let ahead = page.plans.count { ($0.priority, $0.id) < (plan.priority, plan.id) }
                text += " · \(ahead)\(page.nextCursor == nil ? "" : "+") ahead in the queue"
            }
            if let state = try? await client.orchestrator().value {
                text += ", \(state.workers.busy)/\(state.workers.total) workers busy"
                if state.state != "running" { text += " · orchestrator \(state.state)" }
            }
        }
        let waited = ContinuousClock.now - start
        text += " · \(Formatting.duration(milliseconds: Int64(waited.components.seconds) * 1000))"
        printNote("\r\u{1B}[K" + text, terminator: "")
    }

    func clear() {
        printNote("\r\u{1B}[K", terminator: "")
    }
}
