import BatonCore
import Foundation
import PostgresNIO

/// A run's output and steps, and the pruning of finished plans.
extension PostgresPlanStore {
    // MARK: Output and steps

    public func appendOutput(_ bytes: [UInt8], stream: StandardStream, for attempt: AttemptRef) async throws {
        guard !bytes.isEmpty else { return }
        let cap = policy.maxOutputBytes
        try await write { connection in
            try await self.requireHeld(attempt, on: connection)
            let totals = PostgresQueries.outputTotals(attempt.planID, attempt: attempt.attempt, stream: stream)
            let stored = try await connection.first(totals, logger: self.logger) { try $0.int("stored_bytes") } ?? 0
            let kept = max(0, min(bytes.count, cap - stored))
            if kept > 0 {
                try await connection.query(PostgresQueries.insertOutput(bytes.prefix(kept), attempt, stream: stream), logger: self.logger)
            }
            try await connection.query(PostgresQueries.addToOutputTotals(attempt, stream: stream, stored: kept, dropped: bytes.count - kept), logger: self.logger)
        }
    }

    public func saveOutput(_ bytes: [UInt8], stream: StandardStream, for attempt: AttemptRef) async throws {
        try await write { connection in
            try await self.requireHeld(attempt, on: connection)
            try await connection.query(PostgresQueries.deleteOutput(attempt, stream: stream), logger: self.logger)
            if !bytes.isEmpty {
                try await connection.query(PostgresQueries.insertOutput(bytes[...], attempt, stream: stream), logger: self.logger)
            }
            // The capture carries its own truncation notice; nothing was dropped by the store.
            try await connection.query(PostgresQueries.setOutputTotals(attempt, stream: stream, stored: bytes.count), logger: self.logger)
        }
    }

    public func output(of planID: Int64, stream: StandardStream, attempt: Int?) async throws -> PlanOutput {
        try await snapshot { connection in
            guard let plan = try await connection.first(PostgresQueries.planByID(planID), logger: self.logger, Self.plan(from:)) else {
                throw PlanStoreError.planNotFound(planID)
            }
            let run = attempt ?? plan.attempt
            let dropped = try await connection.first(PostgresQueries.outputTotals(planID, attempt: run, stream: stream), logger: self.logger) {
                try $0.int64("dropped_bytes")
            } ?? 0
            var bytes: [UInt8] = []
            for chunk in try await connection.all(PostgresQueries.output(planID, attempt: run, stream: stream), logger: self.logger, { try $0.bytes("data") }) {
                bytes += chunk
            }
            return PlanOutput(bytes: bytes, droppedBytes: dropped)
        }
    }

    public func saveSteps(_ steps: [PlanStep], for attempt: AttemptRef) async throws {
        try await write { connection in
            try await self.requireHeld(attempt, on: connection)
            try await connection.query(PostgresQueries.deleteSteps(attempt), logger: self.logger)
            for (position, step) in steps.enumerated() {
                try await connection.query(PostgresQueries.insertStep(step, position: position, attempt), logger: self.logger)
            }
        }
    }

    public func steps(of planID: Int64) async throws -> [PlanStep] {
        try await snapshot { connection in
            guard let plan = try await connection.first(PostgresQueries.planByID(planID), logger: self.logger, Self.plan(from:)) else {
                throw PlanStoreError.planNotFound(planID)
            }
            return try await connection.all(PostgresQueries.steps(planID, attempt: plan.attempt), logger: self.logger, Self.step(from:))
        }
    }

    // MARK: Retention

    public func prune(finishedBefore cutoff: Date) async throws -> Int {
        var total = 0
        // Small transactions, so no lock is held for long by a large clean-up.
        while true {
            let query = PostgresQueries.pruneChunk(before: cutoff.millisecondsSince1970, limit: 500)
            let deleted = try await run { try await $0.all(query, logger: self.logger) { _ in () }.count }
            total += deleted
            if deleted == 0 { break }
        }
        if total > 0 {
            logger.info("pruned finished plans", metadata: ["prune.count": "\(total)", "prune.cutoff": "\(cutoff)"])
        }
        return total
    }
}
