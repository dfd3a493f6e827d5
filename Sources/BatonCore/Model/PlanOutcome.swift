/// How one run ended, as the orchestrator records it with ``PlanStore/finish(_:outcome:now:)``.
public struct PlanOutcome: Sendable, Hashable {
    /// A terminal status.
    public var status: PlanStatus
    public var exitCode: Int32?
    public var signal: Int32?
    public var durationMs: Int64?
    public var result: JSONText?
    public var error: PlanFailure?
    public var usage: PlanUsage?

    public init(
        status: PlanStatus,
        exitCode: Int32? = nil,
        signal: Int32? = nil,
        durationMs: Int64? = nil,
        result: JSONText? = nil,
        error: PlanFailure? = nil,
        usage: PlanUsage? = nil
    ) {
        self.status = status
        self.exitCode = exitCode
        self.signal = signal
        self.durationMs = durationMs
        self.result = result
        self.error = error
        self.usage = usage
    }
}
