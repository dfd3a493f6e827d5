import BatonCore
import Foundation
import PostgresNIO

/// Node rows, the leader lease, control commands and the audit log, in the database the nodes
/// share.
extension PostgresPlanStore: ClusterStore {
    public func beat(_ heartbeat: NodeHeartbeat, now: Date) async throws -> Bool {
        try await run { try await $0.first(PostgresClusterQueries.beat(heartbeat, now: now), logger: self.logger) { _ in true } } ?? false
    }

    public func nodes(now: Date) async throws -> [NodeRecord] {
        try await run { connection in
            try await connection.all(PostgresClusterQueries.nodes(now: now), logger: self.logger) { row in
                NodeRecord(
                    heartbeat: NodeHeartbeat(
                        name: try row.string("name"), instance: try row.string("instance"),
                        state: NodeState(rawValue: try row.string("state")) ?? .lost, generation: try row.int("generation"),
                        workersTotal: try row.int("workers_total"), workersBusy: try row.int("workers_busy"),
                        version: try row.string("version"), startedAt: Date(millisecondsSince1970: try row.int64("started_at")),
                        lease: .milliseconds(try row.int64("lease_ms"))),
                    lastSeenAt: Date(millisecondsSince1970: try row.int64("last_seen_at")),
                    leader: try row["leader"].decode(Bool.self))
            }
        }
    }

    public func markLostNodes(now: Date, forgetBefore: Date) async throws -> [String] {
        try await write { connection in
            let lost = try await connection.all(PostgresClusterQueries.markLost(now: now), logger: self.logger) { try $0.string("name") }
            try await connection.query(PostgresClusterQueries.forgetGone(before: forgetBefore), logger: self.logger)
            return lost.sorted()
        }
    }

    public func lead(node: String, lease: Duration, now: Date) async throws -> Bool {
        let query = PostgresClusterQueries.lead(node: node, now: now, expiry: (now + lease.timeInterval).millisecondsSince1970)
        return try await run { try await $0.first(query, logger: self.logger) { _ in true } } ?? false
    }

    public func resign(node: String) async throws {
        try await run { _ = try await $0.query(PostgresClusterQueries.resign(node: node), logger: self.logger) }
    }

    // MARK: Control commands

    public func issue(_ action: ControlAction, target: NodeTarget, origin: String, issuedBy: String, now: Date) async throws -> ControlCommand {
        let query = PostgresClusterQueries.issue(action, target: target, origin: origin, issuedBy: issuedBy, now: now)
        guard let command = try await run({ try await $0.first(query, logger: self.logger, Self.command(from:)) }) ?? nil else {
            throw PostgresDataError("a control command was stored but cannot be read back")
        }
        return command
    }

    public func commands(after afterID: Int64, issuedSince: Date) async throws -> [ControlCommand] {
        let query = PostgresClusterQueries.commands(after: afterID, issuedSince: issuedSince)
        return try await run { try await $0.all(query, logger: self.logger, Self.command(from:)) }.compactMap { $0 }
    }

    public func answer(_ commandID: Int64, with answer: ControlAnswer, now: Date) async throws {
        try await run { _ = try await $0.query(PostgresClusterQueries.answer(commandID, with: answer, now: now), logger: self.logger) }
    }

    public func answers(to commandID: Int64) async throws -> [ControlAnswer] {
        try await run { connection in
            try await connection.all(PostgresClusterQueries.answers(to: commandID), logger: self.logger) {
                ControlAnswer(storedText: try $0.string("answer"))
            }
        }.compactMap { $0 }
    }

    public func pruneCommands(issuedBefore cutoff: Date) async throws -> Int {
        try await run { try await $0.all(PostgresClusterQueries.pruneCommands(issuedBefore: cutoff), logger: self.logger) { _ in () } }.count
    }

    // MARK: Audit

    @discardableResult
    public func record(_ entry: AuditEntry.Draft) async throws -> AuditEntry {
        guard let stored = try await run({ try await $0.first(PostgresClusterQueries.record(entry), logger: self.logger, Self.auditEntry(from:)) }) else {
            throw PostgresDataError("an audit entry was stored but cannot be read back")
        }
        return stored
    }

    public func auditEntries(before: Int64?, limit: Int) async throws -> AuditPage {
        let limit = min(max(limit, 1), PlanQuery.maxLimit)
        let query = PostgresClusterQueries.auditPage(before: before, limit: limit + 1)
        let entries = try await run { try await $0.all(query, logger: self.logger, Self.auditEntry(from:)) }
        let shown = Array(entries.prefix(limit))
        return AuditPage(entries: shown, nextCursor: entries.count > limit ? shown.last?.id : nil)
    }

    public func pruneAudit(before cutoff: Date) async throws -> Int {
        try await run { try await $0.all(PostgresClusterQueries.pruneAudit(before: cutoff), logger: self.logger) { _ in () } }.count
    }

    // MARK: Rows

    /// A stored command; `nil` for an action this Baton does not know (a newer node's).
    private static func command(from row: PostgresRandomAccessRow) throws -> ControlCommand? {
        guard let action = ControlAction(storedName: try row.string("action"), immediate: try row["immediate"].decode(Bool.self),
                                         drainTimeoutMs: try row.optionalInt64("drain_timeout_ms")) else { return nil }
        return ControlCommand(id: try row.int64("id"), action: action, target: NodeTarget(try row.string("target")),
                              origin: try row.string("origin"), issuedBy: try row.string("issued_by"), issuedAt: Date(millisecondsSince1970: try row.int64("issued_at")))
    }

    private static func auditEntry(from row: PostgresRandomAccessRow) throws -> AuditEntry {
        AuditEntry(id: try row.int64("id"), at: Date(millisecondsSince1970: try row.int64("at")), actor: try row.string("actor"),
                   action: try row.string("action"), target: try row.string("target"), outcome: try row.string("outcome"))
    }
}
