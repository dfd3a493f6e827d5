import Foundation

/// One entry of a plan's append-only history: every state change, with time and actor.
public struct PlanEvent: Sendable, Hashable {
    /// What happened.
    public enum Kind: String, Sendable, Hashable, CaseIterable, Codable {
        case enqueued
        /// A scheduled plan came due.
        case promoted
        case claimed
        /// The run's environment was built, reused or could not be had; `detail` says which,
        /// and how long it took (the run's own time does not count it).
        case setup
        /// The child process started; `detail` holds its process group.
        case started
        case cancelRequested = "cancel_requested"
        /// Back to the queue: a retry, or a hand-back by an orchestrator stopping.
        case requeued
        /// The owner stopped renewing the lease; the plan was recovered.
        case heartbeatLost = "heartbeat_lost"
        case finished
        case canceled
    }

    public let id: Int64
    public let planID: Int64
    public let at: Date
    public let kind: Kind
    public let attempt: Int
    /// Who did it: `orchestrator:<owner>`, a token's name, `recovery`, ...
    public let actor: String
    public let fromStatus: PlanStatus?
    public let toStatus: PlanStatus?
    public let detail: String?

    public init(id: Int64, planID: Int64, at: Date, kind: Kind, attempt: Int, actor: String,
                fromStatus: PlanStatus?, toStatus: PlanStatus?, detail: String?) {
        self.id = id
        self.planID = planID
        self.at = at
        self.kind = kind
        self.attempt = attempt
        self.actor = actor
        self.fromStatus = fromStatus
        self.toStatus = toStatus
        self.detail = detail
    }

    /// An event about to be appended: everything but the id the store gives it.
    public struct Draft: Sendable, Hashable {
        public let planID: Int64
        public let at: Date
        public let kind: Kind
        public let attempt: Int
        public let actor: String
        public let fromStatus: PlanStatus?
        public let toStatus: PlanStatus?
        public let detail: String?

        public init(planID: Int64, at: Date, kind: Kind, attempt: Int, actor: String,
                    from: PlanStatus? = nil, to: PlanStatus? = nil, detail: String? = nil) {
            self.planID = planID
            self.at = at
            self.kind = kind
            self.attempt = attempt
            self.actor = actor
            fromStatus = from
            toStatus = to
            self.detail = detail
        }

        /// The same event for another plan: a batch decides one and stores it per plan.
        public func forPlan(_ id: Int64) -> Draft {
            Draft(planID: id, at: at, kind: kind, attempt: attempt, actor: actor, from: fromStatus, to: toStatus, detail: detail)
        }
    }
}
