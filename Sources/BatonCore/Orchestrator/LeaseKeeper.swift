import Foundation
import Logging
import Synchronization

/// Keeps the leases of the plans running on one orchestrator: every `interval` it renews them
/// all in one write, and reports the runs the orchestrator must stop — those that lost their
/// plan (recovered, finished or canceled elsewhere), those whose cancel was requested from
/// another process, and those it can no longer vouch for.
///
/// **Self-fencing.** Another node recovers a plan once its lease has run out. The keeper knows
/// until when each lease is held — the claim's expiry, then `lease` after each renewal was sent —
/// and when renewals fail or hang it stops a run (SIGKILL, no grace) before that time, with a
/// safety margin (``FencingRule``). So a node cut off from the database never runs a plan while
/// another node runs it again.
struct LeaseKeeper: Sendable {
    /// What the orchestrator does with a run it should no longer go on with.
    enum Verdict: Sendable, Equatable {
        /// The run no longer holds its plan.
        case lost
        /// A cancel was asked for (by another process sharing the store).
        case canceled
        /// Its lease could not be renewed and is about to run out: stop it now, before another
        /// node may start the plan again.
        case fenced
    }

    let store: any PlanStore
    let lease: Duration
    let interval: Duration
    let clock: any Clock<Duration>
    let now: @Sendable () -> Date
    let logger: Logger

    var rule: FencingRule { FencingRule(lease: lease, interval: interval) }

    /// Heartbeats until cancelled. `running` gives the runs to renew, each with the end of the
    /// lease its claim took; `stop` is told each run to stop, and why.
    func run(running: @escaping @Sendable () async -> [AttemptRef: Date],
             stop: @escaping @Sendable (AttemptRef, Verdict) async -> Void) async {
        var heldUntil: [AttemptRef: Date] = [:]
        var renewal: Renewal?
        var fenced: Set<AttemptRef> = []
        while !Task.isCancelled {
            do {
                try await clock.sleep(for: interval)
            } catch {
                return
            }
            let attempts = await running()
            heldUntil = heldUntil.filter { attempts[$0.key] != nil }
            fenced.formIntersection(attempts.keys)
            for (attempt, claimedUntil) in attempts where heldUntil[attempt] == nil { heldUntil[attempt] = claimedUntil }
            guard !attempts.isEmpty else { continue }

            // One renewal at a time: one that hangs (a database cut off) is waited for only
            // briefly; its answer is used when it comes, and the next renewal goes out at once.
            if let pending = renewal, let answer = await pending.answer(within: .zero) {
                renewal = nil
                await use(answer, of: pending, heldUntil: &heldUntil, running: attempts, stop: stop)
            }
            if renewal == nil {
                let pending = Renewal(store: store, attempts: Array(attempts.keys), lease: lease, sentAt: now())
                if let answer = await pending.answer(within: rule.renewalTimeout) {
                    await use(answer, of: pending, heldUntil: &heldUntil, running: attempts, stop: stop)
                } else {
                    renewal = pending
                }
            }
            if renewal != nil {
                logger.error("lease renewal has not answered; running plans are stopped before their leases run out if this goes on",
                             metadata: ["plans": "\(attempts.count)", "lease": "\(lease)"])
            }

            let checkedAt = now()
            for (attempt, until) in heldUntil where !fenced.contains(attempt) && rule.mustFence(heldUntil: until, now: checkedAt) {
                fenced.insert(attempt)
                logger.critical("stopping a run whose lease cannot be renewed, before another node may start it again", metadata: [
                    "plan.id": "\(attempt.planID)", "plan.attempt": "\(attempt.attempt)", "lease.held_until": "\(until.formatted(.iso8601))",
                ])
                await stop(attempt, .fenced)
            }
        }
    }
}

extension LeaseKeeper {
    /// Takes a renewal's answer: the leases held run `lease` from when it was sent; runs whose
    /// plan is no longer theirs, or whose cancel was asked for elsewhere, are stopped.
    private func use(_ answer: Result<Set<AttemptRef>, any Error>, of renewal: Renewal, heldUntil: inout [AttemptRef: Date],
                     running: [AttemptRef: Date], stop: @Sendable (AttemptRef, Verdict) async -> Void) async {
        switch answer {
        case .success(let held):
            let until = renewal.sentAt.addingTimeInterval(lease.timeInterval)
            for attempt in renewal.attempts where held.contains(attempt) && heldUntil[attempt] != nil {
                heldUntil[attempt] = max(heldUntil[attempt]!, until)
            }
            for lost in renewal.attempts where !held.contains(lost) && running[lost] != nil {
                await stop(lost, .lost)
            }
            for attempt in renewal.attempts where held.contains(attempt) {
                if let plan = try? await store.plan(attempt.planID), plan.cancelRequested {
                    await stop(attempt, .canceled)
                }
            }
        case .failure(let error):
            logger.error("lease renewal failed; running plans are stopped before their leases run out if this goes on",
                         metadata: ["plans": "\(renewal.attempts.count)", "lease": "\(lease)", "error": "\(error)"])
        }
    }
}

/// When a node stops a run it cannot renew (design §10). The keeper looks every `interval` and
/// waits up to ``renewalTimeout`` for a renewal, so between two looks up to
/// `interval + renewalTimeout` pass; a run is stopped at the last look that still leaves that
/// much, plus ``margin`` for the kill and for clocks that differ between nodes, before its
/// lease runs out.
struct FencingRule: Sendable, Hashable {
    let lease: Duration
    let interval: Duration

    /// How long a renewal is waited for before the keeper looks at the leases anyway.
    var renewalTimeout: Duration { interval / 2 }

    /// Kept in hand before the lease's end: a tenth of the lease, at least a second.
    var margin: Duration { max(.seconds(1), lease / 10) }

    /// Whether a run whose lease is held until `heldUntil` must be stopped at `now`.
    func mustFence(heldUntil: Date, now: Date) -> Bool {
        let left = heldUntil.timeIntervalSince(now)
        return left <= (interval + renewalTimeout + margin).timeInterval
    }
}

/// One lease renewal in flight, whose answer can be waited for with a limit.
final class Renewal: Sendable {
    let attempts: [AttemptRef]
    let sentAt: Date
    private let result = Mutex<Result<Set<AttemptRef>, any Error>?>(nil)

    init(store: any PlanStore, attempts: [AttemptRef], lease: Duration, sentAt: Date) {
        self.attempts = attempts
        self.sentAt = sentAt
        Task {
            let answer: Result<Set<AttemptRef>, any Error>
            do {
                answer = .success(try await store.renewLeases(attempts, leaseDuration: lease, now: sentAt))
            } catch {
                answer = .failure(error)
            }
            self.result.withLock { $0 = answer }
        }
    }

    /// The renewal's result, or `nil` if it has not come within `limit`; the renewal itself goes
    /// on either way. Looks every few milliseconds: a renewal usually answers in one or two.
    func answer(within limit: Duration) async -> Result<Set<AttemptRef>, any Error>? {
        let deadline = ContinuousClock.now + limit
        while true {
            if let answer = result.withLock({ $0 }) { return answer }
            guard ContinuousClock.now < deadline, !Task.isCancelled else { return nil }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }
}
