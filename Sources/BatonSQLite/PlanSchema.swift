import BatonCore

/// The store's schema, as an ordered list of migrations keyed on `PRAGMA user_version`.
///
/// Migration *n* takes a database from version *n − 1* to *n*. Each runs in its own
/// transaction together with the version bump, so a crash never leaves half a migration.
/// Append new migrations; never edit one that has shipped.
enum PlanSchema {
    struct Migration {
        let version: Int
        let summary: String
        let sql: String
    }

    static let migrations: [Migration] = [
        Migration(version: 1, summary: "plan queue: plans, labels, events, output, steps", sql: """
            CREATE TABLE plans (
                id               INTEGER PRIMARY KEY AUTOINCREMENT,
                name             TEXT    NOT NULL,
                entry_kind       TEXT    NOT NULL CHECK (entry_kind IN ('script', 'module', 'code')),
                entry            TEXT    NOT NULL,
                args             TEXT    NOT NULL,
                input            TEXT    NOT NULL,
                priority         INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 9),
                timeout_seconds  INTEGER NOT NULL CHECK (timeout_seconds > 0),
                max_attempts     INTEGER NOT NULL CHECK (max_attempts >= 1),
                env              TEXT    NOT NULL,
                labels           TEXT    NOT NULL,
                idempotency_key  TEXT    UNIQUE,
                run_after        INTEGER,
                status           TEXT    NOT NULL CHECK (status IN
                                     ('scheduled', 'queued', 'running', 'succeeded', 'failed', 'timed_out', 'canceled')),
                attempt          INTEGER NOT NULL DEFAULT 0,
                recoveries       INTEGER NOT NULL DEFAULT 0,
                hand_backs       INTEGER NOT NULL DEFAULT 0,
                owner            TEXT,
                lease_expires_at INTEGER,
                process_group    INTEGER,
                cancel_requested INTEGER NOT NULL DEFAULT 0,
                enqueued_at      INTEGER NOT NULL,
                started_at       INTEGER,
                finished_at      INTEGER,
                duration_ms      INTEGER,
                exit_code        INTEGER,
                signal           INTEGER,
                result           TEXT,
                error_kind       TEXT,
                error_message    TEXT,
                triggered_by     TEXT    NOT NULL,
                input_tokens     INTEGER,
                output_tokens    INTEGER,
                cost_usd         REAL
            );
            -- The claim walks this index in order and stops after LIMIT rows, so its cost does not
            -- grow with the number of queued or finished plans.
            CREATE INDEX plans_claim_order ON plans (priority, id) WHERE status = 'queued';
            CREATE INDEX plans_lease_expiry ON plans (lease_expires_at) WHERE status = 'running';
            CREATE INDEX plans_due ON plans (run_after) WHERE status = 'scheduled';
            CREATE INDEX plans_by_status ON plans (status, id);
            CREATE INDEX plans_by_finish ON plans (finished_at) WHERE finished_at IS NOT NULL;

            -- Labels are kept as JSON on the plan for reading, and here for filtering by key:value.
            CREATE TABLE plan_labels (
                plan_id INTEGER NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
                key     TEXT    NOT NULL,
                value   TEXT    NOT NULL,
                PRIMARY KEY (plan_id, key)
            ) WITHOUT ROWID;
            CREATE INDEX plan_labels_lookup ON plan_labels (key, value, plan_id);

            CREATE TABLE plan_events (
                id          INTEGER PRIMARY KEY,
                plan_id     INTEGER NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
                at          INTEGER NOT NULL,
                kind        TEXT    NOT NULL,
                attempt     INTEGER NOT NULL,
                actor       TEXT    NOT NULL,
                from_status TEXT,
                to_status   TEXT,
                detail      TEXT
            );
            CREATE INDEX plan_events_by_plan ON plan_events (plan_id, id);

            CREATE TABLE plan_output (
                id      INTEGER PRIMARY KEY,
                plan_id INTEGER NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
                attempt INTEGER NOT NULL,
                stream  TEXT    NOT NULL CHECK (stream IN ('stdout', 'stderr')),
                data    BLOB    NOT NULL
            );
            CREATE INDEX plan_output_by_stream ON plan_output (plan_id, attempt, stream, id);

            -- Running totals per stream of a run, so an append costs the same however much came
            -- before, and output past the cap is only counted.
            CREATE TABLE plan_output_totals (
                plan_id       INTEGER NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
                attempt       INTEGER NOT NULL,
                stream        TEXT    NOT NULL,
                stored_bytes  INTEGER NOT NULL,
                dropped_bytes INTEGER NOT NULL,
                PRIMARY KEY (plan_id, attempt, stream)
            ) WITHOUT ROWID;

            CREATE TABLE plan_steps (
                plan_id     INTEGER NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
                attempt     INTEGER NOT NULL,
                position    INTEGER NOT NULL,
                name        TEXT    NOT NULL,
                status      TEXT    NOT NULL,
                started_at  INTEGER,
                finished_at INTEGER,
                duration_ms INTEGER,
                input       TEXT,
                output      TEXT,
                error       TEXT,
                PRIMARY KEY (plan_id, attempt, position)
            ) WITHOUT ROWID;
            """),
        Migration(version: 2, summary: "API tokens", sql: """
            CREATE TABLE tokens (
                id           INTEGER PRIMARY KEY AUTOINCREMENT,
                name         TEXT    NOT NULL,
                role         TEXT    NOT NULL CHECK (role IN ('viewer', 'producer', 'admin')),
                secret_hash  BLOB    NOT NULL UNIQUE,
                created_at   INTEGER NOT NULL,
                last_used_at INTEGER,
                revoked_at   INTEGER
            );
            -- A name is reused only once its earlier token is revoked.
            CREATE UNIQUE INDEX tokens_live_name ON tokens (name) WHERE revoked_at IS NULL;
            """),
        Migration(version: 3, summary: "cluster: nodes, the leader lease, control commands, audit log", sql: """
            CREATE TABLE nodes (
                name          TEXT    PRIMARY KEY,
                instance      TEXT    NOT NULL,
                state         TEXT    NOT NULL CHECK (state IN ('running', 'paused', 'draining', 'restarting', 'stopped', 'lost')),
                generation    INTEGER NOT NULL,
                workers_total INTEGER NOT NULL,
                workers_busy  INTEGER NOT NULL,
                version       TEXT    NOT NULL,
                started_at    INTEGER NOT NULL,
                last_seen_at  INTEGER NOT NULL,
                lease_ms      INTEGER NOT NULL
            ) WITHOUT ROWID;

            -- One row while some node leads: maintenance runs on that node alone.
            CREATE TABLE leadership (
                role       TEXT    PRIMARY KEY,
                node       TEXT    NOT NULL,
                elected_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL
            ) WITHOUT ROWID;

            CREATE TABLE control_commands (
                id               INTEGER PRIMARY KEY AUTOINCREMENT,
                action           TEXT    NOT NULL CHECK (action IN ('poll', 'pause', 'resume', 'restart')),
                immediate        INTEGER NOT NULL DEFAULT 0,
                drain_timeout_ms INTEGER,
                target           TEXT    NOT NULL,
                origin           TEXT    NOT NULL,
                issued_by        TEXT    NOT NULL,
                issued_at        INTEGER NOT NULL
            );

            CREATE TABLE control_answers (
                command_id  INTEGER NOT NULL REFERENCES control_commands (id) ON DELETE CASCADE,
                node        TEXT    NOT NULL,
                answered_at INTEGER NOT NULL,
                answer      TEXT    NOT NULL,
                PRIMARY KEY (command_id, node)
            ) WITHOUT ROWID;

            CREATE TABLE audit_log (
                id      INTEGER PRIMARY KEY AUTOINCREMENT,
                at      INTEGER NOT NULL,
                actor   TEXT    NOT NULL,
                action  TEXT    NOT NULL,
                target  TEXT    NOT NULL,
                outcome TEXT    NOT NULL
            );
            CREATE INDEX audit_log_by_time ON audit_log (at);
            """),
        Migration(version: 4, summary: "plan runtime: network, limits, requirements", sql: """
            ALTER TABLE plans ADD COLUMN runtime TEXT;
            """),
    ]

    /// The version a fully migrated database has.
    static var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Brings the database to `target` (default: the latest version); returns the versions
    /// before and after. A database newer than this build is refused, not touched.
    @discardableResult
    static func migrate(_ connection: SQLiteConnection, to target: Int = latestVersion) throws -> (from: Int, to: Int) {
        let start = try connection.userVersion
        guard start <= latestVersion else {
            throw PlanStoreError(
                .schemaTooNew,
                "the database \(connection.path) has schema version \(start), but this Baton knows versions up to \(latestVersion): run a newer Baton, or restore a backup made for this one"
            )
        }
        for migration in migrations where migration.version > start && migration.version <= target {
            try connection.transaction(.immediate) {
                // Another process may have migrated since `start` was read: the write lock is
                // held now, so this answer is final.
                guard try connection.userVersion < migration.version else { return }
                try connection.execute(migration.sql)
                try connection.setUserVersion(migration.version)
            }
        }
        return (start, try connection.userVersion)
    }
}
