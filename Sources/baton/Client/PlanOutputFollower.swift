import BatonClient
import BatonCore

/// Follows a plan's event stream to its `end`. When the stream is cut — a server restart, a
/// broken or silent connection, a client that fell behind — it reconnects where it stopped
/// (`Last-Event-ID`), so no output is lost or repeated, for as long as ``outage`` allows.
struct PlanOutputFollower {
    let client: BatonClient
    let planID: Int64
    /// How long the stream may go without progress before following gives up with the last error.
    var outage: Duration = .seconds(300)

    /// Calls `handle` with each event, up to and including `end`.
    func follow(_ handle: (PlanStreamEvent) -> Void) async throws {
        var lastEventID: String?
        var outageStarted: ContinuousClock.Instant?
        var backoff = Duration.milliseconds(250)
        while true {
            let cut: BatonClientError
            do {
                for try await update in client.events(of: planID, resumingAfter: lastEventID) {
                    handle(update.event)
                    switch update.event {
                    case .end:
                        return
                    case .output:
                        // Progress: only output counts, as a replayed status comes on every reconnect.
                        lastEventID = update.lastEventID ?? lastEventID
                        if outageStarted != nil {
                            printNote("the output stream of plan \(planID) is back")
                            (outageStarted, backoff) = (nil, .milliseconds(250))
                        }
                    case .status, .result:
                        break
                    }
                }
                cut = .connectionLost(server: client.server.absoluteString, reason: "the server closed the output stream")
            } catch let error as BatonClientError where error.isTransient {
                cut = error
            }
            let now = ContinuousClock.now
            if outageStarted == nil {
                outageStarted = now
                printNote("the output stream of plan \(planID) stopped (\(cut)); reconnecting for up to \(Formatting.duration(milliseconds: outage.wholeMilliseconds))")
            }
            if let outageStarted, now - outageStarted >= outage { throw cut }
            try await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(10))
        }
    }
}
