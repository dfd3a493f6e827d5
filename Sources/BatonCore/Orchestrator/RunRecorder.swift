import Foundation
import Logging

/// Records how a run ended: its final output and steps, then its outcome — finished, retried
/// with backoff, or handed back — through the ``PlanQueue``, so its notices follow.
///
/// A busy or briefly unreachable database must not cost a run its outcome: each write is tried
/// again with backoff for up to `writeDeadline` (half a lease, so the lease — kept by heartbeats
/// while this goes on — never runs out first).
struct RunRecorder: Sendable {
    /// What became of the plan.
    enum Recorded: Sendable {
        case finished(Plan)
        /// Back in the queue (or scheduled) for another attempt after `delay`.
        case retried(Plan, delay: Duration)
        case handedBack(Plan)

        var plan: Plan {
            switch self {
            case .finished(let plan), .retried(let plan, _), .handedBack(let plan): plan
            }
        }
    }

    let queue: PlanQueue
    let retryPolicy: RetryPolicy
    let writeDeadline: Duration
    let now: @Sendable () -> Date

    /// Records the end of `attempt` of `plan`. `handBackReason` is set when the orchestrator
    /// stopped the run itself (a restart, a shutdown): it goes back to the queue uncounted.
    /// Returns `nil` when the outcome could not be recorded (the log says why).
    func record(_ report: RunReport, of plan: Plan, attempt: AttemptRef, handBackReason: String?, log: Logger) async -> Recorded? {
        let store = queue.store
        // A run's outcome matters more than its stored output: failing here never stops the
        // outcome from being recorded.
        do {
            try await withRetries(log: log) {
                // A stream that carried nothing has nothing stored to replace.
                if report.stdout.totalBytes > 0 { try await store.saveOutput(report.stdout.bytes, stream: .stdout, for: attempt) }
                if report.stderr.totalBytes > 0 { try await store.saveOutput(report.stderr.bytes, stream: .stderr, for: attempt) }
                if !report.steps.isEmpty { try await store.saveSteps(report.steps, for: attempt) }
            }
        } catch {
            log.warning("cannot save the run's final output or steps", metadata: ["error": "\(error)"])
        }

        let retryDelay = handBackReason == nil ? retryPolicy.delay(for: plan, outcome: report.outcome) : nil
        let now = now()
        do {
            return try await withRetries(log: log) { [queue] in
                if let handBackReason {
                    return .handedBack(try await queue.requeue(attempt, .handBack(reason: handBackReason), now: now))
                } else if let retryDelay {
                    let runAt = now.addingTimeInterval(retryDelay.timeInterval)
                    return .retried(try await queue.requeue(attempt, .retry(failedRun: report.outcome, runAt: runAt), now: now), delay: retryDelay)
                } else {
                    return .finished(try await queue.finish(attempt, outcome: report.outcome, now: now))
                }
            }
        } catch let error as PlanStoreError where error.code == .attemptNotHeld || error.code == .planNotFound {
            log.warning("a run ended after its plan was taken back (recovered elsewhere, or pruned); its outcome is not recorded",
                        metadata: ["error": "\(error)"])
        } catch {
            log.error("cannot record the end of a run; the plan stays running until its lease expires, then is requeued and runs again",
                      metadata: ["error": "\(error)"])
        }
        return nil
    }

    /// Runs a store write again after a failure other than "not held" or "not found", with
    /// backoff, until `writeDeadline` has passed.
    private func withRetries<T>(log: Logger, _ write: () async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + writeDeadline
        var delay = Duration.milliseconds(100)
        while true {
            do {
                return try await write()
            } catch let error as PlanStoreError where error.code == .attemptNotHeld || error.code == .planNotFound {
                throw error
            } catch {
                guard ContinuousClock.now + delay < deadline else { throw error }
                log.warning("recording a run's end failed; trying again", metadata: ["error": "\(error)", "retry.in": "\(delay)"])
                await sleepEvenIfCancelled(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }
}
