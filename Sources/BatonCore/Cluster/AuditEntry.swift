import Foundation

/// One line of the audit log: who did what to the cluster, when, and how it went (design §10).
/// Control commands, token changes and prunes (of plans and of environments) are recorded.
public struct AuditEntry: Sendable, Hashable {
    /// What was done.
    public enum Action: String, Sendable, Hashable, CaseIterable, Codable {
        case poll, pause, resume, restart
        case tokenCreate = "token.create"
        case tokenRevoke = "token.revoke"
        case prune
        case environmentsPrune = "envs.prune"
    }

    public let id: Int64
    public let at: Date
    /// The token's name, or `retention` for the leader's own pruning.
    public let actor: String
    /// An ``Action``'s raw value; kept as text, so that entries of a newer node read too.
    public let action: String
    /// What it was done to: node names, a token's name, a prune's cutoff.
    public let target: String
    /// How it went, in a line: `ok`, per-node answers, how many plans were deleted.
    public let outcome: String

    public init(id: Int64, at: Date, actor: String, action: String, target: String, outcome: String) {
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.target = target
        self.outcome = outcome
    }

    /// An entry before the store has given it an id.
    public struct Draft: Sendable, Hashable {
        public let at: Date
        public let actor: String
        public let action: Action
        public let target: String
        public let outcome: String

        public init(at: Date, actor: String, action: Action, target: String, outcome: String) {
            self.at = at.storedPrecision
            self.actor = actor
            self.action = action
            self.target = target
            self.outcome = outcome
        }
    }
}

/// One page of the audit log, newest first.
public struct AuditPage: Sendable, Hashable {
    public var entries: [AuditEntry]
    /// Pass as the `before` cursor for the next page; `nil` on the last page.
    public var nextCursor: Int64?

    public init(entries: [AuditEntry], nextCursor: Int64?) {
        self.entries = entries
        self.nextCursor = nextCursor
    }
}
