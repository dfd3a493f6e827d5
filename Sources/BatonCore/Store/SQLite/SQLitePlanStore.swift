import Foundation
import Logging

/// The plan queue in one SQLite file (WAL): one writer connection, a few readers, each on its
/// own thread.
public final class SQLitePlanStore: PlanStore {
    /// Where the database lives and the queue's policies.
    public struct Configuration: Sendable {
        /// The database file; created, and migrated to the latest schema, on open.
        public var path: String
        /// `normal`: commits survive a process crash. `full`: they survive power loss too.
        public var synchronous: SQLiteSynchronous = .normal
        /// How long a write waits for another process's lock before failing.
        public var busyTimeout: Duration = .seconds(10)
        /// Reader connections, for listings and reads beside the writer.
        public var readerCount = 2
        /// Default and maximum timeouts applied to specs.
        public var limits = PlanLimits()
        /// Output kept per stream per run; the rest is counted and dropped.
        public var maxOutputBytes = 1 << 20
        /// Times a plan is returned to the queue after its orchestrator vanished before it fails
        /// as `orphaned`.
        public var maxRecoveries = 3
        /// The most plans one batch may carry.
        public var maxBatchSize = 1000

        public init(path: String) {
            self.path = path
        }

        /// The database file inside a data directory.
        public static func databasePath(inDataDirectory directory: String) -> String {
            URL(fileURLWithPath: directory).appendingPathComponent("baton.sqlite").path
        }
    }

    public let configuration: Configuration
    let database: SQLiteDatabase
    private let logger: Logger

    /// Opens (creating and migrating as needed) the database at `configuration.path`.
    public init(configuration: Configuration, logger: Logger = Logger(label: "baton.store")) async throws {
        self.configuration = configuration
        self.logger = logger
        let options = SQLiteConnection.Options(synchronous: configuration.synchronous, busyTimeout: configuration.busyTimeout)
        database = try await SQLiteDatabase(path: configuration.path, options: options, readerCount: configuration.readerCount) { connection in
            let (from, to) = try PlanSchema.migrate(connection)
            if from != to {
                logger.info("migrated database schema", metadata: ["db.path": "\(configuration.path)", "schema.from": "\(from)", "schema.to": "\(to)"])
            }
        }
    }

    public var planLimits: PlanLimits { configuration.limits }

    /// The schema version of this build.
    public static var schemaVersion: Int { PlanSchema.latestVersion }

    public func close() async {
        await database.close()
    }

    // MARK: Enqueue

    public func enqueue(_ spec: PlanSpec, now: Date) async throws -> EnqueueResult {
        try spec.validate(limits: configuration.limits)
        let limits = configuration.limits
        return try await write { connection in
            try Self.insert(spec, limits: limits, now: now, into: connection)
        }
    }

    public func enqueueBatch(_ specs: [PlanSpec], now: Date) async throws -> [EnqueueResult] {
        guard specs.count <= configuration.maxBatchSize else {
            throw PlanValidationError(field: "plans", message: "a batch holds at most \(configuration.maxBatchSize) plans; got \(specs.count)")
        }
        var issues: [PlanValidationError.Issue] = []
        for (index, spec) in specs.enumerated() {
            do {
                try spec.validate(limits: configuration.limits)
            } catch {
                issues += error.nested(under: "plans[\(index)].").issues
            }
        }
        guard issues.isEmpty else { throw PlanValidationError(issues: issues) }
        let limits = configuration.limits
        return try await write { connection in
            try specs.map { try Self.insert($0, limits: limits, now: now, into: connection) }
        }
    }

    private static func insert(_ spec: PlanSpec, limits: PlanLimits, now: Date, into connection: SQLiteConnection) throws -> EnqueueResult {
        if let key = spec.idempotencyKey,
           let existing = try connection.firstRow(PlanQueries.planByIdempotencyKey, [key], plan(from:)) {
            return EnqueueResult(plan: existing, created: false)
        }
        var plan = Plan(enqueuing: spec, limits: limits, now: now)
        try connection.run(PlanQueries.insertPlan, [
            plan.name, plan.entryPoint.kind, plan.entryPoint.value, StringJSON.encode(plan.args), plan.input.text,
            plan.priority, plan.timeoutSeconds, plan.maxAttempts, StringJSON.encode(plan.env), StringJSON.encode(plan.labels),
            plan.idempotencyKey, plan.runAfter?.millisecondsSince1970, plan.status.rawValue, now.millisecondsSince1970, plan.triggeredBy,
        ])
        plan.id = connection.lastInsertRowID
        for (key, value) in spec.labels {
            try connection.run(PlanQueries.insertLabel, [plan.id, key, value])
        }
        try appendEvent(.enqueued, plan: plan.id, attempt: 0, actor: spec.triggeredBy, from: nil, to: plan.status, now: now, in: connection)
        return EnqueueResult(plan: plan, created: true)
    }

    // MARK: Claim and run

    public func claim(limit: Int, owner: String, leaseDuration: Duration, now: Date) async throws -> [Plan] {
        guard limit > 0 else { return [] }
        let leaseExpiry = (now + leaseDuration.timeInterval).millisecondsSince1970
        return try await write { connection in
            let claimed = try connection.rows(PlanQueries.claim, [owner, leaseExpiry, now.millisecondsSince1970, limit], Self.plan(from:))
                .sorted { ($0.priority, $0.id) < ($1.priority, $1.id) }
            for plan in claimed {
                try Self.appendEvent(.claimed, plan: plan.id, attempt: plan.attempt, actor: owner, from: .queued, to: .running, now: now, in: connection)
            }
            return claimed
        }
    }

    public func recordProcessGroup(_ processGroup: Int32, for attempt: AttemptRef, now: Date) async throws {
        try await write { connection in
            try connection.run(PlanQueries.recordProcessGroup, [processGroup] + Self.guardBindings(attempt))
            guard connection.changes == 1 else { throw try Self.notHeldError(attempt, in: connection) }
            try Self.appendEvent(.started, plan: attempt.planID, attempt: attempt.attempt, actor: attempt.owner, from: nil, to: nil,
                                 detail: "process group \(processGroup)", now: now, in: connection)
        }
    }

    public func renewLeases(_ attempts: [AttemptRef], leaseDuration: Duration, now: Date) async throws -> Set<AttemptRef> {
        // SQLite allows 32,766 bound values: far more runs than one orchestrator holds.
        guard !attempts.isEmpty else { return [] }
        let leaseExpiry = (now + leaseDuration.timeInterval).millisecondsSince1970
        let sql = PlanQueries.renewLeases(count: attempts.count)
        let bindings: [SQLiteBindable] = [leaseExpiry] + attempts.map(\.planID) + attempts.flatMap(Self.guardBindings)
        return try await write { connection in
            Set(try connection.prepare(sql).rows(bindings) {
                AttemptRef(planID: $0.int64("id"), owner: $0.string("owner"), attempt: $0.int("attempt"))
            })
        }
    }

    public func finish(_ attempt: AttemptRef, outcome: PlanOutcome, now: Date) async throws -> Plan {
        guard outcome.status.isTerminal else {
            throw PlanStoreError.invalidTransition(attempt.planID, from: .running, to: outcome.status)
        }
        return try await write { connection in
            let plan = try Self.updatePlan(PlanQueries.finish, [outcome.status.rawValue, now.millisecondsSince1970]
                + Self.outcomeBindings(outcome) + Self.guardBindings(attempt), attempt, in: connection)
            try Self.appendEvent(.finished, plan: plan.id, attempt: attempt.attempt, actor: attempt.owner, from: .running,
                                 to: outcome.status, detail: outcome.error.map { "\($0.kind.rawValue): \($0.message)" }, now: now, in: connection)
            return plan
        }
    }

    public func requeue(_ attempt: AttemptRef, _ requeue: Requeue, now: Date) async throws -> Plan {
        try await write { connection in
            let current = try Self.heldPlan(attempt, in: connection)
            if current.cancelRequested {
                let outcome = PlanOutcome(status: .canceled, error: PlanFailure(kind: .canceled, message: "canceled while running"))
                let plan = try Self.updatePlan(PlanQueries.finish, [PlanStatus.canceled.rawValue, now.millisecondsSince1970]
                    + Self.outcomeBindings(outcome) + Self.guardBindings(attempt), attempt, in: connection)
                try Self.appendEvent(.canceled, plan: plan.id, attempt: attempt.attempt, actor: attempt.owner, from: .running,
                                     to: .canceled, detail: "a cancel was requested before the plan could be requeued", now: now, in: connection)
                return plan
            }
            let status: PlanStatus
            let runAfter: Date?
            let handBack: Int
            let failedRun: PlanOutcome?
            let detail: String
            switch requeue {
            case .retry(let outcome, let runAt):
                guard outcome.status == .failed || outcome.status == .timedOut else {
                    throw PlanStoreError(.retryRefused, planID: attempt.planID,
                                         "plan \(attempt.planID) cannot be retried after a run that ended \(outcome.status.rawValue): only failed and timed-out runs are retried")
                }
                guard current.hasAttemptsLeft else {
                    throw PlanStoreError(.retryRefused, planID: attempt.planID,
                                         "plan \(attempt.planID) has used \(current.countedAttempts) of its \(current.maxAttempts) attempts: finish it instead of retrying")
                }
                status = runAt > now ? .scheduled : .queued
                runAfter = runAt
                handBack = 0
                failedRun = outcome
                detail = "retry after \(outcome.status.rawValue)\(outcome.error.map { " (\($0.kind.rawValue))" } ?? "")"
            case .handBack(let reason):
                status = .queued
                runAfter = current.runAfter
                handBack = 1
                failedRun = nil
                detail = "handed back: \(reason)"
            }
            try Self.checkMove(current, to: status)
            let plan = try Self.updatePlan(PlanQueries.requeue, [status.rawValue, runAfter?.millisecondsSince1970, handBack]
                + Self.outcomeBindings(failedRun) + Self.guardBindings(attempt), attempt, in: connection)
            try Self.appendEvent(.requeued, plan: plan.id, attempt: attempt.attempt, actor: attempt.owner, from: .running,
                                 to: status, detail: detail, now: now, in: connection)
            return plan
        }
    }

    // MARK: Cancel, recover, promote

    public func cancel(_ planID: Int64, actor: String, now: Date) async throws -> CancelResult {
        try await write { connection in
            guard let current = try connection.firstRow(PlanQueries.planByID, [planID], Self.plan(from:)) else {
                throw PlanStoreError.planNotFound(planID)
            }
            try Self.checkMove(current, to: .canceled)
            if current.status == .running {
                guard !current.cancelRequested else { return .cancelRequested(current) }
                guard let plan = try connection.firstRow(PlanQueries.requestCancel, [planID], Self.plan(from:)) else {
                    throw PlanStoreError.planNotFound(planID)
                }
                try Self.appendEvent(.cancelRequested, plan: planID, attempt: current.attempt, actor: actor, from: nil, to: nil, now: now, in: connection)
                return .cancelRequested(plan)
            }
            guard let plan = try connection.firstRow(PlanQueries.cancelWaiting, [now.millisecondsSince1970, "canceled by \(actor) before it ran", planID], Self.plan(from:)) else {
                throw PlanStoreError.planNotFound(planID)
            }
            try Self.appendEvent(.canceled, plan: planID, attempt: current.attempt, actor: actor, from: current.status, to: .canceled, now: now, in: connection)
            return .canceled(plan)
        }
    }

    public func recoverExpiredLeases(
        now: Date,
        stopLostRun: @escaping @Sendable (_ lost: AttemptRef, _ processGroup: Int32) -> Void
    ) async throws -> [Recovery] {
        let maxRecoveries = configuration.maxRecoveries
        let recoveries = try await write { connection in
            try connection.rows(PlanQueries.expiredLeases, [now.millisecondsSince1970], Self.plan(from:)).map { plan in
                let lost = AttemptRef(planID: plan.id, owner: plan.owner ?? "", attempt: plan.attempt)
                if let processGroup = plan.processGroup { stopLostRun(lost, processGroup) }
                let newStatus: PlanStatus
                var detail = "lease of \(lost.owner) expired"
                if plan.cancelRequested {
                    newStatus = .canceled
                    try connection.run(PlanQueries.recoverToTerminal, [newStatus.rawValue, now.millisecondsSince1970, PlanFailure.Kind.canceled.rawValue,
                                                                       "canceled; its orchestrator stopped before it could stop the plan"] + Self.guardBindings(lost))
                } else if plan.recoveries >= maxRecoveries {
                    newStatus = .failed
                    detail += "; recovered \(plan.recoveries) times already, giving up"
                    try connection.run(PlanQueries.recoverToTerminal, [newStatus.rawValue, now.millisecondsSince1970, PlanFailure.Kind.orphaned.rawValue,
                                                                       "its orchestrator stopped heartbeating \(plan.recoveries + 1) times while running it; not retried again"] + Self.guardBindings(lost))
                } else {
                    newStatus = .queued
                    try connection.run(PlanQueries.recoverToQueue, Self.guardBindings(lost))
                }
                guard connection.changes == 1 else { throw try Self.notHeldError(lost, in: connection) }
                try Self.appendEvent(.heartbeatLost, plan: plan.id, attempt: plan.attempt, actor: "recovery", from: .running, to: newStatus,
                                     detail: detail, now: now, in: connection)
                return Recovery(planID: plan.id, lostAttempt: lost, processGroup: plan.processGroup, newStatus: newStatus)
            }
        }
        for recovery in recoveries {
            logger.warning("recovered plan from an expired lease", metadata: [
                "plan.id": "\(recovery.planID)", "plan.attempt": "\(recovery.lostAttempt.attempt)",
                "plan.owner": "\(recovery.lostAttempt.owner)", "plan.status": "\(recovery.newStatus.rawValue)",
            ])
        }
        return recoveries
    }

    public func promoteDueScheduled(now: Date) async throws -> [Int64] {
        try await write { connection in
            let due = try connection.rows(PlanQueries.promoteDue, [now.millisecondsSince1970]) { ($0.int64("id"), $0.int("attempt")) }
            for (id, attempt) in due {
                try Self.appendEvent(.promoted, plan: id, attempt: attempt, actor: "scheduler", from: .scheduled, to: .queued, now: now, in: connection)
            }
            return due.map(\.0).sorted()
        }
    }

    // MARK: Read

    public func plan(_ id: Int64) async throws -> Plan? {
        try await read { connection in
            try connection.firstRow(PlanQueries.planByID, [id], Self.plan(from:))
        }
    }

    public func plans(matching query: PlanQuery) async throws -> PlanPage {
        let limit = min(max(query.limit, 1), PlanQuery.maxLimit)
        let statuses = query.statuses.map(\.rawValue).sorted()
        let labels = query.labels.sorted { $0.key < $1.key }
        let nameFilter = query.nameContains.flatMap { $0.isEmpty ? nil : $0 }
        let sql = PlanQueries.list(statusCount: statuses.count, labelCount: labels.count, hasCursor: query.cursor != nil, hasNameFilter: nameFilter != nil)
        var bindings: [SQLiteBindable] = statuses
        if let cursor = query.cursor { bindings.append(cursor) }
        if let nameFilter { bindings.append("%" + Self.escapeLike(nameFilter) + "%") }
        for (key, value) in labels { bindings += [key, value] }
        bindings.append(limit + 1)
        let values = bindings
        let plans = try await read { connection in
            // Composed at run time, so not kept in the statement cache.
            try connection.prepare(sql).rows(values, Self.plan(from:))
        }
        let hasMore = plans.count > limit
        let shown = Array(plans.prefix(limit))
        return PlanPage(plans: shown, nextCursor: hasMore ? shown.last?.id : nil)
    }

    public func countsByStatus() async throws -> [PlanStatus: Int] {
        let rows = try await read { connection in
            try connection.rows(PlanQueries.countsByStatus) { ($0.string("status"), $0.int("count")) }
        }
        var counts: [PlanStatus: Int] = [:]
        for (status, count) in rows {
            if let status = PlanStatus(rawValue: status) { counts[status] = count }
        }
        return counts
    }

    public func oldestQueuedEnqueuedAt() async throws -> Date? {
        try await read { connection in
            try connection.firstRow(PlanQueries.oldestQueued) { Date(millisecondsSince1970: $0.int64("enqueued_at")) }
        }
    }

    public func runSummary() async throws -> RunSummary {
        try await read(snapshot: true) { connection in
            let durations = try connection.rows(PlanQueries.recentDurations) { $0.int64("duration_ms") }
            return try connection.firstRow(PlanQueries.usageTotals) { row in
                RunSummary(recentDurationsMs: durations, inputTokens: row.int64("input_tokens"),
                           outputTokens: row.int64("output_tokens"), costUSD: row.double("cost_usd"))
            } ?? RunSummary(recentDurationsMs: durations, inputTokens: 0, outputTokens: 0, costUSD: 0)
        }
    }

    public func events(of planID: Int64) async throws -> [PlanEvent] {
        try await read { connection in
            try connection.rows(PlanQueries.events, [planID], Self.event(from:)).compactMap { $0 }
        }
    }

    // MARK: Output and steps

    public func appendOutput(_ bytes: [UInt8], stream: StandardStream, for attempt: AttemptRef) async throws {
        guard !bytes.isEmpty else { return }
        let cap = configuration.maxOutputBytes
        try await write { connection in
            try Self.requireHeld(attempt, in: connection)
            let key: [SQLiteBindable] = [attempt.planID, attempt.attempt, stream.rawValue]
            let stored = try connection.firstRow(PlanQueries.outputTotals, key) { $0.int("stored_bytes") } ?? 0
            let kept = max(0, min(bytes.count, cap - stored))
            if kept > 0 {
                try connection.run(PlanQueries.insertOutput, key + [kept == bytes.count ? bytes : Array(bytes.prefix(kept))])
            }
            try connection.run(PlanQueries.addToOutputTotals, key + [kept, bytes.count - kept])
        }
    }

    public func saveOutput(_ bytes: [UInt8], stream: StandardStream, for attempt: AttemptRef) async throws {
        try await write { connection in
            try Self.requireHeld(attempt, in: connection)
            let key: [SQLiteBindable] = [attempt.planID, attempt.attempt, stream.rawValue]
            try connection.run(PlanQueries.deleteOutput, key)
            if !bytes.isEmpty { try connection.run(PlanQueries.insertOutput, key + [bytes]) }
            // The capture carries its own truncation notice; nothing was dropped by the store.
            try connection.run(PlanQueries.setOutputTotals, key + [bytes.count])
        }
    }

    public func output(of planID: Int64, stream: StandardStream, attempt: Int?) async throws -> PlanOutput {
        try await read(snapshot: true) { connection in
            guard let plan = try connection.firstRow(PlanQueries.planByID, [planID], Self.plan(from:)) else {
                throw PlanStoreError.planNotFound(planID)
            }
            let key: [SQLiteBindable] = [planID, attempt ?? plan.attempt, stream.rawValue]
            let dropped = try connection.firstRow(PlanQueries.outputTotals, key) { $0.int64("dropped_bytes") } ?? 0
            let chunks = try connection.rows(PlanQueries.output, key) { $0.bytes("data") }
            return PlanOutput(bytes: Array(chunks.joined()), droppedBytes: dropped)
        }
    }

    public func saveSteps(_ steps: [PlanStep], for attempt: AttemptRef) async throws {
        try await write { connection in
            try Self.requireHeld(attempt, in: connection)
            try connection.run(PlanQueries.deleteSteps, [attempt.planID, attempt.attempt])
            for (position, step) in steps.enumerated() {
                try connection.run(PlanQueries.insertStep, [
                    attempt.planID, attempt.attempt, position, step.name, step.status,
                    step.startedAt?.millisecondsSince1970, step.finishedAt?.millisecondsSince1970, step.durationMs,
                    step.input?.text, step.output?.text, step.error,
                ])
            }
        }
    }

    public func steps(of planID: Int64) async throws -> [PlanStep] {
        try await read(snapshot: true) { connection in
            guard let plan = try connection.firstRow(PlanQueries.planByID, [planID], Self.plan(from:)) else {
                throw PlanStoreError.planNotFound(planID)
            }
            return try connection.rows(PlanQueries.steps, [planID, plan.attempt], Self.step(from:))
        }
    }

    // MARK: Retention

    public func prune(finishedBefore cutoff: Date) async throws -> Int {
        let sql = PlanQueries.pruneChunk(limit: 500)
        var total = 0
        // Small transactions, so the writer is never held for long by a large clean-up.
        while true {
            let deleted = try await write { connection in
                try connection.run(sql, [cutoff.millisecondsSince1970])
                return connection.changes
            }
            total += deleted
            if deleted == 0 { break }
        }
        if total > 0 {
            logger.info("pruned finished plans", metadata: ["prune.count": "\(total)", "prune.cutoff": "\(cutoff)"])
        }
        return total
    }

    // MARK: Helpers

    /// Runs `body` in a write transaction, turning a lock timeout into a ``PlanStoreError``.
    private func write<T: Sendable>(_ body: @Sendable @escaping (SQLiteConnection) throws -> T) async throws -> T {
        try await reportingBusy { try await database.write(body) }
    }

    /// Runs `body` on a reader, turning a lock timeout into a ``PlanStoreError``.
    private func read<T: Sendable>(snapshot: Bool = false, _ body: @Sendable @escaping (SQLiteConnection) throws -> T) async throws -> T {
        try await reportingBusy { try await database.read(snapshot: snapshot, body) }
    }

    private func reportingBusy<T>(_ operation: () async throws -> T) async throws -> T {
        do {
            return try await operation()
        } catch let error as SQLiteError where error.isBusy {
            throw PlanStoreError(.databaseBusy, "the database stayed locked by another process for longer than \(configuration.busyTimeout); try again")
        }
    }

    private static func guardBindings(_ attempt: AttemptRef) -> [SQLiteBindable] {
        [attempt.planID, attempt.owner, attempt.attempt]
    }

    /// Throws unless the status machine allows `plan` to move to `next`.
    private static func checkMove(_ plan: Plan, to next: PlanStatus) throws {
        guard plan.status.canMove(to: next) else {
            throw PlanStoreError.invalidTransition(plan.id, from: plan.status, to: next)
        }
    }

    /// The plan `attempt` names, provided that run still holds it.
    private static func heldPlan(_ attempt: AttemptRef, in connection: SQLiteConnection) throws -> Plan {
        guard let plan = try connection.firstRow(PlanQueries.planByID, [attempt.planID], plan(from:)) else {
            throw PlanStoreError.planNotFound(attempt.planID)
        }
        guard plan.status == .running, plan.owner == attempt.owner, plan.attempt == attempt.attempt else {
            throw PlanStoreError.attemptNotHeld(attempt, current: plan)
        }
        return plan
    }

    private static func requireHeld(_ attempt: AttemptRef, in connection: SQLiteConnection) throws {
        guard try connection.firstRow(PlanQueries.holdsPlan, guardBindings(attempt), { _ in true }) == true else {
            throw try notHeldError(attempt, in: connection)
        }
    }

    /// Runs a guarded `UPDATE … RETURNING` and returns the updated plan, or says why no row matched.
    private static func updatePlan(_ sql: String, _ bindings: [SQLiteBindable], _ attempt: AttemptRef, in connection: SQLiteConnection) throws -> Plan {
        guard let plan = try connection.firstRow(sql, bindings, plan(from:)) else {
            throw try notHeldError(attempt, in: connection)
        }
        return plan
    }

    private static func appendEvent(
        _ kind: PlanEvent.Kind, plan: Int64, attempt: Int, actor: String, from: PlanStatus?, to: PlanStatus?,
        detail: String? = nil, now: Date, in connection: SQLiteConnection
    ) throws {
        try connection.run(PlanQueries.insertEvent, [plan, now.millisecondsSince1970, kind.rawValue, attempt, actor, from?.rawValue, to?.rawValue, detail])
    }

    /// Why a guarded write touched no row: the plan is gone, or the run no longer holds it.
    private static func notHeldError(_ attempt: AttemptRef, in connection: SQLiteConnection) throws -> PlanStoreError {
        guard let current = try connection.firstRow(PlanQueries.planByID, [attempt.planID], plan(from:)) else {
            return .planNotFound(attempt.planID)
        }
        return .attemptNotHeld(attempt, current: current)
    }

    private static func escapeLike(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
    }
}
