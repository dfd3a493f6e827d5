import Foundation
import Synchronization

/// The beat of a poll loop: a tick every `interval` (stretched or shrunk a little by `jitter`,
/// so that several nodes do not poll in step) on an injected clock, and an early tick whenever
/// ``tick()`` is called — "poll now", a plan enqueued, a worker slot freed.
///
/// Ticks do not pile up: any number of early ticks while a cycle runs make one more cycle.
final class PollTicker: Sendable {
    private let interval: Duration
    private let jitter: Double
    private let clock: any Clock<Duration>
    private let now: @Sendable () -> Date
    private let continuation: AsyncStream<Void>.Continuation
    private let next = Mutex<Date?>(nil)
    /// One tick per cycle: the loop reads them.
    let ticks: AsyncStream<Void>

    init(interval: Duration, jitter: Double, clock: any Clock<Duration>, now: @escaping @Sendable () -> Date) {
        self.interval = interval
        self.jitter = jitter
        self.clock = clock
        self.now = now
        (ticks, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// When the next regular tick comes.
    var nextTickAt: Date? { next.withLock { $0 } }

    /// An early tick: a cycle runs as soon as the one in progress (if any) ends.
    func tick() {
        continuation.yield()
    }

    /// An early tick after `delay`, unless the regular tick comes first anyway.
    func tick(after delay: Duration) {
        guard delay < interval else { return }
        let clock = clock
        Task { [weak self] in
            try? await clock.sleep(for: delay)
            self?.tick()
        }
    }

    /// Ticks every interval until cancelled, then ends ``ticks``.
    func run() async {
        defer { continuation.finish() }
        while !Task.isCancelled {
            let interval = interval * (1 + Double.random(in: -jitter...jitter))
            next.withLock { $0 = now().addingTimeInterval(interval.timeInterval) }
            do {
                try await clock.sleep(for: interval)
            } catch {
                return
            }
            tick()
        }
    }
}
