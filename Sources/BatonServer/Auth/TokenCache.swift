import BatonCore
import Synchronization

/// Live tokens seen lately, by the hash of their secret, so that a busy client costs no
/// database read per request.
///
/// A revoke through this server empties the cache at once. One made through another server
/// sharing the database takes effect here within ``lifetime``. Unknown secrets are never cached.
final class TokenCache: Sendable {
    /// How long a token is trusted without asking the database again.
    let lifetime: Duration
    /// More entries than this and the cache starts afresh.
    private let capacity = 1024
    private let state = Mutex(State())

    private struct State {
        var entries: [[UInt8]: (token: APIToken, until: ContinuousClock.Instant)] = [:]
        /// Moves on at every `removeAll`: a token read from the database before a revoke
        /// committed is then not stored after it.
        var generation = 0
    }

    init(lifetime: Duration = .seconds(2)) {
        self.lifetime = lifetime
    }

    /// The live token with this secret hash: from the cache while fresh, else from `load`.
    func token(secretHash: [UInt8], load: () async throws -> APIToken?) async throws -> APIToken? {
        let now = ContinuousClock.now
        let (cached, generation) = state.withLock { ($0.entries[secretHash], $0.generation) }
        if let cached, cached.until > now { return cached.token }
        guard let token = try await load() else { return nil }
        state.withLock { state in
            guard state.generation == generation else { return }
            if state.entries.count >= capacity { state.entries.removeAll(keepingCapacity: true) }
            state.entries[secretHash] = (token, now + lifetime)
        }
        return token
    }

    /// Forgets every token, after a revoke.
    func removeAll() {
        state.withLock { state in
            state.entries.removeAll()
            state.generation += 1
        }
    }
}
