import Foundation

/// Deletes plans that ended long ago, with their output, steps and events — on request
/// (`POST /api/v1/prune`, `baton prune`) or by the leader's retention (`--retention`) — and
/// records each prune in the audit log.
public struct Pruner: Sendable {
    let store: any PlanStore
    let cluster: any ClusterStore

    public init(store: any PlanStore, cluster: any ClusterStore) {
        self.store = store
        self.cluster = cluster
    }

    /// Deletes the terminal plans that finished more than `age` before `now`, and audit entries
    /// recorded before then when `includingAudit`. Records the prune in the audit log when it
    /// was asked for (`recordNothingDone`) or deleted anything; returns how many plans went.
    @discardableResult
    public func prune(olderThan age: Duration, actor: String, now: Date, includingAudit: Bool = false,
                      recordNothingDone: Bool = true) async throws -> Int {
        let cutoff = now.addingTimeInterval(-age.timeInterval)
        let plans = try await store.prune(finishedBefore: cutoff)
        let entries = includingAudit ? try await cluster.pruneAudit(before: cutoff) : 0
        if plans > 0 || entries > 0 || recordNothingDone {
            var outcome = "deleted \(plans) plan\(plans == 1 ? "" : "s")"
            if includingAudit { outcome += " and \(entries) audit entr\(entries == 1 ? "y" : "ies")" }
            try await cluster.record(AuditEntry.Draft(
                at: now, actor: actor, action: .prune,
                target: "ended before \(cutoff.formatted(.iso8601))", outcome: outcome))
        }
        return plans
    }
}
