import Foundation

/// What a producer asks for: "run this entry point with this input, at this priority".
///
/// A spec is checked with ``validate(limits:)`` before it is stored; ``PlanStore`` does that on
/// every enqueue. Field names in errors are the API's snake_case names.
public struct PlanSpec: Sendable, Hashable {
    /// Human label; defaults to the entry point's ``EntryPoint/defaultName``.
    public var name: String?
    public var entryPoint: EntryPoint
    /// Extra command-line arguments after the entry point.
    public var args: [String]
    /// Written to the child's stdin, exactly as given.
    public var input: JSONText
    /// 0 (most urgent) to 9 (least); lower runs first.
    public var priority: Int
    /// `nil` takes the server's default timeout.
    public var timeoutSeconds: Int?
    /// How many counted runs a failing plan gets (1 = no retry).
    public var maxAttempts: Int
    /// Extra environment for the child. Never shown back or logged.
    public var env: [String: String]
    /// Free tags for filtering (branch, commit, ci_job, suite).
    public var labels: [String: String]
    /// A second enqueue with the same key returns the first plan instead of a new one.
    public var idempotencyKey: String?
    /// Not before this time; a time in the future makes the plan `scheduled`.
    public var runAfter: Date?
    /// Who asked: a token's name, `cli` or `api`.
    public var triggeredBy: String
    /// Network, limits and packages: what the plan asks of its sandbox.
    public var runtime: PlanRuntime

    public static let defaultPriority = 5

    public init(
        name: String? = nil,
        entryPoint: EntryPoint,
        args: [String] = [],
        input: JSONText = .emptyObject,
        priority: Int = PlanSpec.defaultPriority,
        timeoutSeconds: Int? = nil,
        maxAttempts: Int = 1,
        env: [String: String] = [:],
        labels: [String: String] = [:],
        idempotencyKey: String? = nil,
        runAfter: Date? = nil,
        triggeredBy: String = "api",
        runtime: PlanRuntime = PlanRuntime()
    ) {
        self.name = name
        self.entryPoint = entryPoint
        self.args = args
        self.input = input
        self.priority = priority
        self.timeoutSeconds = timeoutSeconds
        self.maxAttempts = maxAttempts
        self.env = env
        self.labels = labels
        self.idempotencyKey = idempotencyKey
        self.runAfter = runAfter
        self.triggeredBy = triggeredBy
        self.runtime = runtime
    }
}

/// Server-wide bounds a spec is checked against.
public struct PlanLimits: Sendable, Hashable {
    /// Used when a spec gives no timeout (`--default-timeout`).
    public var defaultTimeoutSeconds: Int
    /// The longest timeout a spec may ask for (`--max-timeout`).
    public var maxTimeoutSeconds: Int

    public init(defaultTimeoutSeconds: Int = 60, maxTimeoutSeconds: Int = 3600) {
        self.defaultTimeoutSeconds = defaultTimeoutSeconds
        self.maxTimeoutSeconds = maxTimeoutSeconds
    }
}
