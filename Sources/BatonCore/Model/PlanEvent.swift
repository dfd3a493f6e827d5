import Foundation

/// One entry of a plan's append-only history: every state change, with time and actor.
public struct PlanEvent: Sendable, Hashable {
    /// What happened.
    public enum Kind: String, Sendable, Hashable, CaseIterable, Codable {
        case enqueued
        /// A scheduled plan came due.
        case promoted
        case claimed
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
}
