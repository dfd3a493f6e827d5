import BatonCore
import Foundation
import Logging

/// The plan queue in one SQLite file (WAL): one writer connection, a few readers, each on its
/// own thread.
///
/// The rules are ``QueueRules``': each change reads its row in the write transaction, asks the
/// rules, and writes their ``PlanTransition`` with one guarded statement.
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
        /// The queue's policies: limits, output cap, orphan cap, batch size.
        public var policy = QueuePolicy()

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
    let logger: Logger

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

    public var policy: QueuePolicy { configuration.policy }

    /// The schema version of this build.
    public static var schemaVersion: Int { PlanSchema.latestVersion }

    public func close() async {
        await database.close()
    }

    // MARK: Enqueue

    public func enqueue(_ spec: PlanSpec, now: Date) async throws -> EnqueueResult {
        let policy = policy
        try QueueRules.validate(spec, policy: policy)
        return try await write { connection in
            try Self.insert(spec, policy: policy, now: now, into: connection)
        }
    }

    public func enqueueBatch(_ specs: [PlanSpec], now: Date) async throws -> [EnqueueResult] {
        let policy = policy
        try QueueRules.validateBatch(specs, policy: policy)
        return try await write { connection in
            try specs.map { try Self.insert($0, policy: policy, now: now, into: connection) }
        }
    }

    private static func insert(_ spec: PlanSpec, policy: QueuePolicy, now: Date, into connection: SQLiteConnection) throws -> EnqueueResult {
        if let key = spec.idempotencyKey,
           let existing = try connection.firstRow(PlanQueries.planByIdempotencyKey, [key], plan(from:)) {
            return EnqueueResult(plan: existing, created: false)
        }
        var (plan, event) = QueueRules.enqueuing(spec, policy: policy, now: now)
        try connection.run(PlanQueries.insertPlan, [
            plan.name, plan.entryPoint.kind, plan.entryPoint.value, StringJSON.encode(plan.args), plan.input.text,
            plan.priority, plan.timeoutSeconds, plan.maxAttempts, StringJSON.encode(plan.env), StringJSON.encode(plan.labels),
            plan.idempotencyKey, plan.runAfter?.millisecondsSince1970, plan.status.rawValue, plan.enqueuedAt.millisecondsSince1970, plan.triggeredBy,
            plan.runtime.storedJSON,
        ])
        plan.id = connection.lastInsertRowID
        for (key, value) in spec.labels {
            try connection.run(PlanQueries.insertLabel, [plan.id, key, value])
        }
        try append(event.forPlan(plan.id), in: connection)
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
                try Self.append(QueueRules.claimed(plan, owner: owner, now: now), in: connection)
            }
            return claimed
        }
    }

    public func recordProcessGroup(_ processGroup: Int32, for attempt: AttemptRef, now: Date) async throws {
        try await write { connection in
            try connection.run(PlanQueries.recordProcessGroup, [processGroup] + Self.guardBindings(attempt))
            guard connection.changes == 1 else { throw try Self.notHeldError(attempt, in: connection) }
            try Self.append(QueueRules.started(attempt, processGroup: processGroup, now: now), in: connection)
        }
    }

    public func recordSetup(_ detail: String, for attempt: AttemptRef, now: Date) async throws {
        try await write { connection in
            guard try connection.firstRow(PlanQueries.heldAttempt, Self.guardBindings(attempt), { _ in true }) != nil else {
                throw try Self.notHeldError(attempt, in: connection)
            }
            try Self.append(QueueRules.setUp(attempt, detail: detail, now: now), in: connection)
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
        try await write { connection in
            try Self.apply(QueueRules.finishing(try Self.current(attempt.planID, in: connection), attempt, outcome: outcome, now: now), in: connection)
        }
    }

    public func requeue(_ attempt: AttemptRef, _ requeue: Requeue, now: Date) async throws -> Plan {
        try await write { connection in
            try Self.apply(QueueRules.requeueing(try Self.current(attempt.planID, in: connection), attempt, requeue, now: now), in: connection)
        }
    }

    // MARK: Cancel, recover, promote

    public func cancel(_ planID: Int64, actor: String, now: Date) async throws -> CancelResult {
        try await write { connection in
            let current = try Self.current(planID, in: connection)
            switch try QueueRules.canceling(current, actor: actor, now: now) {
            case .alreadyRequested: return .cancelRequested(current)
            case .request(let transition): return .cancelRequested(try Self.apply(transition, in: connection))
            case .cancelNow(let transition): return .canceled(try Self.apply(transition, in: connection))
            }
        }
    }

    public func recoverExpiredLeases(
        now: Date,
        stopLostRun: @escaping @Sendable (_ lost: AttemptRef, _ processGroup: Int32) -> Void
    ) async throws -> [Recovery] {
        let policy = policy
        return try await write { connection in
            try connection.rows(PlanQueries.expiredLeases, [now.millisecondsSince1970], Self.plan(from:)).map { expired in
                let transition = QueueRules.recovering(expired, policy: policy, now: now)
                let lost = AttemptRef(planID: expired.id, owner: expired.owner ?? "", attempt: expired.attempt)
                if let processGroup = expired.processGroup { stopLostRun(lost, processGroup) }
                let plan = try Self.apply(transition, in: connection)
                return Recovery(plan: plan, lostAttempt: lost, processGroup: expired.processGroup)
            }
        }
    }

    public func promoteDueScheduled(now: Date) async throws -> [Plan] {
        try await write { connection in
            let due = try connection.rows(PlanQueries.promoteDue, [now.millisecondsSince1970], Self.plan(from:))
            for plan in due {
                try Self.append(QueueRules.promoted(planID: plan.id, attempt: plan.attempt, now: now), in: connection)
            }
            return due.sorted { $0.id < $1.id }
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

    public func nextLeaseExpiry() async throws -> Date? {
        try await read { connection in
            try connection.firstRow(PlanQueries.nextLeaseExpiry) { $0.optionalInt64("expiry").map(Date.init(millisecondsSince1970:)) } ?? nil
        }
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

    // MARK: Helpers

    /// Runs `body` in a write transaction, turning a lock timeout into a ``PlanStoreError``.
    func write<T: Sendable>(_ body: @Sendable @escaping (SQLiteConnection) throws -> T) async throws -> T {
        try await reportingBusy { try await database.write(body) }
    }

    /// Runs `body` on a reader, turning a lock timeout into a ``PlanStoreError``.
    func read<T: Sendable>(snapshot: Bool = false, _ body: @Sendable @escaping (SQLiteConnection) throws -> T) async throws -> T {
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

    /// The plan as it is now, inside the transaction.
    private static func current(_ id: Int64, in connection: SQLiteConnection) throws -> Plan {
        guard let plan = try connection.firstRow(PlanQueries.planByID, [id], plan(from:)) else {
            throw PlanStoreError.planNotFound(id)
        }
        return plan
    }

    /// Writes a transition over the row it was decided on, with its event; returns the plan stored.
    private static func apply(_ transition: PlanTransition, in connection: SQLiteConnection) throws -> Plan {
        let (from, plan) = (transition.from, transition.plan)
        let bindings: [SQLiteBindable] = [
            plan.status.rawValue, plan.runAfter?.millisecondsSince1970, plan.recoveries, plan.handBacks,
            plan.leaseExpiresAt?.millisecondsSince1970, plan.processGroup, plan.cancelRequested ? 1 : 0,
            plan.finishedAt?.millisecondsSince1970, plan.durationMs, plan.exitCode, plan.signal, plan.result?.text,
            plan.error?.kind.rawValue, plan.error?.message,
            plan.usage?.inputTokens, plan.usage?.outputTokens, plan.usage?.costUSD,
            from.id, from.status.rawValue, from.owner, from.attempt,
        ]
        guard let stored = try connection.firstRow(PlanQueries.writeTransition, bindings, Self.plan(from:)) else {
            let attempt = AttemptRef(planID: from.id, owner: from.owner ?? "", attempt: from.attempt)
            throw try notHeldError(attempt, in: connection)
        }
        try append(transition.event, in: connection)
        return stored
    }

    static func requireHeld(_ attempt: AttemptRef, in connection: SQLiteConnection) throws {
        guard try connection.firstRow(PlanQueries.holdsPlan, guardBindings(attempt), { _ in true }) == true else {
            throw try notHeldError(attempt, in: connection)
        }
    }

    private static func append(_ event: PlanEvent.Draft, in connection: SQLiteConnection) throws {
        try connection.run(PlanQueries.insertEvent, [
            event.planID, event.at.millisecondsSince1970, event.kind.rawValue, event.attempt, event.actor,
            event.fromStatus?.rawValue, event.toStatus?.rawValue, event.detail,
        ])
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
