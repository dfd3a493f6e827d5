import Foundation

/// One step a script reported in its result block (name, status, timing, input, output, error).
public struct PlanStep: Sendable, Hashable {
    public var name: String
    /// As the script reported it: `success`, `error`, `skipped`, ...
    public var status: String
    public var startedAt: Date?
    public var finishedAt: Date?
    public var durationMs: Int64?
    public var input: JSONText?
    public var output: JSONText?
    public var error: String?

    public init(
        name: String,
        status: String,
        startedAt: Date? = nil,
        finishedAt: Date? = nil,
        durationMs: Int64? = nil,
        input: JSONText? = nil,
        output: JSONText? = nil,
        error: String? = nil
    ) {
        self.name = name
        self.status = status
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.durationMs = durationMs
        self.input = input
        self.output = output
        self.error = error
    }
}
