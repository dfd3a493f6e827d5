import Foundation

/// What a token may do. Each role includes the ones below it.
public enum TokenRole: String, Sendable, Hashable, CaseIterable, Comparable, Codable {
    /// Read plans, output, status.
    case viewer
    /// Also enqueue, cancel and poll.
    case producer
    /// Also pause, resume, restart and manage tokens.
    case admin

    private var rank: Int {
        switch self {
        case .viewer: 0
        case .producer: 1
        case .admin: 2
        }
    }

    public static func < (lhs: TokenRole, rhs: TokenRole) -> Bool { lhs.rank < rhs.rank }
}

/// An API token as stored: never its secret, only the secret's hash.
public struct APIToken: Sendable, Hashable {
    public let id: Int64
    public let name: String
    public let role: TokenRole
    public let createdAt: Date
    public let lastUsedAt: Date?
    public let revokedAt: Date?

    public init(id: Int64, name: String, role: TokenRole, createdAt: Date, lastUsedAt: Date?, revokedAt: Date?) {
        self.id = id
        self.name = name
        self.role = role
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }
}
