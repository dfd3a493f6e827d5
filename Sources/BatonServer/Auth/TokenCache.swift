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
    private let entries = Mutex<[[UInt8]: (token: APIToken, until: ContinuousClock.Instant)]>([:])

    init(lifetime: Duration = .seconds(2)) {
        self.lifetime = lifetime
    }

    /// The live token with this secret hash: from the cache while fresh, else from `load`.
    func token(secretHash: [UInt8], load: () async throws -> APIToken?) async throws -> APIToken? {
        let now = ContinuousClock.now
        if let entry = entries.withLock({ $0[secretHash] }), entry.until > now { return entry.token }
        guard let token = try await load() else {
            entries.withLock { _ = $0.removeValue(forKey: secretHash) }
            return nil
        }
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[secretHash] = (token, now + lifetime)
        }
        return token
    }

    /// Forgets every token, after a revoke.
    func removeAll() {
        entries.withLock { $0.removeAll() }
    }
}
