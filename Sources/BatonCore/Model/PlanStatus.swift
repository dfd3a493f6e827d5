/// Where a plan is in its life. The allowed moves between statuses live here and nowhere else;
/// the store refuses any other. `docs/architecture.md` draws the diagram.
///
/// ```
/// scheduled ─due─▶ queued ─claim─▶ running ─▶ succeeded | failed | timed_out | canceled
///     │              ▲   │            │
///     │              │   └─cancel─▶ canceled ◀─cancel─┘
///     │              └── requeue / recovery ──┤
///     └────cancel────▶ canceled      scheduled ◀─ retry with backoff
/// ```
public enum PlanStatus: String, Sendable, Hashable, CaseIterable, Codable {
    /// Waiting for its `run_after` time (or a retry's backoff) to pass.
    case scheduled
    /// Ready to be claimed.
    case queued
    /// Claimed by an orchestrator; a Python process is (or is about to be) running it.
    case running
    case succeeded
    case failed
    case timedOut = "timed_out"
    case canceled

    /// A terminal plan never changes again.
    public var isTerminal: Bool {
        switch self {
        case .succeeded, .failed, .timedOut, .canceled: true
        case .scheduled, .queued, .running: false
        }
    }

    /// The statuses a plan in this status may move to.
    public var allowedNextStatuses: Set<PlanStatus> {
        switch self {
        case .scheduled: [.queued, .canceled]
        case .queued: [.running, .canceled]
        case .running: [.succeeded, .failed, .timedOut, .canceled, .queued, .scheduled]
        case .succeeded, .failed, .timedOut, .canceled: []
        }
    }

    /// Whether a plan in this status may move to `next`.
    public func canMove(to next: PlanStatus) -> Bool {
        allowedNextStatuses.contains(next)
    }

    /// The terminal statuses, for SQL `IN (...)` lists and filters.
    public static let terminal: [PlanStatus] = allCases.filter(\.isTerminal)
}
