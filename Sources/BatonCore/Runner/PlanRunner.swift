import Foundation
import Synchronization

/// Runs one claimed plan to its end and reports how it went. ``PythonRunner`` is the real one;
/// the protocol lets the orchestrator be driven by another in tests.
public protocol PlanRunner: Sendable {
    /// Runs `plan` as its run number `attempt`. Never throws: every way a run can end, including
    /// failing to start, is a ``RunReport``. Cancelling the calling task stops the run (gracefully,
    /// like ``RunControl/cancel(reason:)``) and reports ``RunTermination/shutdown``.
    func run(_ plan: Plan, attempt: Int, control: RunControl, events: @escaping @Sendable (RunEvent) -> Void) async -> RunReport
}

/// Something that happened during a run, reported as it happens.
public enum RunEvent: Sendable, Hashable {
    /// The child started in its own process group.
    case started(processGroup: Int32)
    /// A chunk of output, exactly as read.
    case output(StandardStream, [UInt8])
    /// How the setup phase (the plan's environment) went, recorded as a `setup` event.
    case setup(String)
}

/// Why a run was stopped from outside before it ended on its own.
public enum RunTermination: Sendable, Hashable {
    /// The plan's `timeout_seconds` passed.
    case timeout
    /// Someone canceled the plan.
    case canceled(reason: String)
    /// The server is stopping or restarting (the calling task was cancelled).
    case shutdown
}

/// The handle through which a running plan is stopped early.
public final class RunControl: Sendable {
    /// A request to stop the run.
    struct StopRequest: Sendable {
        let reason: String
        /// SIGKILL at once, without the grace period.
        let immediately: Bool
    }

    private let requests: AsyncStream<StopRequest>
    private let continuation: AsyncStream<StopRequest>.Continuation

    public init() {
        (requests, continuation) = AsyncStream.makeStream(of: StopRequest.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Asks the run to stop: its process group gets SIGTERM, then SIGKILL after the grace period
    /// — or SIGKILL at once when `immediately` (a node fencing itself has no time to wait).
    /// The run ends `canceled`. Calling it again, or after the run ended, does nothing.
    public func cancel(reason: String, immediately: Bool = false) {
        continuation.yield(StopRequest(reason: reason, immediately: immediately))
        continuation.finish()
    }

    /// The first stop request; returns when one arrives (or never).
    func cancellation() async -> StopRequest? {
        for await request in requests { return request }
        return nil
    }
}

/// CPU time and memory of a finished run, from the kernel's resource usage of the child.
public struct ResourceUsage: Sendable, Hashable {
    /// User plus system CPU time of the Python process and the children it waited for.
    public var cpuTime: Duration
    /// Peak resident set size of the Python process or of its largest waited-for child.
    public var maxResidentBytes: Int64

    public init(cpuTime: Duration, maxResidentBytes: Int64) {
        self.cpuTime = cpuTime
        self.maxResidentBytes = maxResidentBytes
    }
}

/// Everything known about a run once it ended.
public struct RunReport: Sendable {
    /// Status, exit code or signal, duration, result, error and usage: what the store records.
    public var outcome: PlanOutcome
    /// The steps the result block reported.
    public var steps: [PlanStep]
    /// What was kept of each stream: head and tail within the cap.
    public var stdout: CapturedOutput
    public var stderr: CapturedOutput
    /// The child's process group, when it started.
    public var processGroup: Int32?
    /// Set when the run was stopped from outside.
    public var termination: RunTermination?
    /// Set when the child ran and was waited for.
    public var resources: ResourceUsage?
}
