import Foundation

/// Where API tokens are kept: their names, roles and secret hashes.
public protocol TokenStore: Sendable {
    /// Stores a new token. A name already used by a live token is refused.
    func createToken(name: String, role: TokenRole, secretHash: [UInt8], now: Date) async throws -> APIToken

    /// Every token, live and revoked, oldest first.
    func tokens() async throws -> [APIToken]

    /// The live (not revoked) token whose secret hashes to `secretHash`.
    func liveToken(secretHash: [UInt8]) async throws -> APIToken?

    /// Notes that a token was used; written at most once a minute per token.
    func markUsed(tokenID: Int64, now: Date) async throws

    /// Revokes a live token; it stops working at once.
    func revokeToken(id: Int64, now: Date) async throws -> APIToken?

    /// How many tokens are live.
    func liveTokenCount() async throws -> Int
}

/// A token operation that cannot be done.
public struct TokenStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    /// The name is taken by a live token.
    public var isNameTaken = false
    public var description: String { message }

    public init(message: String, isNameTaken: Bool = false) {
        self.message = message
        self.isNameTaken = isNameTaken
    }

    public static func nameTaken(_ name: String) -> TokenStoreError {
        TokenStoreError(message: "a live token is already named \(name); revoke it first or choose another name", isNameTaken: true)
    }
}
