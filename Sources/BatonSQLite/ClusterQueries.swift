import BatonCore

/// Every statement of ``SQLitePlanStore``'s ``ClusterStore`` side: node rows, the leader lease,
/// control commands and the audit log.
enum ClusterQueries {
    static let nodeColumns = """
        name, instance, state, generation, workers_total, workers_busy, version, started_at, last_seen_at, lease_ms
        """

    /// Inserts or refreshes a node's row, where ``ClusterRules/nameTakeoverCondition`` allows;
    /// the caller learns from the row count whether it was written.
    static let beat = """
        INSERT INTO nodes (\(nodeColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (name) DO UPDATE SET
            instance = excluded.instance, state = excluded.state, generation = excluded.generation,
            workers_total = excluded.workers_total, workers_busy = excluded.workers_busy, version = excluded.version,
            started_at = excluded.started_at, last_seen_at = excluded.last_seen_at, lease_ms = excluded.lease_ms
        WHERE \(ClusterRules.nameTakeoverCondition)
        """

    static let nodes = """
        SELECT \(nodeColumns), (SELECT node FROM leadership WHERE role = 'maintenance' AND expires_at >= ?) = name AS leader
        FROM nodes ORDER BY name
        """

    static let markLost = """
        UPDATE nodes SET state = 'lost'
        WHERE state NOT IN ('stopped', 'lost') AND last_seen_at + lease_ms < ?
        RETURNING name
        """

    static let forgetGone = "DELETE FROM nodes WHERE state IN ('stopped', 'lost') AND last_seen_at < ?"

    /// Takes the lease when it is free, ran out, or is the node's own (then extends it, keeping
    /// when it was first taken). The caller learns from the row count whether the node leads.
    static let lead = """
        INSERT INTO leadership (role, node, elected_at, expires_at) VALUES ('maintenance', ?, ?, ?)
        ON CONFLICT (role) DO UPDATE SET
            node = excluded.node, expires_at = excluded.expires_at,
            elected_at = CASE WHEN leadership.node = excluded.node THEN leadership.elected_at ELSE excluded.elected_at END
        WHERE leadership.node = excluded.node OR leadership.expires_at < excluded.elected_at
        """

    static let resign = "DELETE FROM leadership WHERE role = 'maintenance' AND node = ?"

    static let commandColumns = "id, action, immediate, drain_timeout_ms, target, origin, issued_by, issued_at"

    static let issue = """
        INSERT INTO control_commands (action, immediate, drain_timeout_ms, target, origin, issued_by, issued_at)
        VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING \(commandColumns)
        """

    static let commands = """
        SELECT \(commandColumns) FROM control_commands WHERE id > ? AND issued_at >= ? ORDER BY id
        """

    static let answer = """
        INSERT INTO control_answers (command_id, node, answered_at, answer) VALUES (?, ?, ?, ?)
        ON CONFLICT (command_id, node) DO NOTHING
        """

    static let answers = "SELECT answer FROM control_answers WHERE command_id = ? ORDER BY node"

    static let pruneCommands = "DELETE FROM control_commands WHERE issued_at < ?"

    static let auditColumns = "id, at, actor, action, target, outcome"

    static let record = """
        INSERT INTO audit_log (at, actor, action, target, outcome) VALUES (?, ?, ?, ?, ?) RETURNING \(auditColumns)
        """

    static let auditPage = "SELECT \(auditColumns) FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?"

    static let pruneAudit = "DELETE FROM audit_log WHERE at < ?"
}
