import BatonCore
import Foundation
import PostgresNIO

/// Reading rows into model values.
extension PostgresPlanStore {
    static func plan(from row: PostgresRandomAccessRow) throws -> Plan {
        let id = try row.int64("id")
        guard let entryPoint = EntryPoint(kind: try row.string("entry_kind"), value: try row.string("entry")),
              let status = PlanStatus(rawValue: try row.string("status"))
        else {
            throw PostgresDataError("plan \(id) has an unknown entry kind or status: the database was changed by hand or by a newer Baton")
        }
        let usage = PlanUsage(inputTokens: try row.optionalInt64("input_tokens"), outputTokens: try row.optionalInt64("output_tokens"),
                              costUSD: try row.optionalDouble("cost_usd"))
        return Plan(
            id: id,
            name: try row.string("name"),
            entryPoint: entryPoint,
            args: try StringJSON.decodeList(row.string("args")),
            input: JSONText(unchecked: try row.string("input")),
            priority: try row.int("priority"),
            timeoutSeconds: try row.int("timeout_seconds"),
            maxAttempts: try row.int("max_attempts"),
            env: try StringJSON.decodeMap(row.string("env")),
            labels: try StringJSON.decodeMap(row.string("labels")),
            idempotencyKey: try row.optionalString("idempotency_key"),
            runAfter: try row.optionalDate("run_after"),
            status: status,
            attempt: try row.int("attempt"),
            recoveries: try row.int("recoveries"),
            handBacks: try row.int("hand_backs"),
            owner: try row.optionalString("owner"),
            leaseExpiresAt: try row.optionalDate("lease_expires_at"),
            processGroup: try row["process_group"].decode(Int32?.self),
            cancelRequested: try row["cancel_requested"].decode(Bool.self),
            enqueuedAt: Date(millisecondsSince1970: try row.int64("enqueued_at")),
            startedAt: try row.optionalDate("started_at"),
            finishedAt: try row.optionalDate("finished_at"),
            durationMs: try row.optionalInt64("duration_ms"),
            exitCode: try row["exit_code"].decode(Int32?.self),
            signal: try row["signal"].decode(Int32?.self),
            result: try row.optionalString("result").map(JSONText.init(unchecked:)),
            error: try row.optionalString("error_kind").flatMap(PlanFailure.Kind.init(rawValue:)).map {
                PlanFailure(kind: $0, message: try row.string("error_message"))
            },
            triggeredBy: try row.string("triggered_by"),
            usage: usage == PlanUsage() ? nil : usage,
            runtime: PlanRuntime(storedJSON: try row.optionalString("runtime"))
        )
    }

    static func event(from row: PostgresRandomAccessRow) throws -> PlanEvent? {
        guard let kind = PlanEvent.Kind(rawValue: try row.string("kind")) else { return nil }
        return PlanEvent(
            id: try row.int64("id"),
            planID: try row.int64("plan_id"),
            at: Date(millisecondsSince1970: try row.int64("at")),
            kind: kind,
            attempt: try row.int("attempt"),
            actor: try row.string("actor"),
            fromStatus: try row.optionalString("from_status").flatMap(PlanStatus.init(rawValue:)),
            toStatus: try row.optionalString("to_status").flatMap(PlanStatus.init(rawValue:)),
            detail: try row.optionalString("detail")
        )
    }

    static func step(from row: PostgresRandomAccessRow) throws -> PlanStep {
        PlanStep(
            name: try row.string("name"),
            status: try row.string("status"),
            startedAt: try row.optionalDate("started_at"),
            finishedAt: try row.optionalDate("finished_at"),
            durationMs: try row.optionalInt64("duration_ms"),
            input: try row.optionalString("input").map(JSONText.init(unchecked:)),
            output: try row.optionalString("output").map(JSONText.init(unchecked:)),
            error: try row.optionalString("error")
        )
    }

    static func token(from row: PostgresRandomAccessRow) throws -> APIToken {
        APIToken(
            id: try row.int64("id"),
            name: try row.string("name"),
            role: TokenRole(rawValue: try row.string("role")) ?? .viewer,
            createdAt: Date(millisecondsSince1970: try row.int64("created_at")),
            lastUsedAt: try row.optionalDate("last_used_at"),
            revokedAt: try row.optionalDate("revoked_at")
        )
    }
}

extension PostgresRandomAccessRow {
    func int64(_ column: String) throws -> Int64 { try self[column].decode(Int64.self) }
    func int(_ column: String) throws -> Int { try self[column].decode(Int.self) }
    func double(_ column: String) throws -> Double { try self[column].decode(Double.self) }
    func string(_ column: String) throws -> String { try self[column].decode(String.self) }
    func optionalInt64(_ column: String) throws -> Int64? { try self[column].decode(Int64?.self) }
    func optionalDouble(_ column: String) throws -> Double? { try self[column].decode(Double?.self) }
    func optionalString(_ column: String) throws -> String? { try self[column].decode(String?.self) }
    /// A time stored as milliseconds since 1970.
    func optionalDate(_ column: String) throws -> Date? { try optionalInt64(column).map(Date.init(millisecondsSince1970:)) }
    func bytes(_ column: String) throws -> [UInt8] { Array(try self[column].decode(ByteBuffer.self).readableBytesView) }
}

extension PostgresConnection {
    /// Every row of `query`, read with `read`.
    func all<T>(_ query: PostgresQuery, logger: Logger, _ read: (PostgresRandomAccessRow) throws -> T) async throws -> [T] {
        var values: [T] = []
        for try await row in try await self.query(query, logger: logger) {
            values.append(try read(row.makeRandomAccess()))
        }
        return values
    }

    /// The first row of `query`, read with `read`, or nil when there is none.
    func first<T>(_ query: PostgresQuery, logger: Logger, _ read: (PostgresRandomAccessRow) throws -> T) async throws -> T? {
        try await all(query, logger: logger, read).first
    }
}
