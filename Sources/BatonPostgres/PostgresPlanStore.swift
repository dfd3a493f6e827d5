import BatonCore
import Foundation
import Logging
import PostgresNIO

/// The plan queue in PostgreSQL, shared by every node that points at the same database.
///
/// The rules are ``QueueRules``': each change locks its row in a transaction (`FOR UPDATE`), asks
/// the rules, and writes their ``PlanTransition`` with one guarded statement, exactly as the
/// SQLite store does. The claim is one statement with `FOR UPDATE SKIP LOCKED`, so concurrent
/// nodes never wait on each other and never take the same plan.
///
/// Queries run on postgres-nio's event loops, never blocking a thread; the client's connection
/// pool runs from ``init(configuration:logger:)`` until ``close()``.
public final class PostgresPlanStore: PlanStore {
    /// Where the database is and the queue's policies.
    public struct Configuration: Sendable {
        public var url: PostgresURL
        /// The queue's policies: limits, output cap, orphan cap, batch size.
        public var policy = QueuePolicy()
        /// Connections this node may open at most.
        public var maximumConnections = 8
        /// How long one attempt to connect may take.
        public var connectTimeout: Duration = .seconds(10)
        /// How long opening the store waits to connect to the database before it gives up with
        /// ``PlanStoreError/Code/databaseUnavailable``.
        public var startTimeout: Duration = .seconds(15)

        public init(url: PostgresURL) {
            self.url = url
        }
    }

    public let configuration: Configuration
    let client: PostgresClient
    let logger: Logger
    private let running: Task<Void, Never>

    /// Connects, and migrates the schema to this build's version (once, whichever node gets
    /// there first). Throws ``PlanStoreError/Code/databaseUnavailable`` when the database cannot be
    /// reached.
    public init(configuration: Configuration, logger: Logger = Logger(label: "baton.store")) async throws {
        self.configuration = configuration
        self.logger = logger
        var clientConfiguration = configuration.url.clientConfiguration
        clientConfiguration.options.maximumConnections = configuration.maximumConnections
        clientConfiguration.options.connectTimeout = configuration.connectTimeout
        let client = PostgresClient(configuration: clientConfiguration, backgroundLogger: logger)
        self.client = client
        running = Task { await client.run() }
        do {
            let (from, to) = try await Self.reportingUnavailable(configuration.url) {
                try await Self.within(configuration.startTimeout, url: configuration.url) {
                    try await client.withConnection { _ in }
                }
                // Connected: the migration may wait for another node's, however long it takes.
                return try await PostgresSchema.migrate(client, logger: logger)
            }
            if from != to {
                logger.info("migrated database schema", metadata: ["db": "\(configuration.url)", "schema.from": "\(from)", "schema.to": "\(to)"])
            }
        } catch {
            running.cancel()
            throw error
        }
    }

    public var policy: QueuePolicy { configuration.policy }

    /// The schema version of this build.
    public static var schemaVersion: Int { PostgresSchema.latestVersion }

    public func close() async {
        running.cancel()
        await running.value
    }

    // MARK: Enqueue

    public func enqueue(_ spec: PlanSpec, now: Date) async throws -> EnqueueResult {
        try QueueRules.validate(spec, policy: policy)
        let (plan, event) = QueueRules.enqueuing(spec, policy: policy, now: now)
        return try await run { connection in
            if let id = try await connection.first(PostgresQueries.insertPlan(plan, event: event), logger: self.logger, { try $0.int64("id") }) {
                var stored = plan
                stored.id = id
                return EnqueueResult(plan: stored, created: true)
            }
            return EnqueueResult(plan: try await self.holder(of: spec.idempotencyKey, on: connection), created: false)
        }
    }

    /// One transaction of a few statements however large the batch: ids reserved in order, the
    /// plans inserted together, then their events; plans whose idempotency key was taken
    /// (before, or earlier in the same batch) answer with the plan holding it.
    public func enqueueBatch(_ specs: [PlanSpec], now: Date) async throws -> [EnqueueResult] {
        let policy = policy
        try QueueRules.validateBatch(specs, policy: policy)
        guard !specs.isEmpty else { return [] }
        let drafts = specs.map { QueueRules.enqueuing($0, policy: policy, now: now) }
        return try await write { connection in
            let ids = try await connection.all(PostgresQueries.reservePlanIDs(specs.count), logger: self.logger) { try $0.int64("id") }
            var plans = drafts.map(\.plan)
            for index in plans.indices { plans[index].id = ids[index] }
            let inserted = Set(try await connection.all(PostgresQueries.insertPlans(plans), logger: self.logger) { try $0.int64("id") })
            let events = zip(plans, drafts).filter { inserted.contains($0.0.id) }.map { plan, draft in draft.event.forPlan(plan.id) }
            if !events.isEmpty { try await connection.query(PostgresQueries.insertEvents(events), logger: self.logger) }
            let taken = plans.filter { !inserted.contains($0.id) }.compactMap(\.idempotencyKey)
            var holders: [String: Plan] = [:]
            if !taken.isEmpty {
                for plan in try await connection.all(PostgresQueries.plansByIdempotencyKeys(taken), logger: self.logger, Self.plan(from:)) {
                    if let key = plan.idempotencyKey { holders[key] = plan }
                }
            }
            return try plans.map { plan in
                if inserted.contains(plan.id) { return EnqueueResult(plan: plan, created: true) }
                guard let key = plan.idempotencyKey, let holder = holders[key] else { throw Self.noHolder }
                return EnqueueResult(plan: holder, created: false)
            }
        }
    }

    /// The plan holding an idempotency key that an insert found taken.
    private func holder(of key: String?, on connection: PostgresConnection) async throws -> Plan {
        guard let key, let plan = try await connection.first(PostgresQueries.planByIdempotencyKey(key), logger: logger, Self.plan(from:)) else {
            throw Self.noHolder
        }
        return plan
    }

    private static let noHolder = PostgresDataError(
        "an enqueue conflicted on its idempotency key, yet no plan holds the key (pruned meanwhile?); enqueue again")

    // MARK: Claim and run

    public func claim(limit: Int, owner: String, leaseDuration: Duration, now: Date) async throws -> [Plan] {
        guard limit > 0 else { return [] }
        let query = PostgresQueries.claim(limit: limit, owner: owner, leaseExpiry: (now + leaseDuration.timeInterval).millisecondsSince1970,
                                          now: now.millisecondsSince1970)
        return try await write { connection in
            let claimed = try await connection.all(query, logger: self.logger, Self.plan(from:))
                .sorted { ($0.priority, $0.id) < ($1.priority, $1.id) }
            if !claimed.isEmpty {
                try await connection.query(PostgresQueries.insertEvents(claimed.map { QueueRules.claimed($0, owner: owner, now: now) }), logger: self.logger)
            }
            return claimed
        }
    }

    public func recordProcessGroup(_ processGroup: Int32, for attempt: AttemptRef, now: Date) async throws {
        try await write { connection in
            guard try await connection.first(PostgresQueries.recordProcessGroup(processGroup, for: attempt), logger: self.logger, { _ in true }) != nil else {
                throw try await self.notHeldError(attempt, on: connection)
            }
            try await connection.query(PostgresQueries.insertEvent(QueueRules.started(attempt, processGroup: processGroup, now: now)), logger: self.logger)
        }
    }

    public func recordSetup(_ detail: String, for attempt: AttemptRef, now: Date) async throws {
        try await write { connection in
            let event = QueueRules.setUp(attempt, detail: detail, now: now)
            guard try await connection.first(PostgresQueries.insertEvent(event, ifHeld: attempt), logger: self.logger, { _ in true }) != nil else {
                throw try await self.notHeldError(attempt, on: connection)
            }
        }
    }

    public func renewLeases(_ attempts: [AttemptRef], leaseDuration: Duration, now: Date) async throws -> Set<AttemptRef> {
        guard !attempts.isEmpty else { return [] }
        let query = PostgresQueries.renewLeases(attempts, leaseExpiry: (now + leaseDuration.timeInterval).millisecondsSince1970)
        let held = try await run { try await $0.all(query, logger: self.logger) { row in
            AttemptRef(planID: try row.int64("id"), owner: try row.string("owner"), attempt: try row.int("attempt"))
        } }
        return Set(held)
    }

    public func finish(_ attempt: AttemptRef, outcome: PlanOutcome, now: Date) async throws -> Plan {
        try await write { connection in
            let current = try await self.current(attempt.planID, on: connection)
            return try await self.apply(QueueRules.finishing(current, attempt, outcome: outcome, now: now), on: connection)
        }
    }

    public func requeue(_ attempt: AttemptRef, _ requeue: Requeue, now: Date) async throws -> Plan {
        try await write { connection in
            let current = try await self.current(attempt.planID, on: connection)
            return try await self.apply(QueueRules.requeueing(current, attempt, requeue, now: now), on: connection)
        }
    }

    // MARK: Cancel, recover, promote

    public func cancel(_ planID: Int64, actor: String, now: Date) async throws -> CancelResult {
        try await write { connection in
            let current = try await self.current(planID, on: connection)
            switch try QueueRules.canceling(current, actor: actor, now: now) {
            case .alreadyRequested: return .cancelRequested(current)
            case .request(let transition): return .cancelRequested(try await self.apply(transition, on: connection))
            case .cancelNow(let transition): return .canceled(try await self.apply(transition, on: connection))
            }
        }
    }

    public func recoverExpiredLeases(
        now: Date,
        stopLostRun: @escaping @Sendable (_ lost: AttemptRef, _ processGroup: Int32) -> Void
    ) async throws -> [Recovery] {
        let policy = policy
        return try await write { connection in
            var recoveries: [Recovery] = []
            for expired in try await connection.all(PostgresQueries.expiredLeases(now: now.millisecondsSince1970), logger: self.logger, Self.plan(from:)) {
                let transition = QueueRules.recovering(expired, policy: policy, now: now)
                let lost = AttemptRef(planID: expired.id, owner: expired.owner ?? "", attempt: expired.attempt)
                if let processGroup = expired.processGroup { stopLostRun(lost, processGroup) }
                let plan = try await self.apply(transition, on: connection)
                recoveries.append(Recovery(plan: plan, lostAttempt: lost, processGroup: expired.processGroup))
            }
            return recoveries
        }
    }

    public func promoteDueScheduled(now: Date) async throws -> [Plan] {
        try await write { connection in
            let due = try await connection.all(PostgresQueries.promoteDue(now: now.millisecondsSince1970), logger: self.logger, Self.plan(from:))
            if !due.isEmpty {
                try await connection.query(PostgresQueries.insertEvents(due.map { QueueRules.promoted(planID: $0.id, attempt: $0.attempt, now: now) }),
                                           logger: self.logger)
            }
            return due.sorted { $0.id < $1.id }
        }
    }

    // MARK: Read

    public func plan(_ id: Int64) async throws -> Plan? {
        try await run { try await $0.first(PostgresQueries.planByID(id), logger: self.logger, Self.plan(from:)) }
    }

    public func plans(matching query: PlanQuery) async throws -> PlanPage {
        let limit = min(max(query.limit, 1), PlanQuery.maxLimit)
        let listing = try PostgresQueries.list(query, limit: limit)
        let plans = try await run { try await $0.all(listing, logger: self.logger, Self.plan(from:)) }
        let hasMore = plans.count > limit
        let shown = Array(plans.prefix(limit))
        return PlanPage(plans: shown, nextCursor: hasMore ? shown.last?.id : nil)
    }

    public func countsByStatus() async throws -> [PlanStatus: Int] {
        let rows = try await run { try await $0.all(PostgresQueries.countsByStatus, logger: self.logger) { (try $0.string("status"), try $0.int("count")) } }
        var counts: [PlanStatus: Int] = [:]
        for (status, count) in rows {
            if let status = PlanStatus(rawValue: status) { counts[status] = count }
        }
        return counts
    }

    public func nextLeaseExpiry() async throws -> Date? {
        try await run { try await $0.first(PostgresQueries.nextLeaseExpiry, logger: self.logger) { try $0.optionalDate("expiry") } ?? nil }
    }

    public func oldestQueuedEnqueuedAt() async throws -> Date? {
        try await run { try await $0.first(PostgresQueries.oldestQueued, logger: self.logger) { Date(millisecondsSince1970: try $0.int64("enqueued_at")) } }
    }

    public func runSummary() async throws -> RunSummary {
        try await snapshot { connection in
            let durations = try await connection.all(PostgresQueries.recentDurations, logger: self.logger) { try $0.int64("duration_ms") }
            return try await connection.first(PostgresQueries.usageTotals, logger: self.logger) { row in
                RunSummary(recentDurationsMs: durations, inputTokens: try row.int64("input_tokens"),
                           outputTokens: try row.int64("output_tokens"), costUSD: try row.double("cost_usd"))
            } ?? RunSummary(recentDurationsMs: durations, inputTokens: 0, outputTokens: 0, costUSD: 0)
        }
    }

    public func events(of planID: Int64) async throws -> [PlanEvent] {
        try await run { try await $0.all(PostgresQueries.events(of: planID), logger: self.logger, Self.event(from:)) }.compactMap { $0 }
    }

    // MARK: Helpers

    /// Runs `body` in a transaction, unwrapping postgres-nio's transaction error into what the
    /// body threw or a ``PlanStoreError``.
    func write<T: Sendable>(_ body: @Sendable @escaping (PostgresConnection) async throws -> T) async throws -> T {
        try await Self.reportingUnavailable(configuration.url) {
            do {
                return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
            } catch let error as PostgresTransactionError {
                throw error.closureError ?? error.beginError ?? error.commitError ?? error
            }
        }
    }

    /// Runs `body` on a pooled connection, outside a transaction.
    func run<T: Sendable>(_ body: @Sendable @escaping (PostgresConnection) async throws -> T) async throws -> T {
        try await Self.reportingUnavailable(configuration.url) {
            try await client.withConnection { connection in try await body(connection) }
        }
    }

    /// Runs `body`'s reads in one repeatable-read transaction, so they see one moment.
    func snapshot<T: Sendable>(_ body: @Sendable @escaping (PostgresConnection) async throws -> T) async throws -> T {
        try await write { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: self.logger)
            return try await body(connection)
        }
    }

    /// Turns "cannot reach the server" into a ``PlanStoreError`` that names it (without its
    /// password) and says that Baton retries. What the server itself answered (it carries
    /// `serverInfo`), Baton's own errors and cancellation pass through unchanged; anything else —
    /// a refused or dropped connection, the pool giving up on connecting — means the database is
    /// out of reach.
    static func reportingUnavailable<T>(_ url: PostgresURL, _ operation: () async throws -> T) async throws -> T {
        do {
            return try await operation()
        } catch let error as PSQLError where error.serverInfo != nil {
            throw error
        } catch let error where error is PlanStoreError || error is PostgresDataError || error is TokenStoreError || error is CancellationError {
            throw error
        } catch {
            throw PlanStoreError(.databaseUnavailable, "the PostgreSQL server at \(url) cannot be reached (\(error)); Baton retries until it is back")
        }
    }

    /// `operation`'s answer, or ``PlanStoreError/Code/databaseUnavailable`` once `timeout` has
    /// passed: the connection pool would otherwise go on trying to connect for a minute or more.
    private static func within<T: Sendable>(_ timeout: Duration, url: PostgresURL,
                                            _ operation: @Sendable @escaping () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let answer = try await group.next(), let value = answer else {
                throw PlanStoreError(.databaseUnavailable,
                                     "the PostgreSQL server at \(url) did not answer within \(timeout); check that it runs and that the URL is right")
            }
            return value
        }
    }

    /// The plan as it is now, locked until the transaction ends.
    private func current(_ id: Int64, on connection: PostgresConnection) async throws -> Plan {
        guard let plan = try await connection.first(PostgresQueries.planForUpdate(id), logger: logger, Self.plan(from:)) else {
            throw PlanStoreError.planNotFound(id)
        }
        return plan
    }

    /// Writes a transition over the row it was decided on, with its event; returns the plan stored.
    private func apply(_ transition: PlanTransition, on connection: PostgresConnection) async throws -> Plan {
        guard let stored = try await connection.first(PostgresQueries.writeTransition(transition), logger: logger, Self.plan(from:)) else {
            let from = transition.from
            throw try await notHeldError(AttemptRef(planID: from.id, owner: from.owner ?? "", attempt: from.attempt), on: connection)
        }
        try await connection.query(PostgresQueries.insertEvent(transition.event), logger: logger)
        return stored
    }

    func requireHeld(_ attempt: AttemptRef, on connection: PostgresConnection) async throws {
        guard try await connection.first(PostgresQueries.holdsPlan(attempt), logger: logger, { _ in true }) != nil else {
            throw try await notHeldError(attempt, on: connection)
        }
    }

    /// Why a guarded write touched no row: the plan is gone, or the run no longer holds it.
    private func notHeldError(_ attempt: AttemptRef, on connection: PostgresConnection) async throws -> PlanStoreError {
        guard let current = try await connection.first(PostgresQueries.planByID(attempt.planID), logger: logger, Self.plan(from:)) else {
            return .planNotFound(attempt.planID)
        }
        return .attemptNotHeld(attempt, current: current)
    }
}

/// A row that is not what this Baton wrote: the database was changed by hand, by a newer Baton,
/// or is damaged.
struct PostgresDataError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
