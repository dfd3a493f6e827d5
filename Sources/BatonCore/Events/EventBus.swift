import Foundation
import Synchronization

/// What happened to a plan, broadcast in-process for live streams.
public enum PlanEventNotice: Sendable, Hashable {
    /// The plan moved to `status` (at its run number `attempt`).
    case status(planID: Int64, status: PlanStatus, attempt: Int)
    /// A chunk of a running plan's output: `offset` bytes of this run's `stream` came before
    /// it, so a reader that already has the stored output knows which bytes are new.
    case output(planID: Int64, attempt: Int, stream: StandardStream, offset: Int64, bytes: [UInt8])
    /// A run ended with this result and error.
    case result(planID: Int64, result: JSONText?, error: PlanFailure?)
    /// The plan reached a terminal status; nothing more will follow.
    case end(planID: Int64, status: PlanStatus)

    public var planID: Int64 {
        switch self {
        case .status(let id, _, _), .output(let id, _, _, _, _), .result(let id, _, _), .end(let id, _): id
        }
    }
}

/// In-process broadcast of plan status changes and output chunks, for the live streams of the
/// API.
///
/// Publishing never waits: each subscriber has a bounded buffer, and a subscriber that falls
/// behind by more than that is dropped (its stream ends) rather than slowing the orchestrator.
/// Nothing is lost by that — everything is also in the store. A stream that ends without an
/// ``PlanEventNotice/end(planID:status:)`` for its plan was dropped: read the plan back from
/// the store.
public final class EventBus: Sendable {
    private struct Subscriber {
        let planID: Int64?
        let continuation: AsyncStream<PlanEventNotice>.Continuation
    }

    private let subscribers = Mutex<[UUID: Subscriber]>([:])

    public init() {}

    /// A stream of the events of `planID` (or of every plan), from now on. The stream ends
    /// when the subscriber falls more than `buffer` events behind, or when it is cancelled.
    public func subscribe(planID: Int64? = nil, buffer: Int = 256) -> AsyncStream<PlanEventNotice> {
        let id = UUID()
        let (stream, continuation) = AsyncStream.makeStream(of: PlanEventNotice.self, bufferingPolicy: .bufferingOldest(max(1, buffer)))
        continuation.onTermination = { [weak self] _ in
            self?.subscribers.withLock { _ = $0.removeValue(forKey: id) }
        }
        subscribers.withLock { $0[id] = Subscriber(planID: planID, continuation: continuation) }
        return stream
    }

    /// Hands `event` to every subscriber interested in its plan, without waiting.
    public func publish(_ event: PlanEventNotice) {
        let planID = event.planID
        let targets = subscribers.withLock { subscribers in
            subscribers.values.filter { $0.planID == nil || $0.planID == planID }.map(\.continuation)
        }
        for continuation in targets {
            if case .dropped = continuation.yield(event) {
                // Too far behind: end its stream; it can catch up from the store.
                continuation.finish()
            }
        }
    }

    /// How many subscribers are listening.
    public var subscriberCount: Int {
        subscribers.withLock { $0.count }
    }
}
