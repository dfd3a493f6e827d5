/// One node's part of a control command's answer (design §10); absent fields did not apply.
public struct NodeAnswer: Decodable, Sendable {
    public let node: String
    /// The node's orchestrator state after the command.
    public let state: String?
    /// Plans a poll claimed there.
    public let claimed: [Int64]?
    /// A restart's new generation and what happened to the node's running plans.
    public let generation: Int?
    public let drained: [Int64]?
    public let requeued: [Int64]?
    /// Why the node did not do it, or that it did not answer in time.
    public let error: String?
}

/// `GET /nodes`: every node sharing the queue.
public struct NodeList: Decodable, Sendable {
    public let nodes: [NodeResource]
    /// The name of the node that answered.
    public let thisNode: String
}

/// A node as `GET /nodes` lists it.
public struct NodeResource: Decodable, Sendable {
    public struct Workers: Decodable, Sendable {
        public let total: Int
        public let busy: Int
    }

    public let name: String
    /// `running`, `paused`, `draining`, `restarting`, `stopped` or `lost`.
    public let state: String
    /// Whether it leads maintenance (lease recovery, scheduling, pruning).
    public let leader: Bool
    public let generation: Int
    public let workers: Workers
    public let version: String
    public let startedAt: String
    public let lastSeenAt: String
}

/// `GET /audit`: a page of the audit log, newest first.
public struct AuditLogPage: Decodable, Sendable {
    public let entries: [AuditLogEntry]
    /// Pass as `cursor` for the next page; absent on the last.
    public let nextCursor: Int64?
}

/// Who did what to the cluster, and how it went.
public struct AuditLogEntry: Decodable, Sendable {
    public let id: Int64
    public let at: String
    /// The token's name, or `retention` for the leader's own pruning.
    public let actor: String
    /// `poll`, `pause`, `resume`, `restart`, `token.create`, `token.revoke` or `prune`.
    public let action: String
    public let target: String
    public let outcome: String
}

/// `POST /prune`: how many plans were deleted.
public struct PruneReport: Decodable, Sendable {
    public let deleted: Int
    /// Plans that ended before this were deleted.
    public let cutoff: String
}

/// The environments of plans' requirements on one node.
public struct EnvironmentList: Decodable, Sendable {
    public let environments: [EnvironmentResource]
}

/// One environment: a requirement set built for one interpreter.
public struct EnvironmentResource: Decodable, Sendable {
    public let key: String
    public let requirements: [String]
    public let python: String
    public let sizeBytes: Int64
    public let createdAt: String
    public let lastUsedAt: String
    /// Runs that have used it.
    public let plans: Int
    /// Runs using it now.
    public let inUse: Int
    public let buildMs: Int64
}

/// What `POST /envs/prune` removed.
public struct EnvironmentPruneReport: Decodable, Sendable {
    public let removed: [EnvironmentResource]
    public let freedBytes: Int64
    public let cutoff: String
}
