/// A spec (or a batch of specs) that breaks one or more rules. Each issue names the field, in
/// the API's spelling (`priority`, `labels.branch`, `plans[3].env.PATH`), and the rule.
public struct PlanValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// One broken rule.
    public struct Issue: Sendable, Hashable, CustomStringConvertible {
        public let field: String
        public let message: String

        public init(field: String, message: String) {
            self.field = field
            self.message = message
        }

        public var description: String { "\(field): \(message)" }
    }

    public let issues: [Issue]

    public init(issues: [Issue]) {
        self.issues = issues
    }

    public init(field: String, message: String) {
        self.init(issues: [Issue(field: field, message: message)])
    }

    /// The same issues with their fields placed under `prefix` (`plans[3].`).
    public func nested(under prefix: String) -> PlanValidationError {
        PlanValidationError(issues: issues.map { Issue(field: prefix + $0.field, message: $0.message) })
    }

    public var description: String {
        "invalid plan: " + issues.map(\.description).joined(separator: "; ")
    }
}
