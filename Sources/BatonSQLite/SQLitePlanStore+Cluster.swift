import BatonCore
import Foundation

/// The node's row, the leader lease, control commands and the audit log, in the same file as
/// the queue. A SQLite database has one node; the same rules still apply to it.
extension SQLitePlanStore: ClusterStore {
    public func beat(_ heartbeat: NodeHeartbeat, now: Date) async throws -> Bool {
        try await write { connection in
            try connection.run(ClusterQueries.beat, [
                heartbeat.name, heartbeat.instance, heartbeat.state.rawValue, heartbeat.generation, heartbeat.workersTotal,
                heartbeat.workersBusy, heartbeat.version, heartbeat.startedAt.millisecondsSince1970, now.millisecondsSince1970,
                heartbeat.lease.wholeMilliseconds,
            ])
            return connection.changes == 1
        }
    }

    public func nodes(now: Date) async throws -> [NodeRecord] {
        try await read { connection in
            try connection.rows(ClusterQueries.nodes, [now.millisecondsSince1970]) { row in
                NodeRecord(
                    heartbeat: NodeHeartbeat(
                        name: row.string("name"), instance: row.string("instance"), state: NodeState(rawValue: row.string("state")) ?? .lost,
                        generation: row.int("generation"), workersTotal: row.int("workers_total"), workersBusy: row.int("workers_busy"),
                        version: row.string("version"), startedAt: Date(millisecondsSince1970: row.int64("started_at")),
                        lease: .milliseconds(row.int64("lease_ms"))),
                    lastSeenAt: Date(millisecondsSince1970: row.int64("last_seen_at")),
                    leader: row.optionalInt64("leader") == 1)
            }
        }
    }

    public func markLostNodes(now: Date, forgetBefore: Date) async throws -> [String] {
        try await write { connection in
            let lost = try connection.rows(ClusterQueries.markLost, [now.millisecondsSince1970]) { $0.string("name") }
            try connection.run(ClusterQueries.forgetGone, [forgetBefore.millisecondsSince1970])
            return lost.sorted()
        }
    }

    public func lead(node: String, lease: Duration, now: Date) async throws -> Bool {
        let expiry = (now + lease.timeInterval).millisecondsSince1970
        return try await write { connection in
            try connection.run(ClusterQueries.lead, [node, now.millisecondsSince1970, expiry])
            return connection.changes == 1
        }
    }

    public func resign(node: String) async throws {
        try await write { try $0.run(ClusterQueries.resign, [node]) }
    }

    // MARK: Control commands

    public func issue(_ action: ControlAction, target: NodeTarget, origin: String, issuedBy: String, now: Date) async throws -> ControlCommand {
        let restart = action.storedRestart
        let command = try await write { connection in
            try connection.firstRow(ClusterQueries.issue, [
                action.name, restart.immediate ? 1 : 0, restart.drainTimeoutMs, target.description, origin, issuedBy, now.millisecondsSince1970,
            ], Self.command(from:)) ?? nil
        }
        guard let command else { throw PlanStoreError(.databaseBusy, "a control command was stored but cannot be read back; try again") }
        return command
    }

    public func commands(after afterID: Int64, issuedSince: Date) async throws -> [ControlCommand] {
        try await read { connection in
            try connection.rows(ClusterQueries.commands, [afterID, issuedSince.millisecondsSince1970], Self.command(from:))
        }.compactMap { $0 }
    }

    public func answer(_ commandID: Int64, with answer: ControlAnswer, now: Date) async throws {
        try await write { try $0.run(ClusterQueries.answer, [commandID, answer.node, now.millisecondsSince1970, answer.storedText]) }
    }

    public func answers(to commandID: Int64) async throws -> [ControlAnswer] {
        try await read { connection in
            try connection.rows(ClusterQueries.answers, [commandID]) { ControlAnswer(storedText: $0.string("answer")) }
        }.compactMap { $0 }
    }

    public func pruneCommands(issuedBefore cutoff: Date) async throws -> Int {
        try await write { connection in
            try connection.run(ClusterQueries.pruneCommands, [cutoff.millisecondsSince1970])
            return connection.changes
        }
    }

    // MARK: Audit

    @discardableResult
    public func record(_ entry: AuditEntry.Draft) async throws -> AuditEntry {
        try await write { connection in
            try connection.firstRow(ClusterQueries.record, [
                entry.at.millisecondsSince1970, entry.actor, entry.action.rawValue, entry.target, entry.outcome,
            ], Self.auditEntry(from:))!
        }
    }

    public func auditEntries(before: Int64?, limit: Int) async throws -> AuditPage {
        let limit = min(max(limit, 1), PlanQuery.maxLimit)
        let entries = try await read { connection in
            try connection.rows(ClusterQueries.auditPage, [before ?? Int64.max, limit + 1], Self.auditEntry(from:))
        }
        let shown = Array(entries.prefix(limit))
        return AuditPage(entries: shown, nextCursor: entries.count > limit ? shown.last?.id : nil)
    }

    public func pruneAudit(before cutoff: Date) async throws -> Int {
        try await write { connection in
            try connection.run(ClusterQueries.pruneAudit, [cutoff.millisecondsSince1970])
            return connection.changes
        }
    }

    // MARK: Rows

    /// A stored command; `nil` for an action this Baton does not know (a newer node's).
    private static func command(from row: SQLiteRow) -> ControlCommand? {
        guard let action = ControlAction(storedName: row.string("action"), immediate: row.int("immediate") == 1,
                                         drainTimeoutMs: row.optionalInt64("drain_timeout_ms")) else { return nil }
        return ControlCommand(id: row.int64("id"), action: action, target: NodeTarget(row.string("target")),
                              origin: row.string("origin"), issuedBy: row.string("issued_by"), issuedAt: Date(millisecondsSince1970: row.int64("issued_at")))
    }

    private static func auditEntry(from row: SQLiteRow) -> AuditEntry {
        AuditEntry(id: row.int64("id"), at: Date(millisecondsSince1970: row.int64("at")), actor: row.string("actor"),
                   action: row.string("action"), target: row.string("target"), outcome: row.string("outcome"))
    }
}
