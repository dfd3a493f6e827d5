import BatonCore
import Foundation
import PostgresNIO

/// Every statement ``PostgresPlanStore`` runs. Values are always bound parameters.
///
/// Statements that change a running plan carry the attempt guard
/// `status = 'running' AND owner = $ AND attempt = $`: the caller checks that a row came back.
enum PostgresQueries {
    /// The columns a ``Plan`` is read from, of the table or alias `table`.
    static func planColumns(_ table: String = "plans") -> String {
        """
        \(table).id, \(table).name, \(table).entry_kind, \(table).entry, \(table).args, \(table).input, \(table).priority,
        \(table).timeout_seconds, \(table).max_attempts, \(table).env, \(table).labels::text AS labels,
        \(table).idempotency_key, \(table).run_after, \(table).status, \(table).attempt, \(table).recoveries,
        \(table).hand_backs, \(table).owner, \(table).lease_expires_at, \(table).process_group, \(table).cancel_requested,
        \(table).enqueued_at, \(table).started_at, \(table).finished_at, \(table).duration_ms, \(table).exit_code,
        \(table).signal, \(table).result, \(table).error_kind, \(table).error_message, \(table).triggered_by,
        \(table).input_tokens, \(table).output_tokens, \(table).cost_usd, \(table).runtime
        """
    }

    static let columns = planColumns()

    // MARK: Enqueue

    static func planByIdempotencyKey(_ key: String) -> PostgresQuery {
        "SELECT \(unescaped: columns) FROM plans WHERE idempotency_key = \(key)"
    }

    /// Inserts a new plan and its `enqueued` event in one statement (atomic without a
    /// transaction of its own), or nothing when its idempotency key is taken (the caller then
    /// reads the plan that holds it). Returns the new plan's id.
    static func insertPlan(_ plan: Plan, event: PlanEvent.Draft) -> PostgresQuery {
        """
        WITH inserted AS (
            INSERT INTO plans (name, entry_kind, entry, args, input, priority, timeout_seconds, max_attempts,
                               env, labels, idempotency_key, run_after, status, enqueued_at, triggered_by, runtime)
            VALUES (\(plan.name), \(plan.entryPoint.kind), \(plan.entryPoint.value), \(StringJSON.encode(plan.args)),
                    \(plan.input.text), \(plan.priority), \(plan.timeoutSeconds), \(plan.maxAttempts),
                    \(StringJSON.encode(plan.env)), \(StringJSON.encode(plan.labels))::jsonb, \(plan.idempotencyKey),
                    \(plan.runAfter?.millisecondsSince1970), \(plan.status.rawValue), \(plan.enqueuedAt.millisecondsSince1970),
                    \(plan.triggeredBy), \(plan.runtime.storedJSON))
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING id
        )
        INSERT INTO plan_events (plan_id, at, kind, attempt, actor, from_status, to_status, detail)
        SELECT id, \(event.at.millisecondsSince1970), \(event.kind.rawValue), \(event.attempt), \(event.actor),
               \(event.fromStatus?.rawValue), \(event.toStatus?.rawValue), \(event.detail)
        FROM inserted
        RETURNING plan_id AS id
        """
    }

    /// `count` new plan ids, ascending, so a batch keeps its order in the queue.
    static func reservePlanIDs(_ count: Int) -> PostgresQuery {
        "SELECT nextval(pg_get_serial_sequence('plans', 'id')) AS id FROM generate_series(1, \(count)) ORDER BY 1"
    }

    /// Inserts many plans (ids already reserved) in one statement, skipping those whose
    /// idempotency key is taken; returns the ids inserted. Arrays carry no NULLs, so an absent
    /// key is `''` (keys are never empty) and an absent `run_after` is `Int64.min`.
    static func insertPlans(_ plans: [Plan]) -> PostgresQuery {
        """
        INSERT INTO plans (id, name, entry_kind, entry, args, input, priority, timeout_seconds, max_attempts,
                           env, labels, idempotency_key, run_after, status, enqueued_at, triggered_by, runtime)
        OVERRIDING SYSTEM VALUE
        SELECT id, name, entry_kind, entry, args, input, priority, timeout_seconds, max_attempts,
               env, labels::jsonb, NULLIF(idempotency_key, ''), NULLIF(run_after, \(Int64.min)), status, enqueued_at, triggered_by,
               NULLIF(runtime, '')
        FROM unnest(
            \(plans.map(\.id))::bigint[], \(plans.map(\.name))::text[], \(plans.map(\.entryPoint.kind))::text[],
            \(plans.map(\.entryPoint.value))::text[], \(plans.map { StringJSON.encode($0.args) })::text[], \(plans.map(\.input.text))::text[],
            \(plans.map { Int64($0.priority) })::bigint[], \(plans.map { Int64($0.timeoutSeconds) })::bigint[],
            \(plans.map { Int64($0.maxAttempts) })::bigint[], \(plans.map { StringJSON.encode($0.env) })::text[],
            \(plans.map { StringJSON.encode($0.labels) })::text[], \(plans.map { $0.idempotencyKey ?? "" })::text[],
            \(plans.map { $0.runAfter?.millisecondsSince1970 ?? Int64.min })::bigint[], \(plans.map(\.status.rawValue))::text[],
            \(plans.map(\.enqueuedAt.millisecondsSince1970))::bigint[], \(plans.map(\.triggeredBy))::text[],
            \(plans.map { $0.runtime.storedJSON ?? "" })::text[]
        ) AS p (id, name, entry_kind, entry, args, input, priority, timeout_seconds, max_attempts,
                env, labels, idempotency_key, run_after, status, enqueued_at, triggered_by, runtime)
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id
        """
    }

    static func plansByIdempotencyKeys(_ keys: [String]) -> PostgresQuery {
        "SELECT \(unescaped: columns) FROM plans WHERE idempotency_key = ANY(\(keys)::text[])"
    }

    static func insertEvent(_ event: PlanEvent.Draft) -> PostgresQuery {
        """
        INSERT INTO plan_events (plan_id, at, kind, attempt, actor, from_status, to_status, detail)
        VALUES (\(event.planID), \(event.at.millisecondsSince1970), \(event.kind.rawValue), \(event.attempt), \(event.actor),
                \(event.fromStatus?.rawValue), \(event.toStatus?.rawValue), \(event.detail))
        """
    }

    /// Appends many events in one statement. Statuses are never empty, so `''` stands for none;
    /// a detail may be, so a flag says whether there is one.
    static func insertEvents(_ events: [PlanEvent.Draft]) -> PostgresQuery {
        """
        INSERT INTO plan_events (plan_id, at, kind, attempt, actor, from_status, to_status, detail)
        SELECT plan_id, at, kind, attempt, actor, NULLIF(from_status, ''), NULLIF(to_status, ''),
               CASE WHEN has_detail THEN detail END
        FROM unnest(
            \(events.map(\.planID))::bigint[], \(events.map(\.at.millisecondsSince1970))::bigint[], \(events.map(\.kind.rawValue))::text[],
            \(events.map { Int64($0.attempt) })::bigint[], \(events.map(\.actor))::text[],
            \(events.map { $0.fromStatus?.rawValue ?? "" })::text[], \(events.map { $0.toStatus?.rawValue ?? "" })::text[],
            \(events.map { $0.detail ?? "" })::text[], \(events.map { $0.detail != nil })::boolean[]
        ) AS e (plan_id, at, kind, attempt, actor, from_status, to_status, detail, has_detail)
        """
    }

    // MARK: Claim and run

    /// One statement takes the best queued plans that no other node is taking: the subquery
    /// walks `plans_claim_order` and skips rows locked by concurrent claims, so nodes never wait
    /// on each other and never claim the same plan. The cost columns are not reset: they add up
    /// over every attempt.
    static func claim(limit: Int, owner: String, leaseExpiry: Int64, now: Int64) -> PostgresQuery {
        """
        WITH next AS (
            SELECT id FROM plans WHERE status = 'queued' ORDER BY priority, id LIMIT \(limit) FOR UPDATE SKIP LOCKED
        )
        UPDATE plans
        SET status = 'running', owner = \(owner), attempt = plans.attempt + 1, lease_expires_at = \(leaseExpiry),
            started_at = \(now), cancel_requested = false, process_group = NULL, finished_at = NULL, duration_ms = NULL,
            exit_code = NULL, signal = NULL, result = NULL, error_kind = NULL, error_message = NULL
        FROM next WHERE plans.id = next.id
        RETURNING \(unescaped: columns)
        """
    }

    static func recordProcessGroup(_ processGroup: Int32, for attempt: AttemptRef) -> PostgresQuery {
        """
        UPDATE plans SET process_group = \(processGroup)
        WHERE id = \(attempt.planID) AND status = 'running' AND owner = \(attempt.owner) AND attempt = \(attempt.attempt)
        RETURNING id
        """
    }

    /// Appends `event` while `attempt` holds its plan; returns the plan's id, or no row.
    static func insertEvent(_ event: PlanEvent.Draft, ifHeld attempt: AttemptRef) -> PostgresQuery {
        """
        INSERT INTO plan_events (plan_id, at, kind, attempt, actor, from_status, to_status, detail)
        SELECT id, \(event.at.millisecondsSince1970), \(event.kind.rawValue), \(event.attempt), \(event.actor),
               \(event.fromStatus?.rawValue), \(event.toStatus?.rawValue), \(event.detail)
        FROM plans
        WHERE id = \(attempt.planID) AND status = 'running' AND owner = \(attempt.owner) AND attempt = \(attempt.attempt)
        RETURNING plan_id
        """
    }

    /// One statement renews the leases of many runs, each named by (id, owner, attempt), and
    /// returns the runs still held.
    static func renewLeases(_ attempts: [AttemptRef], leaseExpiry: Int64) -> PostgresQuery {
        """
        UPDATE plans SET lease_expires_at = \(leaseExpiry)
        FROM unnest(\(attempts.map(\.planID))::bigint[], \(attempts.map(\.owner))::text[], \(attempts.map { Int64($0.attempt) })::bigint[])
             AS held (id, owner, attempt)
        WHERE plans.id = held.id AND plans.status = 'running' AND plans.owner = held.owner AND plans.attempt = held.attempt
        RETURNING plans.id, plans.owner, plans.attempt
        """
    }

    static func holdsPlan(_ attempt: AttemptRef) -> PostgresQuery {
        """
        SELECT 1 FROM plans
        WHERE id = \(attempt.planID) AND status = 'running' AND owner = \(attempt.owner) AND attempt = \(attempt.attempt)
        """
    }

    /// The plan, locked for the rest of the transaction: rules decide on a row nobody else can
    /// change before the write.
    static func planForUpdate(_ id: Int64) -> PostgresQuery {
        "SELECT \(unescaped: columns) FROM plans WHERE id = \(id) FOR UPDATE"
    }

    /// Writes a ``PlanTransition``: every column a change can touch, guarded by the row it was
    /// decided on (id, status, owner, attempt).
    static func writeTransition(_ transition: PlanTransition) -> PostgresQuery {
        let (from, plan) = (transition.from, transition.plan)
        return """
            UPDATE plans
            SET status = \(plan.status.rawValue), run_after = \(plan.runAfter?.millisecondsSince1970), recoveries = \(plan.recoveries),
                hand_backs = \(plan.handBacks), lease_expires_at = \(plan.leaseExpiresAt?.millisecondsSince1970),
                process_group = \(plan.processGroup), cancel_requested = \(plan.cancelRequested),
                finished_at = \(plan.finishedAt?.millisecondsSince1970), duration_ms = \(plan.durationMs), exit_code = \(plan.exitCode),
                signal = \(plan.signal), result = \(plan.result?.text), error_kind = \(plan.error?.kind.rawValue),
                error_message = \(plan.error?.message), input_tokens = \(plan.usage?.inputTokens),
                output_tokens = \(plan.usage?.outputTokens), cost_usd = \(plan.usage?.costUSD)
            WHERE id = \(from.id) AND status = \(from.status.rawValue) AND owner IS NOT DISTINCT FROM \(from.owner)
              AND attempt = \(from.attempt)
            RETURNING \(unescaped: columns)
            """
    }

    // MARK: Cancel, recover, promote

    static func planByID(_ id: Int64) -> PostgresQuery {
        "SELECT \(unescaped: columns) FROM plans WHERE id = \(id)"
    }

    /// Runs whose lease ran out, locked; rows another node's recovery holds are left to it.
    static func expiredLeases(now: Int64) -> PostgresQuery {
        """
        SELECT \(unescaped: columns) FROM plans WHERE status = 'running' AND lease_expires_at < \(now)
        ORDER BY id FOR UPDATE SKIP LOCKED
        """
    }

    static func promoteDue(now: Int64) -> PostgresQuery {
        """
        UPDATE plans SET status = 'queued' WHERE status = 'scheduled' AND run_after <= \(now)
        RETURNING \(unescaped: columns)
        """
    }

    // MARK: Read

    static let countsByStatus: PostgresQuery = "SELECT status, count(*) AS count FROM plans GROUP BY status"

    static let nextLeaseExpiry: PostgresQuery = """
        SELECT min(lease_expires_at) AS expiry FROM plans WHERE status = 'running'
        """

    static let oldestQueued: PostgresQuery = """
        SELECT enqueued_at FROM plans WHERE status = 'queued' ORDER BY id LIMIT 1
        """

    static let recentDurations: PostgresQuery = """
        SELECT duration_ms FROM plans
        WHERE finished_at IS NOT NULL AND duration_ms IS NOT NULL ORDER BY finished_at DESC LIMIT 1000
        """

    static let usageTotals: PostgresQuery = """
        SELECT coalesce(sum(input_tokens), 0)::bigint AS input_tokens, coalesce(sum(output_tokens), 0)::bigint AS output_tokens,
               coalesce(sum(cost_usd), 0)::double precision AS cost_usd
        FROM plans
        """

    static func events(of planID: Int64) -> PostgresQuery {
        """
        SELECT id, plan_id, at, kind, attempt, actor, from_status, to_status, detail
        FROM plan_events WHERE plan_id = \(planID) ORDER BY id
        """
    }

    /// A listing, newest first: the filters that apply joined with AND. Every value is bound.
    static func list(_ query: PlanQuery, limit: Int) throws -> PostgresQuery {
        var bindings = PostgresBindings()
        var conditions: [String] = []
        func bind<Value: PostgresThrowingDynamicTypeEncodable>(_ value: Value) throws -> String {
            try bindings.append(value)
            return "$\(bindings.count)"
        }
        let statuses = query.statuses.map(\.rawValue).sorted()
        if !statuses.isEmpty { conditions.append("status = ANY(\(try bind(statuses))::text[])") }
        if let cursor = query.cursor { conditions.append("id < \(try bind(cursor))") }
        if let name = query.nameContains, !name.isEmpty {
            // ILIKE: case-insensitive, as SQLite's LIKE is.
            conditions.append("name ILIKE \(try bind("%" + escapeLike(name) + "%")) ESCAPE '\\'")
        }
        if !query.labels.isEmpty {
            conditions.append("labels @> \(try bind(StringJSON.encode(query.labels)))::jsonb")
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = "SELECT \(columns) FROM plans \(filter) ORDER BY id DESC LIMIT \(try bind(limit + 1))"
        return PostgresQuery(unsafeSQL: sql, binds: bindings)
    }

    private static func escapeLike(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
    }

    // MARK: Output and steps

    static func outputTotals(_ planID: Int64, attempt: Int, stream: StandardStream) -> PostgresQuery {
        """
        SELECT stored_bytes, dropped_bytes FROM plan_output_totals
        WHERE plan_id = \(planID) AND attempt = \(attempt) AND stream = \(stream.rawValue)
        """
    }

    static func addToOutputTotals(_ attempt: AttemptRef, stream: StandardStream, stored: Int, dropped: Int) -> PostgresQuery {
        """
        INSERT INTO plan_output_totals (plan_id, attempt, stream, stored_bytes, dropped_bytes)
        VALUES (\(attempt.planID), \(attempt.attempt), \(stream.rawValue), \(stored), \(dropped))
        ON CONFLICT (plan_id, attempt, stream) DO UPDATE
        SET stored_bytes = plan_output_totals.stored_bytes + excluded.stored_bytes,
            dropped_bytes = plan_output_totals.dropped_bytes + excluded.dropped_bytes
        """
    }

    static func setOutputTotals(_ attempt: AttemptRef, stream: StandardStream, stored: Int) -> PostgresQuery {
        """
        INSERT INTO plan_output_totals (plan_id, attempt, stream, stored_bytes, dropped_bytes)
        VALUES (\(attempt.planID), \(attempt.attempt), \(stream.rawValue), \(stored), 0)
        ON CONFLICT (plan_id, attempt, stream) DO UPDATE SET stored_bytes = excluded.stored_bytes, dropped_bytes = 0
        """
    }

    static func insertOutput(_ bytes: ArraySlice<UInt8>, _ attempt: AttemptRef, stream: StandardStream) -> PostgresQuery {
        """
        INSERT INTO plan_output (plan_id, attempt, stream, data)
        VALUES (\(attempt.planID), \(attempt.attempt), \(stream.rawValue), \(ByteBuffer(bytes: bytes)))
        """
    }

    static func output(_ planID: Int64, attempt: Int, stream: StandardStream) -> PostgresQuery {
        """
        SELECT data FROM plan_output WHERE plan_id = \(planID) AND attempt = \(attempt) AND stream = \(stream.rawValue) ORDER BY id
        """
    }

    static func deleteOutput(_ attempt: AttemptRef, stream: StandardStream) -> PostgresQuery {
        "DELETE FROM plan_output WHERE plan_id = \(attempt.planID) AND attempt = \(attempt.attempt) AND stream = \(stream.rawValue)"
    }

    static func deleteSteps(_ attempt: AttemptRef) -> PostgresQuery {
        "DELETE FROM plan_steps WHERE plan_id = \(attempt.planID) AND attempt = \(attempt.attempt)"
    }

    static func insertStep(_ step: PlanStep, position: Int, _ attempt: AttemptRef) -> PostgresQuery {
        """
        INSERT INTO plan_steps (plan_id, attempt, position, name, status, started_at, finished_at, duration_ms,
                                input, output, error)
        VALUES (\(attempt.planID), \(attempt.attempt), \(position), \(step.name), \(step.status),
                \(step.startedAt?.millisecondsSince1970), \(step.finishedAt?.millisecondsSince1970), \(step.durationMs),
                \(step.input?.text), \(step.output?.text), \(step.error))
        """
    }

    static func steps(_ planID: Int64, attempt: Int) -> PostgresQuery {
        """
        SELECT name, status, started_at, finished_at, duration_ms, input, output, error
        FROM plan_steps WHERE plan_id = \(planID) AND attempt = \(attempt) ORDER BY position
        """
    }

    // MARK: Retention

    /// Deletes one chunk; output, steps and events go with their plan (ON DELETE CASCADE).
    static func pruneChunk(before cutoff: Int64, limit: Int) -> PostgresQuery {
        """
        DELETE FROM plans WHERE id IN (
            SELECT id FROM plans WHERE finished_at < \(cutoff) AND status = ANY(\(PlanStatus.terminal.map(\.rawValue))::text[])
            LIMIT \(limit))
        RETURNING id
        """
    }

    // MARK: Tokens

    static let tokenColumns = "id, name, role, created_at, last_used_at, revoked_at"

    static func insertToken(name: String, role: TokenRole, secretHash: [UInt8], now: Int64) -> PostgresQuery {
        """
        INSERT INTO tokens (name, role, secret_hash, created_at) VALUES (\(name), \(role.rawValue), \(ByteBuffer(bytes: secretHash)), \(now))
        RETURNING \(unescaped: tokenColumns)
        """
    }

    static let tokens: PostgresQuery = "SELECT id, name, role, created_at, last_used_at, revoked_at FROM tokens ORDER BY id"

    static func liveToken(secretHash: [UInt8]) -> PostgresQuery {
        "SELECT \(unescaped: tokenColumns) FROM tokens WHERE secret_hash = \(ByteBuffer(bytes: secretHash)) AND revoked_at IS NULL"
    }

    /// At most one write a minute per token, however many requests it makes.
    static func markTokenUsed(_ id: Int64, now: Int64) -> PostgresQuery {
        "UPDATE tokens SET last_used_at = \(now) WHERE id = \(id) AND (last_used_at IS NULL OR last_used_at < \(now - 60_000))"
    }

    static func revokeToken(_ id: Int64, now: Int64) -> PostgresQuery {
        "UPDATE tokens SET revoked_at = \(now) WHERE id = \(id) AND revoked_at IS NULL RETURNING \(unescaped: tokenColumns)"
    }

    static let liveTokenCount: PostgresQuery = "SELECT count(*) AS count FROM tokens WHERE revoked_at IS NULL"
}
