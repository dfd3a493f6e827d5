import BatonClient
import BatonCore

/// The line that shows, on a terminal, where a waiting plan is; redrawn in place on stderr.
///
/// Where it stands in the queue takes a listing of the queue, so that part is refreshed only
/// every ``queueRefresh``.
struct ProgressLine {
    static let queueRefresh: Duration = .seconds(10)
    private var queueDetails = ""
    private var queueCheckedAt: ContinuousClock.Instant?

    mutating func show(plan: PlanResource, client: BatonClient, since start: ContinuousClock.Instant) async {
        var text = "plan \(plan.id) \(plan.status)"
        if plan.status == "queued" {
            if queueCheckedAt.map({ .now - $0 >= Self.queueRefresh }) ?? true {
                queueDetails = await Self.queueDetails(of: plan, client: client)
                queueCheckedAt = .now
            }
            text += queueDetails
        }
        text += " · \(Formatting.duration(milliseconds: (ContinuousClock.now - start).wholeMilliseconds))"
        printNote("\r\u{1B}[K" + text, terminator: "")
    }

    static func clear() {
        printNote("\r\u{1B}[K", terminator: "")
    }

    /// How many plans are ahead, and how busy the workers are.
    private static func queueDetails(of plan: PlanResource, client: BatonClient) async -> String {
        var text = ""
        // Claims go by priority, then age: the plans ahead are those before it in that order.
        // The listing is newest first, so beyond one page only the total is known.
        if let page = try? await client.plans(status: ["queued"], limit: 1000).value {
            if page.nextCursor == nil {
                text += " · \(page.plans.count { ($0.priority, $0.id) < (plan.priority, plan.id) }) ahead in the queue"
            } else {
                text += " · over 1000 plans queued"
            }
        }
        if let state = try? await client.orchestrator().value {
            text += ", \(state.workers.busy)/\(state.workers.total) workers busy"
            if state.state != "running" { text += " · orchestrator \(state.state)" }
        }
        return text
    }
}
