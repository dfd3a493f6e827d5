import BatonCore
import Logging
import PostgresNIO

/// The store's schema in PostgreSQL, as an ordered list of migrations recorded in
/// `baton_schema`.
///
/// Every node migrates on start. The migrations run in one transaction that first takes a
/// transaction-level advisory lock, so when several nodes start at once one migrates and the
/// others wait, then find nothing left to do. Append new migrations; never edit one that has
/// shipped.
///
/// Times are milliseconds since 1970 in `bigint` columns, as in the SQLite store, so both keep
/// the same precision (`Date.storedPrecision`).
enum PostgresSchema {
    struct Migration {
        let version: Int
        let summary: String
        let sql: [String]
    }

    /// The advisory lock key migrations hold: "baton" in ASCII.
    static let migrationLock: Int64 = 0x6261_746F_6E

    static let migrations: [Migration] = [
        Migration(version: 1, summary: "plan queue: plans, events, output, steps, tokens", sql: [
            """
            CREATE TABLE plans (
                id               bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                name             text    NOT NULL,
                entry_kind       text    NOT NULL CHECK (entry_kind IN ('script', 'module', 'code')),
                entry            text    NOT NULL,
                args             text    NOT NULL,
                input            text    NOT NULL,
                priority         integer NOT NULL CHECK (priority BETWEEN 0 AND 9),
                timeout_seconds  integer NOT NULL CHECK (timeout_seconds > 0),
                max_attempts     integer NOT NULL CHECK (max_attempts >= 1),
                env              text    NOT NULL,
                labels           jsonb   NOT NULL,
                idempotency_key  text    UNIQUE,
                run_after        bigint,
                status           text    NOT NULL CHECK (status IN
                                     ('scheduled', 'queued', 'running', 'succeeded', 'failed', 'timed_out', 'canceled')),
                attempt          integer NOT NULL DEFAULT 0,
                recoveries       integer NOT NULL DEFAULT 0,
                hand_backs       integer NOT NULL DEFAULT 0,
                owner            text,
                lease_expires_at bigint,
                process_group    integer,
                cancel_requested boolean NOT NULL DEFAULT false,
                enqueued_at      bigint  NOT NULL,
                started_at       bigint,
                finished_at      bigint,
                duration_ms      bigint,
                exit_code        integer,
                signal           integer,
                result           text,
                error_kind       text,
                error_message    text,
                triggered_by     text    NOT NULL,
                input_tokens     bigint,
                output_tokens    bigint,
                cost_usd         double precision
            )
            """,
            // The claim walks this index in order and stops after LIMIT rows, skipping rows other
            // nodes hold, so its cost does not grow with the number of queued or finished plans.
            "CREATE INDEX plans_claim_order ON plans (priority, id) WHERE status = 'queued'",
            "CREATE INDEX plans_lease_expiry ON plans (lease_expires_at) WHERE status = 'running'",
            "CREATE INDEX plans_due ON plans (run_after) WHERE status = 'scheduled'",
            "CREATE INDEX plans_by_status ON plans (status, id)",
            "CREATE INDEX plans_by_finish ON plans (finished_at) WHERE finished_at IS NOT NULL",
            // Label filters are containment tests (`labels @> '{"branch": "main"}'`).
            "CREATE INDEX plans_by_label ON plans USING gin (labels jsonb_path_ops)",
            """
            CREATE TABLE plan_events (
                id          bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                plan_id     bigint  NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
                at          bigint  NOT NULL,
                kind        text    NOT NULL,
                attempt     integer NOT NULL,
                actor       text    NOT NULL,
                from_status text,
                to_status   text,
                detail      text
            )
            """,
            "CREATE INDEX plan_events_by_plan ON plan_events (plan_id, id)",
            """
            CREATE TABLE plan_output (
                id      bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                plan_id bigint  NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
                attempt integer NOT NULL,
                stream  text    NOT NULL CHECK (stream IN ('stdout', 'stderr')),
                data    bytea   NOT NULL
            )
            """,
            "CREATE INDEX plan_output_by_stream ON plan_output (plan_id, attempt, stream, id)",
            // Running totals per stream of a run, so an append costs the same however much came
            // before, and output past the cap is only counted.
            """
            CREATE TABLE plan_output_totals (
                plan_id       bigint  NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
                attempt       integer NOT NULL,
                stream        text    NOT NULL,
                stored_bytes  bigint  NOT NULL,
                dropped_bytes bigint  NOT NULL,
                PRIMARY KEY (plan_id, attempt, stream)
            )
            """,
            """
            CREATE TABLE plan_steps (
                plan_id     bigint  NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
                attempt     integer NOT NULL,
                position    integer NOT NULL,
                name        text    NOT NULL,
                status      text    NOT NULL,
                started_at  bigint,
                finished_at bigint,
                duration_ms bigint,
                input       text,
                output      text,
                error       text,
                PRIMARY KEY (plan_id, attempt, position)
            )
            """,
            """
            CREATE TABLE tokens (
                id           bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                name         text    NOT NULL,
                role         text    NOT NULL CHECK (role IN ('viewer', 'producer', 'admin')),
                secret_hash  bytea   NOT NULL UNIQUE,
                created_at   bigint  NOT NULL,
                last_used_at bigint,
                revoked_at   bigint
            )
            """,
            // A name is reused only once its earlier token is revoked.
            "CREATE UNIQUE INDEX tokens_live_name ON tokens (name) WHERE revoked_at IS NULL",
        ]),
        Migration(version: 2, summary: "cluster: nodes, the leader lease, control commands, audit log", sql: [
            """
            CREATE TABLE nodes (
                name          text    PRIMARY KEY,
                instance      text    NOT NULL,
                state         text    NOT NULL CHECK (state IN ('running', 'paused', 'draining', 'restarting', 'stopped', 'lost')),
                generation    integer NOT NULL,
                workers_total integer NOT NULL,
                workers_busy  integer NOT NULL,
                version       text    NOT NULL,
                started_at    bigint  NOT NULL,
                last_seen_at  bigint  NOT NULL,
                lease_ms      bigint  NOT NULL
            )
            """,
            // One row while some node leads: maintenance runs on that node alone.
            """
            CREATE TABLE leadership (
                role       text   PRIMARY KEY,
                node       text   NOT NULL,
                elected_at bigint NOT NULL,
                expires_at bigint NOT NULL
            )
            """,
            """
            CREATE TABLE control_commands (
                id               bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                action           text    NOT NULL CHECK (action IN ('poll', 'pause', 'resume', 'restart')),
                immediate        boolean NOT NULL DEFAULT false,
                drain_timeout_ms bigint,
                target           text    NOT NULL,
                origin           text    NOT NULL,
                issued_by        text    NOT NULL,
                issued_at        bigint  NOT NULL
            )
            """,
            """
            CREATE TABLE control_answers (
                command_id  bigint NOT NULL REFERENCES control_commands (id) ON DELETE CASCADE,
                node        text   NOT NULL,
                answered_at bigint NOT NULL,
                answer      text   NOT NULL,
                PRIMARY KEY (command_id, node)
            )
            """,
            """
            CREATE TABLE audit_log (
                id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                at      bigint NOT NULL,
                actor   text   NOT NULL,
                action  text   NOT NULL,
                target  text   NOT NULL,
                outcome text   NOT NULL
            )
            """,
            "CREATE INDEX audit_log_by_time ON audit_log (at)",
        ]),
        Migration(version: 3, summary: "plan runtime: network, limits, requirements", sql: [
            "ALTER TABLE plans ADD COLUMN runtime text",
        ]),
    ]

    /// The version a fully migrated database has.
    static var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Brings the database to the latest version under the migration lock; returns the versions
    /// before and after. A database newer than this build is refused, not touched.
    static func migrate(_ client: PostgresClient, logger: Logger) async throws -> (from: Int, to: Int) {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(migrationLock))", logger: logger)
            try await connection.query("CREATE TABLE IF NOT EXISTS baton_schema (version integer NOT NULL)", logger: logger)
            let start = try await connection.first("SELECT coalesce(max(version), 0) AS version FROM baton_schema", logger: logger) {
                try $0.int("version")
            } ?? 0
            guard start <= latestVersion else {
                throw PlanStoreError(
                    .schemaTooNew,
                    "the database has schema version \(start), but this Baton knows versions up to \(latestVersion): run a newer Baton, or restore a backup made for this one"
                )
            }
            for migration in migrations where migration.version > start {
                for statement in migration.sql {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO baton_schema (version) VALUES (\(migration.version))", logger: logger)
            }
            return (start, latestVersion)
        }
    }
}
