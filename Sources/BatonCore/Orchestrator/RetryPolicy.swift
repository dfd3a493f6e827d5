/// When a failed or timed-out run is tried again: exponential backoff with a little jitter, for
/// plans with attempts left.
public struct RetryPolicy: Sendable, Hashable {
    /// Delay before the first retry; it doubles for each further one, up to `maxDelay`.
    public var baseDelay: Duration = .seconds(1)
    public var maxDelay: Duration = .seconds(300)

    public init(baseDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(300)) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// The backoff before retrying a run of `plan` that ended with `outcome`, or `nil` when it is
    /// not retried: it succeeded or was canceled, has no attempts left, has a cancel pending, or
    /// cannot succeed on a retry (its script does not exist).
    public func delay(for plan: Plan, outcome: PlanOutcome) -> Duration? {
        guard outcome.status == .failed || outcome.status == .timedOut, plan.hasAttemptsLeft,
              outcome.error?.kind != .scriptNotFound, !plan.cancelRequested
        else { return nil }
        let doublings = min(max(plan.countedAttempts - 1, 0), 20)
        let delay = min(baseDelay * (1 << doublings), maxDelay)
        return delay * Double.random(in: 0.9...1.1)
    }
}
