/// A plan store operation that cannot be done, with what to do about it.
public struct PlanStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, for matching: `error.code == .planNotFound`.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String, Sendable, Hashable {
            case planNotFound = "plan_not_found"
            case invalidTransition = "invalid_transition"
            case attemptNotHeld = "attempt_not_held"
            case retryRefused = "retry_refused"
            case databaseBusy = "database_busy"
            case databaseUnavailable = "database_unavailable"
            case schemaTooNew = "schema_too_new"
        }

        private let value: Value

        /// No plan has this id (it may have been pruned).
        public static let planNotFound = Code(value: .planNotFound)
        /// The status machine does not allow the move (a terminal plan never changes).
        public static let invalidTransition = Code(value: .invalidTransition)
        /// The run named by an ``AttemptRef`` no longer holds its plan: it was recovered,
        /// finished or handed back.
        public static let attemptNotHeld = Code(value: .attemptNotHeld)
        /// A retry was asked for a run that did not fail, or a plan with no attempts left.
        public static let retryRefused = Code(value: .retryRefused)
        /// Another process held the database's write lock for longer than the busy timeout.
        public static let databaseBusy = Code(value: .databaseBusy)
        /// The database server cannot be reached; Baton retries until it is back.
        public static let databaseUnavailable = Code(value: .databaseUnavailable)
        /// The database was written by a newer Baton.
        public static let schemaTooNew = Code(value: .schemaTooNew)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let planID: Int64?
    public let message: String

    public init(_ code: Code, planID: Int64? = nil, _ message: String) {
        self.code = code
        self.planID = planID
        self.message = message
    }

    public var description: String { message }

    /// No plan has id `id`.
    public static func planNotFound(_ id: Int64) -> PlanStoreError {
        PlanStoreError(.planNotFound, planID: id, "plan \(id) does not exist (it may have been pruned)")
    }

    public static func invalidTransition(_ id: Int64, from: PlanStatus, to: PlanStatus) -> PlanStoreError {
        let reason = from.isTerminal ? "it is \(from.rawValue), and a finished plan never changes" : "\(from.rawValue) → \(to.rawValue) is not an allowed move"
        return PlanStoreError(.invalidTransition, planID: id, "plan \(id) cannot become \(to.rawValue): \(reason)")
    }

    public static func attemptNotHeld(_ attempt: AttemptRef, current: Plan) -> PlanStoreError {
        PlanStoreError(
            .attemptNotHeld, planID: attempt.planID,
            "\(attempt) no longer holds the plan: it is \(current.status.rawValue) at attempt \(current.attempt)\(current.owner.map { " owned by \($0)" } ?? "")"
        )
    }
}
