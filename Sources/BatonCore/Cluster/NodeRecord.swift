import Foundation

/// What a node is doing, as `GET /api/v1/nodes` shows it: its orchestrator's state while it
/// heartbeats, `stopped` after a clean shutdown, `lost` once it has not been seen for one lease.
public enum NodeState: String, Sendable, Hashable, CaseIterable, Codable {
    case running, paused, draining, restarting, stopped, lost

    /// The state a node reports for its orchestrator's.
    public init(_ state: OrchestratorState) {
        switch state {
        case .running: self = .running
        case .paused: self = .paused
        case .draining: self = .draining
        case .restarting: self = .restarting
        case .stopped: self = .stopped
        }
    }

    /// Whether the node is gone: it answers no control command and runs nothing.
    public var isGone: Bool { self == .stopped || self == .lost }
}

/// What a node writes into its row on every heartbeat (design §10).
public struct NodeHeartbeat: Sendable, Hashable {
    /// The node's name (`--node-name`), unique among live nodes.
    public var name: String
    /// Tells this process from an earlier or later one with the same name.
    public var instance: String
    public var state: NodeState
    public var generation: Int
    public var workersTotal: Int
    public var workersBusy: Int
    public var version: String
    public var startedAt: Date
    /// After this long without a heartbeat the node counts as `lost`: its plan lease.
    public var lease: Duration

    public init(name: String, instance: String, state: NodeState, generation: Int, workersTotal: Int, workersBusy: Int,
                version: String = BatonVersion.current, startedAt: Date, lease: Duration) {
        self.name = name
        self.instance = instance
        self.state = state
        self.generation = generation
        self.workersTotal = workersTotal
        self.workersBusy = workersBusy
        self.version = version
        self.startedAt = startedAt
        self.lease = lease
    }
}

/// A node as the cluster sees it: its last heartbeat, when that was, and whether it leads.
public struct NodeRecord: Sendable, Hashable {
    public var heartbeat: NodeHeartbeat
    public var lastSeenAt: Date
    /// Whether this node holds the maintenance lease now.
    public var leader: Bool

    public init(heartbeat: NodeHeartbeat, lastSeenAt: Date, leader: Bool) {
        self.heartbeat = heartbeat
        self.lastSeenAt = lastSeenAt
        self.leader = leader
    }

    public var name: String { heartbeat.name }

    /// The state at `now`: what the node last said, or `lost` when that was more than one lease
    /// ago and it did not say it stopped.
    public func state(at now: Date) -> NodeState {
        let state = heartbeat.state
        if state == .stopped || state == .lost { return state }
        return ClusterRules.isLost(lastSeenAt: lastSeenAt, lease: heartbeat.lease, now: now) ? .lost : state
    }
}

/// The cluster's rules about nodes, decided once for every store.
public enum ClusterRules {
    /// A node not seen for one lease is lost: its runs' leases have run out too by then.
    public static func isLost(lastSeenAt: Date, lease: Duration, now: Date) -> Bool {
        now.timeIntervalSince(lastSeenAt) > lease.timeInterval
    }

    /// How long rows of stopped and lost nodes are kept, for operators to see what happened.
    public static let goneNodeRetention: Duration = .seconds(24 * 3600)

    /// How long control commands and their answers are kept.
    public static let commandRetention: Duration = .seconds(3600)

    /// How long a node acts on a control command after it was issued: older ones were answered
    /// for it (as "no answer") long ago.
    public static let commandValidity: Duration = .seconds(60)

    /// When a node's heartbeat may write the row held under its name, as a SQL condition that
    /// both stores put in their upsert (`nodes` the row held, `excluded` the one offered): the
    /// same instance beating again, or a holder that said it stopped, was found lost, or has
    /// not been seen for one of its leases. So a second live node cannot take a name in use.
    public static let nameTakeoverCondition = """
        nodes.instance = excluded.instance OR nodes.state IN ('stopped', 'lost')
           OR nodes.last_seen_at + nodes.lease_ms < excluded.last_seen_at
        """
}
