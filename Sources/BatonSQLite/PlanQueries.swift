import BatonCore

/// Every statement ``SQLitePlanStore`` runs. Values are always bound parameters.
///
/// Statements that change a running plan carry the attempt guard
/// `status = 'running' AND owner = ? AND attempt = ?`: the caller checks that a row came back.
enum PlanQueries {
    /// The columns a ``Plan`` is read from.
    static let planColumns = """
        id, name, entry_kind, entry, args, input, priority, timeout_seconds, max_attempts, env, labels,
        idempotency_key, run_after, status, attempt, recoveries, hand_backs, owner, lease_expires_at,
        process_group, cancel_requested, enqueued_at, started_at, finished_at, duration_ms, exit_code,
        signal, result, error_kind, error_message, triggered_by, input_tokens, output_tokens, cost_usd, runtime
        """

    private static let attemptGuard = "id = ? AND status = 'running' AND owner = ? AND attempt = ?"

    // MARK: Enqueue

    static let planByIdempotencyKey = "SELECT \(planColumns) FROM plans WHERE idempotency_key = ?"

    static let insertPlan = """
        INSERT INTO plans (name, entry_kind, entry, args, input, priority, timeout_seconds, max_attempts,
                           env, labels, idempotency_key, run_after, status, enqueued_at, triggered_by, runtime)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    static let insertLabel = "INSERT INTO plan_labels (plan_id, key, value) VALUES (?, ?, ?)"

    static let insertEvent = """
        INSERT INTO plan_events (plan_id, at, kind, attempt, actor, from_status, to_status, detail)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        """

    // MARK: Claim and run

    /// One statement takes the best queued plans. The cost columns are not reset: they add up over
    /// every attempt. The subquery walks `plans_claim_order` and stops
    /// after LIMIT rows; `INDEXED BY` keeps the planner from sorting every queued plan instead
    /// (and makes the statement fail to prepare should that index ever stop fitting).
    static let claim = """
        UPDATE plans
        SET status = 'running', owner = ?, attempt = attempt + 1, lease_expires_at = ?, started_at = ?,
            cancel_requested = 0, process_group = NULL, finished_at = NULL, duration_ms = NULL,
            exit_code = NULL, signal = NULL, result = NULL, error_kind = NULL, error_message = NULL
        WHERE id IN (SELECT id FROM plans INDEXED BY plans_claim_order WHERE status = 'queued' ORDER BY priority ASC, id ASC LIMIT ?)
        RETURNING \(planColumns)
        """

    static let heldAttempt = "SELECT id FROM plans WHERE \(attemptGuard)"

    static let recordProcessGroup = "UPDATE plans SET process_group = ? WHERE \(attemptGuard)"

    /// One statement renews the leases of `count` runs, each named by (id, owner, attempt), and
    /// returns the runs still held.
    static func renewLeases(count: Int) -> String {
        let ids = Array(repeating: "?", count: count).joined(separator: ", ")
        let runs = Array(repeating: "(?, ?, ?)", count: count).joined(separator: ", ")
        // `id IN (…)` lets SQLite fetch the rows by primary key; the row values then check
        // owner and attempt.
        return """
            UPDATE plans SET lease_expires_at = ?
            WHERE id IN (\(ids)) AND status = 'running' AND (id, owner, attempt) IN (VALUES \(runs))
            RETURNING id, owner, attempt
            """
    }

    static let holdsPlan = "SELECT 1 AS held FROM plans WHERE \(attemptGuard)"

    /// Writes a ``PlanTransition``: every column a change can touch, guarded by the row it was
    /// decided on (id, status, owner, attempt). Bindings: ``SQLitePlanStore/transitionBindings(_:)``.
    static let writeTransition = """
        UPDATE plans
        SET status = ?, run_after = ?, recoveries = ?, hand_backs = ?, lease_expires_at = ?, process_group = ?,
            cancel_requested = ?, finished_at = ?, duration_ms = ?, exit_code = ?, signal = ?, result = ?,
            error_kind = ?, error_message = ?, input_tokens = ?, output_tokens = ?, cost_usd = ?
        WHERE id = ? AND status = ? AND owner IS ? AND attempt = ?
        RETURNING \(planColumns)
        """

    // MARK: Cancel, recover, promote

    static let planByID = "SELECT \(planColumns) FROM plans WHERE id = ?"

    static let expiredLeases = """
        SELECT \(planColumns) FROM plans INDEXED BY plans_lease_expiry WHERE status = 'running' AND lease_expires_at < ? ORDER BY id
        """

    static let promoteDue = """
        UPDATE plans INDEXED BY plans_due SET status = 'queued'
        WHERE status = 'scheduled' AND run_after <= ?
        RETURNING \(planColumns)
        """

    // MARK: Read

    static let countsByStatus = "SELECT status, count(*) AS count FROM plans GROUP BY status"

    /// Ids grow with time, so the smallest queued id is the oldest queued plan (a seek in
    /// `plans_by_status`).
    static let nextLeaseExpiry = """
        SELECT min(lease_expires_at) AS expiry FROM plans INDEXED BY plans_lease_expiry WHERE status = 'running'
        """

    static let oldestQueued = """
        SELECT enqueued_at FROM plans WHERE id = (SELECT min(id) FROM plans WHERE status = 'queued')
        """

    static let recentDurations = """
        SELECT duration_ms FROM plans INDEXED BY plans_by_finish
        WHERE finished_at IS NOT NULL AND duration_ms IS NOT NULL ORDER BY finished_at DESC LIMIT 1000
        """

    static let usageTotals = """
        SELECT coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens,
               coalesce(sum(cost_usd), 0) AS cost_usd
        FROM plans
        """

    static let events = """
        SELECT id, plan_id, at, kind, attempt, actor, from_status, to_status, detail
        FROM plan_events WHERE plan_id = ? ORDER BY id
        """

    /// A listing, newest first: the filters that apply joined with AND. Every value is bound.
    static func list(statusCount: Int, labelCount: Int, hasCursor: Bool, hasNameFilter: Bool) -> String {
        var conditions: [String] = []
        if statusCount > 0 {
            conditions.append("status IN (\(Array(repeating: "?", count: statusCount).joined(separator: ", ")))")
        }
        if hasCursor { conditions.append("id < ?") }
        if hasNameFilter { conditions.append("name LIKE ? ESCAPE '\\'") }
        for _ in 0..<labelCount {
            conditions.append("EXISTS (SELECT 1 FROM plan_labels WHERE plan_id = plans.id AND key = ? AND value = ?)")
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return "SELECT \(planColumns) FROM plans \(filter) ORDER BY id DESC LIMIT ?"
    }

    // MARK: Output and steps

    static let outputTotals = """
        SELECT stored_bytes, dropped_bytes FROM plan_output_totals WHERE plan_id = ? AND attempt = ? AND stream = ?
        """

    static let addToOutputTotals = """
        INSERT INTO plan_output_totals (plan_id, attempt, stream, stored_bytes, dropped_bytes) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (plan_id, attempt, stream) DO UPDATE
        SET stored_bytes = stored_bytes + excluded.stored_bytes, dropped_bytes = dropped_bytes + excluded.dropped_bytes
        """

    static let insertOutput = "INSERT INTO plan_output (plan_id, attempt, stream, data) VALUES (?, ?, ?, ?)"

    static let output = "SELECT data FROM plan_output WHERE plan_id = ? AND attempt = ? AND stream = ? ORDER BY id"

    static let deleteOutput = "DELETE FROM plan_output WHERE plan_id = ? AND attempt = ? AND stream = ?"

    static let setOutputTotals = """
        INSERT OR REPLACE INTO plan_output_totals (plan_id, attempt, stream, stored_bytes, dropped_bytes) VALUES (?, ?, ?, ?, 0)
        """

    static let deleteSteps = "DELETE FROM plan_steps WHERE plan_id = ? AND attempt = ?"

    static let insertStep = """
        INSERT INTO plan_steps (plan_id, attempt, position, name, status, started_at, finished_at, duration_ms,
                                input, output, error)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    static let steps = """
        SELECT name, status, started_at, finished_at, duration_ms, input, output, error
        FROM plan_steps WHERE plan_id = ? AND attempt = ? ORDER BY position
        """

    // MARK: Retention

    /// Deletes one chunk; output, steps, labels and events go with their plan (ON DELETE CASCADE).
    static func pruneChunk(limit: Int) -> String {
        let terminal = PlanStatus.terminal.map { "'\($0.rawValue)'" }.joined(separator: ", ")
        return """
            DELETE FROM plans WHERE id IN (
                SELECT id FROM plans WHERE finished_at < ? AND status IN (\(terminal)) LIMIT \(limit))
            """
    }

    // MARK: Tokens

    static let tokenColumns = "id, name, role, created_at, last_used_at, revoked_at"

    static let insertToken = """
        INSERT INTO tokens (name, role, secret_hash, created_at) VALUES (?, ?, ?, ?) RETURNING \(tokenColumns)
        """

    static let tokens = "SELECT \(tokenColumns) FROM tokens ORDER BY id"

    static let liveTokenByHash = "SELECT \(tokenColumns) FROM tokens WHERE secret_hash = ? AND revoked_at IS NULL"

    /// At most one write a minute per token, however many requests it makes.
    static let markTokenUsed = """
        UPDATE tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)
        """

    static let revokeToken = """
        UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING \(tokenColumns)
        """

    static let liveTokenCount = "SELECT count(*) AS count FROM tokens WHERE revoked_at IS NULL"
}
