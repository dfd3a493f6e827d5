/// Filters and page of a plan listing, newest first.
public struct PlanQuery: Sendable, Hashable {
    /// Only plans in one of these statuses; empty means any.
    public var statuses: Set<PlanStatus>
    /// Only plans carrying every one of these labels.
    public var labels: [String: String]
    /// Only plans whose name contains this text (case-insensitive for ASCII).
    public var nameContains: String?
    /// Page size.
    public var limit: Int
    /// The `nextCursor` of the previous page.
    public var cursor: Int64?

    public static let defaultLimit = 50
    public static let maxLimit = 1000

    public init(
        statuses: Set<PlanStatus> = [],
        labels: [String: String] = [:],
        nameContains: String? = nil,
        limit: Int = PlanQuery.defaultLimit,
        cursor: Int64? = nil
    ) {
        self.statuses = statuses
        self.labels = labels
        self.nameContains = nameContains
        self.limit = limit
        self.cursor = cursor
    }
}

/// One page of a listing.
public struct PlanPage: Sendable, Hashable {
    public var plans: [Plan]
    /// Pass as ``PlanQuery/cursor`` for the next page; `nil` on the last page.
    public var nextCursor: Int64?

    public init(plans: [Plan], nextCursor: Int64?) {
        self.plans = plans
        self.nextCursor = nextCursor
    }
}
