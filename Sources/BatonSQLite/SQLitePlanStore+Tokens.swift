import BatonCore
import Foundation

extension SQLitePlanStore: TokenStore {
    public func createToken(name: String, role: TokenRole, secretHash: [UInt8], now: Date) async throws -> APIToken {
        do {
            return try await database.write { connection in
                try connection.firstRow(PlanQueries.insertToken, [name, role.rawValue, secretHash, now.millisecondsSince1970], Self.token(from:))!
            }
        } catch let error as SQLiteError where error.isUniqueViolation {
            throw TokenStoreError.nameTaken(name)
        }
    }

    public func tokens() async throws -> [APIToken] {
        try await database.read { try $0.rows(PlanQueries.tokens, [], Self.token(from:)) }
    }

    public func liveToken(secretHash: [UInt8]) async throws -> APIToken? {
        try await database.read { try $0.firstRow(PlanQueries.liveTokenByHash, [secretHash], Self.token(from:)) }
    }

    public func markUsed(tokenID: Int64, now: Date) async throws {
        let at = now.millisecondsSince1970
        try await database.write { try $0.run(PlanQueries.markTokenUsed, [at, tokenID, at - 60_000]) }
    }

    public func revokeToken(id: Int64, now: Date) async throws -> APIToken? {
        try await database.write { try $0.firstRow(PlanQueries.revokeToken, [now.millisecondsSince1970, id], Self.token(from:)) }
    }

    public func liveTokenCount() async throws -> Int {
        try await database.read { try $0.firstRow(PlanQueries.liveTokenCount, [], { $0.int("count") }) ?? 0 }
    }

    static func token(from row: SQLiteRow) -> APIToken {
        APIToken(
            id: row.int64("id"),
            name: row.string("name"),
            role: TokenRole(rawValue: row.string("role")) ?? .viewer,
            createdAt: Date(millisecondsSince1970: row.int64("created_at")),
            lastUsedAt: row.optionalInt64("last_used_at").map(Date.init(millisecondsSince1970:)),
            revokedAt: row.optionalInt64("revoked_at").map(Date.init(millisecondsSince1970:))
        )
    }
}
