import Foundation

/// What nodes sharing one store keep about each other (design §10): their rows, the leader
/// lease, control commands for other nodes and their answers, and the audit log.
///
/// Every store implements it — SQLite for its one node, PostgreSQL for many — and passes the same
/// conformance suite. Who is lost and how long rows are kept are ``ClusterRules``.
public protocol ClusterStore: Sendable {
    /// Writes a node's row: a new name, the same instance again, or a name whose earlier holder
    /// has stopped or is lost. Returns `false`, writing nothing, while another live instance
    /// holds the name.
    func beat(_ heartbeat: NodeHeartbeat, now: Date) async throws -> Bool

    /// Every node the store knows, by name, with whether it leads at `now`.
    func nodes(now: Date) async throws -> [NodeRecord]

    /// Marks `lost` the nodes that have not been seen for one lease, and forgets nodes stopped
    /// or lost since before `forgetBefore`. Returns the names newly lost.
    func markLostNodes(now: Date, forgetBefore: Date) async throws -> [String]

    /// Takes the leader lease for `node` if nobody holds it, or it ran out, or `node` already
    /// holds it (then it is extended). Returns whether `node` leads until `now + lease`.
    func lead(node: String, lease: Duration, now: Date) async throws -> Bool

    /// Gives the leader lease up, if `node` holds it, so another node takes over at once.
    func resign(node: String) async throws

    // MARK: Control commands

    /// Stores a command for other nodes and gives it its id. `origin` is the node that took the
    /// request (it acts on the command itself, without reading it back).
    func issue(_ action: ControlAction, target: NodeTarget, origin: String, issuedBy: String, now: Date) async throws -> ControlCommand

    /// Commands with an id above `afterID` issued at or after `issuedSince`, oldest first.
    func commands(after afterID: Int64, issuedSince: Date) async throws -> [ControlCommand]

    /// Stores what one node did about a command (once; a second answer of that node is ignored).
    func answer(_ commandID: Int64, with answer: ControlAnswer, now: Date) async throws

    /// The answers stored for a command so far.
    func answers(to commandID: Int64) async throws -> [ControlAnswer]

    /// Deletes commands issued before `cutoff`, with their answers. Returns how many.
    func pruneCommands(issuedBefore cutoff: Date) async throws -> Int

    // MARK: Audit

    /// Appends an entry to the audit log.
    @discardableResult
    func record(_ entry: AuditEntry.Draft) async throws -> AuditEntry

    /// A page of the audit log, newest first: entries with an id below `before` when given.
    func auditEntries(before: Int64?, limit: Int) async throws -> AuditPage

    /// Deletes audit entries recorded before `cutoff`. Returns how many.
    func pruneAudit(before cutoff: Date) async throws -> Int
}

/// Everything one database holds for Baton: plans, tokens, and the cluster.
public typealias BatonStore = PlanStore & TokenStore & ClusterStore
