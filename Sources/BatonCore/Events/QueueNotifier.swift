import Synchronization

/// What orchestrators are told about the queue, so they act at once instead of at their next
/// poll.
public enum QueueSignal: Sendable, Hashable {
    /// Plans became claimable: enqueued, promoted, retried now, handed back or recovered.
    case plansAvailable
    /// A cancel was requested for a running plan: the node running it stops it.
    case cancelRequested(planID: Int64, actor: String)
    /// A control command was issued for other nodes: each reads the commands addressed to it.
    case controlIssued
}

/// Carries ``QueueSignal``s from where the queue changes to every orchestrator that shares the
/// queue: in one process today (``LocalQueueNotifier``); across nodes with PostgreSQL's
/// `LISTEN/NOTIFY`.
public protocol QueueNotifier: Sendable {
    /// Sends `signal` to every listener, after the change it describes has been committed.
    func send(_ signal: QueueSignal)
    /// The signals sent from now on, until the stream is cancelled.
    func signals() -> AsyncStream<QueueSignal>
}

/// Signals within one process.
///
/// Every listener has its own unbounded buffer: a signal is tiny, listeners are orchestrators
/// that read at once, and a lost cancel would leave a plan running until its next heartbeat.
public final class LocalQueueNotifier: QueueNotifier {
    private let listeners = Mutex<[Int: AsyncStream<QueueSignal>.Continuation]>([:])
    private let nextID = Atomic<Int>(0)

    public init() {}

    public func send(_ signal: QueueSignal) {
        for listener in listeners.withLock({ Array($0.values) }) {
            listener.yield(signal)
        }
    }

    public func signals() -> AsyncStream<QueueSignal> {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream.makeStream(of: QueueSignal.self)
        continuation.onTermination = { [weak self] _ in
            self?.listeners.withLock { _ = $0.removeValue(forKey: id) }
        }
        listeners.withLock { $0[id] = continuation }
        return stream
    }
}
