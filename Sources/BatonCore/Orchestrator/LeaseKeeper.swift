import Foundation
import Logging

/// Keeps the leases of the plans running on one orchestrator: every `interval` it renews them
/// all in one write, and reports the runs the orchestrator must stop — those that lost their
/// plan (recovered, finished or canceled elsewhere) and those whose cancel was requested from
/// another process.
struct LeaseKeeper: Sendable {
    /// What the orchestrator does with a run it should no longer go on with.
    enum Verdict: Sendable {
        /// The run no longer holds its plan.
        case lost
        /// A cancel was asked for (by another process sharing the store).
        case canceled
    }

    let store: any PlanStore
    let lease: Duration
    let interval: Duration
    let clock: any Clock<Duration>
    let now: @Sendable () -> Date
    let logger: Logger

    /// Heartbeats until cancelled. `running` lists the runs to renew; `stop` is told each run to
    /// stop, and why.
    func run(running: @escaping @Sendable () async -> [AttemptRef],
             stop: @escaping @Sendable (AttemptRef, Verdict) async -> Void) async {
        while !Task.isCancelled {
            do {
                try await clock.sleep(for: interval)
            } catch {
                return
            }
            await beat(running: await running(), stop: stop)
        }
    }

    private func beat(running attempts: [AttemptRef], stop: @Sendable (AttemptRef, Verdict) async -> Void) async {
        guard !attempts.isEmpty else { return }
        let held: Set<AttemptRef>
        do {
            held = try await store.renewLeases(attempts, leaseDuration: lease, now: now())
        } catch {
            logger.error("heartbeat failed; running plans keep going, but are recovered elsewhere if this lasts past their lease",
                         metadata: ["plans": "\(attempts.count)", "lease": "\(lease)", "error": "\(error)"])
            return
        }
        for lost in attempts where !held.contains(lost) {
            await stop(lost, .lost)
        }
        for attempt in attempts where held.contains(attempt) {
            if let plan = try? await store.plan(attempt.planID), plan.cancelRequested {
                await stop(attempt, .canceled)
            }
        }
    }
}
