import Foundation

/// A stored plan: its spec, where it is in its life, and how its last run went.
public struct Plan: Sendable, Hashable, Identifiable {
    /// Assigned by the store, increasing.
    public var id: Int64
    public var name: String
    public var entryPoint: EntryPoint
    public var args: [String]
    public var input: JSONText
    public var priority: Int
    public var timeoutSeconds: Int
    public var maxAttempts: Int
    /// Extra environment for the child. The API shows keys only.
    public var env: [String: String]
    public var labels: [String: String]
    public var idempotencyKey: String?
    public var runAfter: Date?
    public var status: PlanStatus
    /// The number of the current or last run: 0 before the first claim, then 1, 2, ...
    public var attempt: Int
    /// Runs that ended because an orchestrator stopped heartbeating (see ``PlanStore/recoverExpiredLeases(now:stopLostRun:)``).
    public var recoveries: Int
    /// Runs handed back unfinished by an orchestrator shutting down or restarting.
    public var handBacks: Int
    /// The orchestrator holding the plan while it runs.
    public var owner: String?
    public var leaseExpiresAt: Date?
    /// The process group of the running attempt, once the child has started.
    public var processGroup: Int32?
    /// Someone asked to cancel this running plan; its orchestrator stops it.
    public var cancelRequested: Bool
    public var enqueuedAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var durationMs: Int64?
    public var exitCode: Int32?
    public var signal: Int32?
    /// The whole object parsed from the last result block.
    public var result: JSONText?
    public var error: PlanFailure?
    public var triggeredBy: String
    /// What the plan's runs cost, added up over every attempt (a retried run's cost counts too).
    public var usage: PlanUsage?
    /// Network, limits and packages: what the plan asks of its sandbox.
    public var runtime: PlanRuntime

    /// A plan with every field given; stores build the plans they read this way.
    public init(
        id: Int64, name: String, entryPoint: EntryPoint, args: [String], input: JSONText, priority: Int,
        timeoutSeconds: Int, maxAttempts: Int, env: [String: String], labels: [String: String],
        idempotencyKey: String?, runAfter: Date?, status: PlanStatus, attempt: Int, recoveries: Int,
        handBacks: Int, owner: String?, leaseExpiresAt: Date?, processGroup: Int32?, cancelRequested: Bool,
        enqueuedAt: Date, startedAt: Date?, finishedAt: Date?, durationMs: Int64?, exitCode: Int32?,
        signal: Int32?, result: JSONText?, error: PlanFailure?, triggeredBy: String, usage: PlanUsage?,
        runtime: PlanRuntime = PlanRuntime()
    ) {
        self.id = id
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
        self.status = status
        self.attempt = attempt
        self.recoveries = recoveries
        self.handBacks = handBacks
        self.owner = owner
        self.leaseExpiresAt = leaseExpiresAt
        self.processGroup = processGroup
        self.cancelRequested = cancelRequested
        self.enqueuedAt = enqueuedAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.durationMs = durationMs
        self.exitCode = exitCode
        self.signal = signal
        self.result = result
        self.error = error
        self.triggeredBy = triggeredBy
        self.usage = usage
        self.runtime = runtime
    }

    /// Runs that count against ``maxAttempts``: recoveries and hand-backs were not the plan's fault.
    public var countedAttempts: Int { attempt - recoveries - handBacks }

    /// Whether a failed or timed-out run may be retried.
    public var hasAttemptsLeft: Bool { countedAttempts < maxAttempts }

    /// The key of the current run, for guarded writes.
    public var currentAttempt: AttemptRef? {
        owner.map { AttemptRef(planID: id, owner: $0, attempt: attempt) }
    }
}

/// Names one run of one plan: the guard of every write an orchestrator makes about that run.
///
/// A write names the plan, the owner that claimed it and the attempt number, and touches the row
/// only while all three still match a running plan — so a late finish can never overwrite a
/// recovery, and a recovery never overwrites a finish.
public struct AttemptRef: Sendable, Hashable, CustomStringConvertible {
    public let planID: Int64
    public let owner: String
    public let attempt: Int

    public init(planID: Int64, owner: String, attempt: Int) {
        self.planID = planID
        self.owner = owner
        self.attempt = attempt
    }

    public var description: String { "plan \(planID) attempt \(attempt) owned by \(owner)" }
}

/// Why a plan failed.
public struct PlanFailure: Sendable, Hashable {
    /// The kinds of failure a plan can end with.
    public enum Kind: String, Sendable, Hashable, CaseIterable, Codable {
        case nonzeroExit = "nonzero_exit"
        case timeout
        case badResult = "bad_result"
        case scriptNotFound = "script_not_found"
        case pythonUnavailable = "python_unavailable"
        case spawnFailed = "spawn_failed"
        case orphaned
        case canceled
        /// The child died by a signal Baton did not send.
        case signal
        /// The script's result block said `"status": "error"`.
        case reported
        /// The plan broke a limit of its sandbox: memory or processes.
        case limit
        /// Installing the plan's requirements failed.
        case dependencyInstall = "dependency_install"
    }

    public var kind: Kind
    public var message: String

    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }
}

/// What a run cost, when the script reported it.
public struct PlanUsage: Sendable, Hashable {
    public var inputTokens: Int64?
    public var outputTokens: Int64?
    public var costUSD: Double?

    public init(inputTokens: Int64? = nil, outputTokens: Int64? = nil, costUSD: Double? = nil) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.costUSD = costUSD
    }

    /// The cost of two runs together: each figure is the sum of those reported, and stays `nil`
    /// only when neither run reported it.
    public func adding(_ other: PlanUsage?) -> PlanUsage {
        guard let other else { return self }
        func sum<T: AdditiveArithmetic>(_ a: T?, _ b: T?) -> T? {
            switch (a, b) {
            case (nil, nil): nil
            case let (a, b): (a ?? .zero) + (b ?? .zero)
            }
        }
        return PlanUsage(inputTokens: sum(inputTokens, other.inputTokens), outputTokens: sum(outputTokens, other.outputTokens),
                         costUSD: sum(costUSD, other.costUSD))
    }
}
