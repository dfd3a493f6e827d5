import Foundation

/// An error answer of the API: `application/problem+json` (design §6).
public struct APIProblem: Decodable, Sendable, CustomStringConvertible {
    /// One invalid field of a 422 answer.
    public struct FieldIssue: Decodable, Sendable {
        /// The field, e.g. `priority` or `plans[3].script`.
        public let field: String
        /// What is wrong with it.
        public let message: String
    }

    /// The HTTP status.
    public let status: Int
    /// A short summary, e.g. `Unprocessable Content`.
    public let title: String
    /// What went wrong and what to do.
    public let detail: String?
    /// For a 422, each invalid field.
    public let errors: [FieldIssue]?

    /// A problem with these fields.
    public init(status: Int, title: String, detail: String? = nil, errors: [FieldIssue]? = nil) {
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors
    }

    public var description: String {
        var text = switch status {
        case 401: "unauthorized (401): \(detail ?? title). Pass a token with --token or BATON_TOKEN."
        case 403: "forbidden (403): \(detail ?? title)"
        default: "\(title.lowercased()) (\(status))" + (detail.map { ": \($0)" } ?? "")
        }
        for issue in errors ?? [] { text += "\n  \(issue.field): \(issue.message)" }
        return text
    }
}
