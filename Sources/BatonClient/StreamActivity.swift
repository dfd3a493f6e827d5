import Synchronization

/// When an event stream last received bytes, for its idle watchdog.
final class StreamActivity: Sendable {
    private let last = Mutex(ContinuousClock.now)

    func touch() {
        last.withLock { $0 = .now }
    }

    /// How long since the last bytes arrived.
    var silence: Duration {
        .now - last.withLock { $0 }
    }
}
