import BatonCore
import Foundation

/// A run's output and steps, and the pruning of finished plans.
extension SQLitePlanStore {
    // MARK: Output and steps

    public func appendOutput(_ bytes: [UInt8], stream: StandardStream, for attempt: AttemptRef) async throws {
        guard !bytes.isEmpty else { return }
        let cap = policy.maxOutputBytes
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
}
