import BatonCore
import Foundation
import Hummingbird

/// `/api/v1/tokens` (admin): create, list, revoke. Creations and revocations go into the audit
/// log.
struct TokensController: Sendable {
    let tokens: any TokenStore
    let audit: any ClusterStore
    /// Emptied at each revoke, so a revoked token stops working at once.
    let cache: TokenCache
    let configuration: ServerConfiguration

    func addRoutes(admin: RouterGroup<BatonRequestContext>) {
        admin.post("tokens", use: create)
        admin.get("tokens", use: list)
        admin.delete("tokens/:id", use: revoke)
    }

    @Sendable func create(request: Request, context: BatonRequestContext) async throws -> Response {
        let body = try await request.jsonBody(limit: configuration.maxBodyBytes)
        var name: String?
        var role: TokenRole?
        var issues: [PlanValidationError.Issue] = []
        guard body.kind == .object else { throw PlanValidationError(field: "body", message: "must be {\"name\": ..., \"role\": ...}") }
        for (key, value) in try body.members() {
            switch key {
            case "name":
                name = try? JSONDecoder().decode(String.self, from: Data(value.bytes))
                if let text = name, !(1...64).contains(text.unicodeScalars.count)
                    || text.unicodeScalars.contains(where: { $0.value < 0x21 || (0x7F...0x9F).contains($0.value) }) {
                    name = nil
                }
                if name == nil { issues.append(.init(field: "name", message: "must be 1 to 64 characters, no spaces or control characters")) }
            case "role":
                role = (try? JSONDecoder().decode(String.self, from: Data(value.bytes))).flatMap(TokenRole.init(rawValue:))
                if role == nil { issues.append(.init(field: "role", message: "must be viewer, producer or admin")) }
            default:
                issues.append(.init(field: key, message: "is not a token field (name, role)"))
            }
        }
        if name == nil, !issues.contains(where: { $0.field == "name" }) { issues.append(.init(field: "name", message: "is required")) }
        if role == nil, !issues.contains(where: { $0.field == "role" }) { issues.append(.init(field: "role", message: "is required")) }
        guard issues.isEmpty, let name, let role else { throw PlanValidationError(issues: issues) }

        let secret = TokenSecret.generate()
        let token: APIToken
        do {
            token = try await tokens.createToken(name: name, role: role, secretHash: TokenSecret.hash(secret), now: Date())
        } catch let error as TokenStoreError where error.isNameTaken {
            throw Problem(.conflict, "Conflict", detail: error.message)
        }
        try await audit.record(AuditEntry.Draft(at: token.createdAt, actor: context.triggeredBy, action: .tokenCreate,
                                                target: "\(token.name) (\(token.role.rawValue), id \(token.id))", outcome: "created"))
        var json = JSONWriter()
        json.int("id", token.id)
        json.string("name", token.name)
        json.string("role", token.role.rawValue)
        json.string("token", secret)
        json.string("created_at", Timestamp.format(token.createdAt))
        return .json(json.finished, status: .created, headers: [.location: "/api/v1/tokens/\(token.id)"])
    }

    @Sendable func list(request: Request, context: BatonRequestContext) async throws -> Response {
        var json = JSONWriter()
        json.array("tokens", try await tokens.tokens().map(\.responseJSON))
        return .json(json.finished)
    }

    @Sendable func revoke(request: Request, context: BatonRequestContext) async throws -> Response {
        let now = Date()
        guard let id = context.parameters.get("id", as: Int64.self),
              let token = try await tokens.revokeToken(id: id, now: now)
        else {
            throw Problem(.notFound, "Token not found", detail: "no live token has that id (GET /api/v1/tokens lists them)")
        }
        cache.removeAll()
        try await audit.record(AuditEntry.Draft(at: now, actor: context.triggeredBy, action: .tokenRevoke,
                                                target: "\(token.name) (\(token.role.rawValue), id \(token.id))", outcome: "revoked"))
        return Response(status: .noContent)
    }
}

extension APIToken {
    /// A token as listed: never its secret.
    var responseJSON: String {
        var json = JSONWriter()
        json.int("id", id)
        json.string("name", name)
        json.string("role", role.rawValue)
        json.string("created_at", Timestamp.format(createdAt))
        json.string("last_used_at", lastUsedAt.map(Timestamp.format))
        json.string("revoked_at", revokedAt.map(Timestamp.format))
        return json.finished
    }
}
