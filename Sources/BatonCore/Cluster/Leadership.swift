import Foundation
import Synchronization

/// Whether this node may run the cluster's maintenance now (design §10): recovery of expired
/// leases, promotion of scheduled plans, retention pruning and marking lost nodes run on one
/// node at a time.
///
/// A node elected through the store leads until its leader lease runs out, unless it renews it
/// (``NodePresence`` does, with every heartbeat); a node that cannot reach the store stops
/// leading by itself when the lease it last got runs out.
public final class Leadership: Sendable {
    private enum Term {
        /// Leads whatever happens: a node on its own.
        case always
        case until(Date)
    }

    private let term: Mutex<Term>

    private init(_ term: Term) {
        self.term = Mutex(term)
    }

    /// A node that leads for good: nothing else shares its store.
    public static func alone() -> Leadership { Leadership(.always) }

    /// A node that leads once elected.
    public static func elected() -> Leadership { Leadership(.until(.distantPast)) }

    public func isLeading(at now: Date) -> Bool {
        switch term.withLock({ $0 }) {
        case .always: true
        case .until(let end): now < end
        }
    }

    /// Records the outcome of an election: leading until `end`, or (`nil`) not leading.
    func leads(until end: Date?) {
        term.withLock { $0 = .until(end ?? .distantPast) }
    }
}
