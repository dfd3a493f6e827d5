import BatonCore
import Foundation

/// Reading rows into model values, and the JSON text columns.
extension SQLitePlanStore {
    static func plan(from row: SQLiteRow) throws -> Plan {
        guard let entryPoint = EntryPoint(kind: row.string("entry_kind"), value: row.string("entry")),
              let status = PlanStatus(rawValue: row.string("status"))
        else {
            throw SQLiteError(code: 11, message: "plan \(row.int64("id")) has an unknown entry kind or status")  // SQLITE_CORRUPT
        }
        let usage: PlanUsage? = {
            let usage = PlanUsage(
                inputTokens: row.optionalInt64("input_tokens"),
                outputTokens: row.optionalInt64("output_tokens"),
                costUSD: row.optionalDouble("cost_usd")
            )
            return usage == PlanUsage() ? nil : usage
        }()
        return Plan(
            id: row.int64("id"),
            name: row.string("name"),
            entryPoint: entryPoint,
            args: try StringJSON.decodeList(row.string("args")),
            input: JSONText(unchecked: row.string("input")),
            priority: row.int("priority"),
            timeoutSeconds: row.int("timeout_seconds"),
            maxAttempts: row.int("max_attempts"),
            env: try StringJSON.decodeMap(row.string("env")),
            labels: try StringJSON.decodeMap(row.string("labels")),
            idempotencyKey: row.optionalString("idempotency_key"),
            runAfter: row.optionalInt64("run_after").map(Date.init(millisecondsSince1970:)),
            status: status,
            attempt: row.int("attempt"),
            recoveries: row.int("recoveries"),
            handBacks: row.int("hand_backs"),
            owner: row.optionalString("owner"),
            leaseExpiresAt: row.optionalInt64("lease_expires_at").map(Date.init(millisecondsSince1970:)),
            processGroup: row.optionalInt64("process_group").map { Int32(truncatingIfNeeded: $0) },
            cancelRequested: row.int64("cancel_requested") != 0,
            enqueuedAt: Date(millisecondsSince1970: row.int64("enqueued_at")),
            startedAt: row.optionalInt64("started_at").map(Date.init(millisecondsSince1970:)),
            finishedAt: row.optionalInt64("finished_at").map(Date.init(millisecondsSince1970:)),
            durationMs: row.optionalInt64("duration_ms"),
            exitCode: row.optionalInt64("exit_code").map { Int32(truncatingIfNeeded: $0) },
            signal: row.optionalInt64("signal").map { Int32(truncatingIfNeeded: $0) },
            result: row.optionalString("result").map(JSONText.init(unchecked:)),
            error: row.optionalString("error_kind").flatMap(PlanFailure.Kind.init(rawValue:)).map {
                PlanFailure(kind: $0, message: row.string("error_message"))
            },
            triggeredBy: row.string("triggered_by"),
            usage: usage,
            runtime: PlanRuntime(storedJSON: row.optionalString("runtime"))
        )
    }

    static func event(from row: SQLiteRow) -> PlanEvent? {
        guard let kind = PlanEvent.Kind(rawValue: row.string("kind")) else { return nil }
        return PlanEvent(
            id: row.int64("id"),
            planID: row.int64("plan_id"),
            at: Date(millisecondsSince1970: row.int64("at")),
            kind: kind,
            attempt: row.int("attempt"),
            actor: row.string("actor"),
            fromStatus: row.optionalString("from_status").flatMap(PlanStatus.init(rawValue:)),
            toStatus: row.optionalString("to_status").flatMap(PlanStatus.init(rawValue:)),
            detail: row.optionalString("detail")
        )
    }

    static func step(from row: SQLiteRow) -> PlanStep {
        PlanStep(
            name: row.string("name"),
            status: row.string("status"),
            startedAt: row.optionalInt64("started_at").map(Date.init(millisecondsSince1970:)),
            finishedAt: row.optionalInt64("finished_at").map(Date.init(millisecondsSince1970:)),
            durationMs: row.optionalInt64("duration_ms"),
            input: row.optionalString("input").map(JSONText.init(unchecked:)),
            output: row.optionalString("output").map(JSONText.init(unchecked:)),
            error: row.optionalString("error")
        )
    }

    /// The outcome columns shared by `finish` and `requeue`, in their binding order.
    static func outcomeBindings(_ outcome: PlanOutcome?) -> [SQLiteBindable] {
        [
            outcome?.durationMs, outcome?.exitCode, outcome?.signal, outcome?.result?.text,
            outcome?.error?.kind.rawValue, outcome?.error?.message,
            outcome?.usage?.inputTokens, outcome?.usage?.outputTokens, outcome?.usage?.costUSD,
        ]
    }
}
