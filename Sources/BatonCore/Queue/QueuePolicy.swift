/// The queue's policies: the same for every store, set from the server's settings.
public struct QueuePolicy: Sendable, Hashable {
    /// Default and maximum timeouts applied to specs.
    public var limits = PlanLimits()
    /// Output kept per stream per run; the rest is counted and dropped.
    public var maxOutputBytes = 1 << 20
    /// Times a plan is returned to the queue after its orchestrator vanished before it fails as
    /// `orphaned` (`--orphan-cap`).
    public var maxRecoveries = 3
    /// The most plans one batch may carry.
    public var maxBatchSize = 1000

    public init() {}
}
