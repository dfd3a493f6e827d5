import ArgumentParser
import BatonClient
import BatonCore
import Foundation
import UnixSignals

/// Waits for a plan to end, as `enqueue --wait` and `--follow` do, and gives the exit code its
/// outcome maps to (design §7).
///
/// Following streams the plan's output: stdout to stdout, stderr to stderr (both to stderr with
/// `--json`, which keeps stdout for the final plan), resuming where it stopped if the stream is
/// cut. Otherwise the plan is long-polled, with a progress line on a terminal while it waits.
///
/// A server that restarts or drops the connection while the plan waits is retried for up to
/// ``serverOutage``: a deploy must not fail every waiting CI job. Ctrl-C or SIGTERM (how CI
/// systems cancel a job) stops the wait and leaves the plan running; with `cancelOnInterrupt` the
/// first one cancels the plan and waits for it to stop, and a second one stops waiting.
struct PlanWaiter {
    let client: BatonClient
    let planID: Int64
    let follow: Bool
    let json: Bool
    let cancelOnInterrupt: Bool
    /// How long the server may stay unreachable before the wait gives up (exit 5).
    var serverOutage: Duration = .seconds(300)

    /// A progress line is drawn only on a terminal, and only when nothing else is printed.
    private var showsProgress: Bool { !follow && !json && Terminal.stderrIsTerminal }

    private enum Ending: Sendable {
        case ended(Reply<PlanResource>)
        case interrupted(UnixSignal)
    }

    /// Waits for the plan's end. `signals` are SIGINT and SIGTERM, trapped by the caller before
    /// it tells the user the plan's id: from then on an interrupt is the wait's, never the
    /// default action's.
    func run(interruptedBy signals: UnixSignalsSequence) async throws -> Int32 {
        let ending = try await withThrowingTaskGroup(of: Ending.self) { group in
            group.addTask { .ended(try await waitForEnd()) }
            group.addTask { await interrupted(by: signals) }
            defer { group.cancelAll() }
            return try await group.next()!
        }
        if showsProgress { ProgressLine.clear() }
        switch ending {
        case .ended(let reply):
            if json {
                Terminal.json(reply.body)
            } else {
                printNote(Formatting.summary(reply.value))
            }
            return CLIExit.forPlan(status: reply.value.status)
        case .interrupted(let signal):
            printNote("stopped waiting; plan \(planID) goes on on the server (`baton cancel \(planID)` stops it)")
            return signal == .sigterm ? CLIExit.terminated : CLIExit.interrupted
        }
    }

    /// Returns at the signal that ends the wait: the first, or with `cancelOnInterrupt` the
    /// second, the first having asked the server to cancel the plan (whose end then ends the wait).
    private func interrupted(by signals: UnixSignalsSequence) async -> Ending {
        var canceling = false
        for await signal in signals {
            guard cancelOnInterrupt, !canceling else { return .interrupted(signal) }
            canceling = true
            if showsProgress { ProgressLine.clear() }
            do {
                _ = try await client.cancel(planID)
                printNote("canceling plan \(planID); waiting for it to stop (Ctrl-C again to stop waiting)")
            } catch let error as BatonClientError where error.status == 409 {
                // It ended just now, before the cancel: the wait reports how.
            } catch {
                printError("could not cancel plan \(planID): \(error)")
                return .interrupted(signal)
            }
        }
        return .interrupted(.sigint)
    }

    private func waitForEnd() async throws -> Reply<PlanResource> {
        if follow {
            // Output first; after `end` the plan is terminal and the long poll answers at once.
            var lastStatus = ("", 0)
            do {
                try await PlanOutputFollower(client: client, planID: planID, outage: serverOutage).follow { event in
                    switch event {
                    case .output(let stream, let text):
                        Terminal.planOutput(text, stream: json ? "stderr" : stream)
                    case .status(let status, let attempt):
                        // The summary says how it ended; here only the moves on the way (a retry, a requeue).
                        if !json, (status, attempt) != lastStatus, !PlanResource.terminalStatuses.contains(status),
                           status != "running" || attempt > 1 {
                            printNote("plan \(planID) \(status)" + (attempt > 1 ? " (attempt \(attempt))" : ""))
                        }
                        lastStatus = (status, attempt)
                    case .result, .end:
                        break
                    }
                }
            } catch let error as BatonClientError where error.isTransient {
                printNote("gave up on the output stream of plan \(planID) (\(error)); waiting for the plan to end without it (`baton logs \(planID)` shows its output)")
            }
        }
        return try await longPoll()
    }

    private func longPoll() async throws -> Reply<PlanResource> {
        let started = ContinuousClock.now
        var progress = ProgressLine()
        var outageStarted: ContinuousClock.Instant?
        var backoff = Duration.seconds(1)
        while true {
            let asked = ContinuousClock.now
            do {
                let reply = try await client.plan(planID, wait: showsProgress ? 2 : 60)
                if outageStarted != nil { printNote("the server answers again") }
                outageStarted = nil
                backoff = .seconds(1)
                if reply.value.isTerminal { return reply }
                if showsProgress { await progress.show(plan: reply.value, client: client, since: started) }
                // A server with a short --max-wait answers at once: ask at most once a second.
                try await Task.sleep(until: asked + .seconds(1))
            } catch let error as BatonClientError where error.isTransient {
                let now = ContinuousClock.now
                if outageStarted == nil {
                    outageStarted = now
                    printNote("\(error); retrying for up to \(Formatting.duration(milliseconds: serverOutage.wholeMilliseconds))")
                }
                guard let outageStarted, now - outageStarted < serverOutage else { throw error }
                try await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(15))
            }
        }
    }
}
