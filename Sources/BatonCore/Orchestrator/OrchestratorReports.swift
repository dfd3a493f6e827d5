import Foundation

/// Where the orchestrator is in its life.
public enum OrchestratorState: String, Sendable, Hashable, Codable {
    /// Claiming and running plans.
    case running
    /// Not claiming; running plans continue. Recovery and scheduling go on.
    case paused
    /// Not claiming; waiting for running plans to finish before a restart or shutdown.
    case draining
    /// Rebuilding the worker pool and re-resolving the interpreter.
    case restarting
    /// Not running: before start, after shutdown, or when a generation could not start
    /// (`lastError` says why; a restart tries again).
    case stopped
}

/// How a restart treats the plans that are running.
public enum RestartMode: Sendable, Hashable {
    /// Stop claiming, let running plans finish for up to `drainTimeout`, then stop and requeue
    /// the rest.
    case graceful(drainTimeout: Duration)
    /// Stop and requeue every running plan now.
    case immediate
}

/// What `poll()` did.
public struct PollReport: Sendable, Hashable {
    /// Plans claimed and started by this poll.
    public let claimed: [Int64]
    /// Plans in each status after the poll.
    public let queue: [PlanStatus: Int]
    public let polledAt: Date
    /// `paused` means the poll recovered and promoted plans but claimed none.
    public let state: OrchestratorState
}

/// What `restart(_:)` did.
public struct RestartReport: Sendable, Hashable {
    /// The generation now running.
    public let generation: Int
    /// Plans that finished on their own while draining.
    public let drained: [Int64]
    /// Plans stopped and put back in the queue.
    public let requeued: [Int64]
    /// The interpreter the new generation resolved.
    public let python: PythonInterpreter?
}

/// A snapshot of the orchestrator, for operators.
public struct OrchestratorStatus: Sendable, Hashable {
    public let state: OrchestratorState
    /// Starts at 1 and grows by one with every restart.
    public let generation: Int
    public let startedAt: Date?
    public let lastPollAt: Date?
    public let nextPollAt: Date?
    /// The last error of a poll cycle or of starting a generation, if the last attempt failed.
    public let lastError: String?
    /// Poll cycles that failed since start.
    public let failedCycles: Int
    public let workersTotal: Int
    public let workersBusy: Int
    /// Plans running here now, in id order.
    public let runningPlanIDs: [Int64]
    public let queue: [PlanStatus: Int]
    public let python: PythonInterpreter?
}

/// A runner, ready to use, and the interpreter it runs (for status and health).
public struct PreparedRunner: Sendable {
    public let runner: any PlanRunner
    public let interpreter: PythonInterpreter?

    public init(runner: any PlanRunner, interpreter: PythonInterpreter?) {
        self.runner = runner
        self.interpreter = interpreter
    }
}
