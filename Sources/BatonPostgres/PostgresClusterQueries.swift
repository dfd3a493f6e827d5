import BatonCore
import Foundation
import PostgresNIO

/// Every statement of ``PostgresPlanStore``'s ``ClusterStore`` side: node rows, the leader
/// lease, control commands and the audit log. Values are always bound parameters.
enum PostgresClusterQueries {
    static let nodeColumns = """
        name, instance, state, generation, workers_total, workers_busy, version, started_at, last_seen_at, lease_ms
        """

    /// Inserts or refreshes a node's row, where ``ClusterRules/nameTakeoverCondition`` allows;
    /// a row comes back only if it was written.
    static func beat(_ heartbeat: NodeHeartbeat, now: Date) -> PostgresQuery {
        """
        INSERT INTO nodes (\(unescaped: nodeColumns))
        VALUES (\(heartbeat.name), \(heartbeat.instance), \(heartbeat.state.rawValue), \(heartbeat.generation),
                \(heartbeat.workersTotal), \(heartbeat.workersBusy), \(heartbeat.version),
                \(heartbeat.startedAt.millisecondsSince1970), \(now.millisecondsSince1970), \(heartbeat.lease.wholeMilliseconds))
        ON CONFLICT (name) DO UPDATE SET
            instance = excluded.instance, state = excluded.state, generation = excluded.generation,
            workers_total = excluded.workers_total, workers_busy = excluded.workers_busy, version = excluded.version,
            started_at = excluded.started_at, last_seen_at = excluded.last_seen_at, lease_ms = excluded.lease_ms
        WHERE \(unescaped: ClusterRules.nameTakeoverCondition)
        RETURNING name
        """
    }

    static func nodes(now: Date) -> PostgresQuery {
        """
        SELECT \(unescaped: nodeColumns),
               coalesce((SELECT node FROM leadership WHERE role = 'maintenance' AND expires_at >= \(now.millisecondsSince1970)) = name,
                        false) AS leader
        FROM nodes ORDER BY name
        """
    }

    static func markLost(now: Date) -> PostgresQuery {
        """
        UPDATE nodes SET state = 'lost'
        WHERE state NOT IN ('stopped', 'lost') AND last_seen_at + lease_ms < \(now.millisecondsSince1970)
        RETURNING name
        """
    }

    static func forgetGone(before cutoff: Date) -> PostgresQuery {
        "DELETE FROM nodes WHERE state IN ('stopped', 'lost') AND last_seen_at < \(cutoff.millisecondsSince1970)"
    }

    /// Takes the lease when it is free, ran out, or is the node's own (then extends it, keeping
    /// when it was first taken). A row comes back only if the node leads.
    static func lead(node: String, now: Date, expiry: Int64) -> PostgresQuery {
        """
        INSERT INTO leadership (role, node, elected_at, expires_at) VALUES ('maintenance', \(node), \(now.millisecondsSince1970), \(expiry))
        ON CONFLICT (role) DO UPDATE SET
            node = excluded.node, expires_at = excluded.expires_at,
            elected_at = CASE WHEN leadership.node = excluded.node THEN leadership.elected_at ELSE excluded.elected_at END
        WHERE leadership.node = excluded.node OR leadership.expires_at < excluded.elected_at
        RETURNING node
        """
    }

    static func resign(node: String) -> PostgresQuery {
        "DELETE FROM leadership WHERE role = 'maintenance' AND node = \(node)"
    }

    static let commandColumns = "id, action, immediate, drain_timeout_ms, target, origin, issued_by, issued_at"

    static func issue(_ action: ControlAction, target: NodeTarget, origin: String, issuedBy: String, now: Date) -> PostgresQuery {
        let restart = action.storedRestart
        return """
            INSERT INTO control_commands (action, immediate, drain_timeout_ms, target, origin, issued_by, issued_at)
            VALUES (\(action.name), \(restart.immediate), \(restart.drainTimeoutMs), \(target.description), \(origin), \(issuedBy),
                    \(now.millisecondsSince1970))
            RETURNING \(unescaped: commandColumns)
            """
    }

    static func commands(after afterID: Int64, issuedSince: Date) -> PostgresQuery {
        """
        SELECT \(unescaped: commandColumns) FROM control_commands
        WHERE id > \(afterID) AND issued_at >= \(issuedSince.millisecondsSince1970) ORDER BY id
        """
    }

    static func answer(_ commandID: Int64, with answer: ControlAnswer, now: Date) -> PostgresQuery {
        """
        INSERT INTO control_answers (command_id, node, answered_at, answer)
        VALUES (\(commandID), \(answer.node), \(now.millisecondsSince1970), \(answer.storedText))
        ON CONFLICT (command_id, node) DO NOTHING
        """
    }

    static func answers(to commandID: Int64) -> PostgresQuery {
        "SELECT answer FROM control_answers WHERE command_id = \(commandID) ORDER BY node"
    }

    static func pruneCommands(issuedBefore cutoff: Date) -> PostgresQuery {
        "DELETE FROM control_commands WHERE issued_at < \(cutoff.millisecondsSince1970) RETURNING id"
    }

    static let auditColumns = "id, at, actor, action, target, outcome"

    static func record(_ entry: AuditEntry.Draft) -> PostgresQuery {
        """
        INSERT INTO audit_log (at, actor, action, target, outcome)
        VALUES (\(entry.at.millisecondsSince1970), \(entry.actor), \(entry.action.rawValue), \(entry.target), \(entry.outcome))
        RETURNING \(unescaped: auditColumns)
        """
    }

    static func auditPage(before: Int64?, limit: Int) -> PostgresQuery {
        """
        SELECT \(unescaped: auditColumns) FROM audit_log WHERE id < \(before ?? Int64.max) ORDER BY id DESC LIMIT \(limit)
        """
    }

    static func pruneAudit(before cutoff: Date) -> PostgresQuery {
        "DELETE FROM audit_log WHERE at < \(cutoff.millisecondsSince1970) RETURNING id"
    }
}
