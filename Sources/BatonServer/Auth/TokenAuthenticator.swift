import BatonCore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Synchronization

/// Who made a request: the token's name and role.
public struct Identity: Sendable, Hashable {
    public let tokenID: Int64
    public let name: String
    public let role: TokenRole
}

/// Token secrets and their hashes. Only the SHA-256 of a secret is ever stored.
enum TokenSecret {
    /// A new secret: `baton_` and 64 hex digits from the system's secure random source.
    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return "baton_" + bytes.map { String(format: "%02x", $0) }.joined()
    }

    static func hash(_ secret: String) -> [UInt8] {
        Array(SHA256.hash(data: Data(secret.utf8)))
    }
}

/// Resolves the bearer token of a request, and refuses it below `minimum`: 401 when the token
/// is missing, unknown or revoked; 403 when its role is too weak.
///
/// Tokens are found by the hash of their secret, so no comparison ever involves a secret, and
/// timing reveals nothing that would help forge one.
struct TokenAuthenticator: RouterMiddleware {
    typealias Context = BatonRequestContext

    let minimum: TokenRole
    let tokens: any TokenStore
    let usage: TokenUsage
    let cache: TokenCache

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer "),
              case let secret = header.dropFirst("bearer ".count).trimmingCharacters(in: .whitespaces), !secret.isEmpty
        else {
            throw Problem(.unauthorized, "Unauthorized", detail: "send a token as Authorization: Bearer <token> (baton token create, or the admin token in the data directory)",
                          headers: [.wwwAuthenticate: "Bearer"])
        }
        let hash = TokenSecret.hash(secret)
        guard let token = try await cache.token(secretHash: hash, load: { try await tokens.liveToken(secretHash: hash) }) else {
            throw Problem(.unauthorized, "Unauthorized", detail: "this token is unknown or has been revoked",
                          headers: [.wwwAuthenticate: #"Bearer error="invalid_token""#])
        }
        guard token.role >= minimum else {
            throw Problem(.forbidden, "Forbidden", detail: "the token \(token.name) is a \(token.role.rawValue); this needs \(minimum.rawValue) or above")
        }
        await usage.note(token, tokens: tokens)
        var context = context
        context.identity = Identity(tokenID: token.id, name: token.name, role: token.role)
        return try await next(request, context)
    }
}

/// Writes a token's last use at most once a minute, so busy clients do not cost a database
/// write per request.
final class TokenUsage: Sendable {
    private let lastWritten = Mutex<[Int64: Date]>([:])

    func note(_ token: APIToken, tokens: any TokenStore) async {
        let now = Date()
        let due = lastWritten.withLock { written -> Bool in
            guard now.timeIntervalSince(written[token.id] ?? .distantPast) >= 60 else { return false }
            written[token.id] = now
            return true
        }
        if due { try? await tokens.markUsed(tokenID: token.id, now: now) }
    }
}
