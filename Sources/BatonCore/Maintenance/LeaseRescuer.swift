import Foundation

/// Returns the plans of orchestrators that stopped heartbeating to the queue (design §4).
///
/// Before a lost run's plan is requeued, its process group is killed if it still runs this very
/// attempt on this host — so a plan never has two live runs here, even when its orchestrator
/// stalled rather than died.
struct LeaseRescuer: Sendable {
    let queue: PlanQueue

    func rescue(now: Date) async throws -> [Recovery] {
        try await queue.recoverExpiredLeases(now: now) { lost, processGroup in
            // Only a run of this host can be signalled, and only if that group still runs this
            // attempt: its number may have been reused since.
            if RunOwner.isOnThisHost(lost.owner), ProcessGroup.runs(processGroup, planID: lost.planID, attempt: lost.attempt) {
                kill(-processGroup, SIGKILL)
            }
        }
    }
}
