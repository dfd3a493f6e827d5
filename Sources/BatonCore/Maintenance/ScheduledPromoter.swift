import Foundation

/// Queues scheduled plans — a future `run_after`, or a retry's backoff — once they are due.
struct ScheduledPromoter: Sendable {
    let queue: PlanQueue

    func promote(now: Date) async throws -> [Plan] {
        try await queue.promoteDueScheduled(now: now)
    }
}
