import BatonCore
import Foundation
import PostgresNIO

extension PostgresPlanStore: TokenStore {
    public func createToken(name: String, role: TokenRole, secretHash: [UInt8], now: Date) async throws -> APIToken {
        let query = PostgresQueries.insertToken(name: name, role: role, secretHash: secretHash, now: now.millisecondsSince1970)
        do {
            return try await run { try await $0.first(query, logger: self.logger, Self.token(from:))! }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {  // unique_violation
            throw TokenStoreError.nameTaken(name)
        }
    }

    public func tokens() async throws -> [APIToken] {
        try await run { try await $0.all(PostgresQueries.tokens, logger: self.logger, Self.token(from:)) }
    }

    public func liveToken(secretHash: [UInt8]) async throws -> APIToken? {
        try await run { try await $0.first(PostgresQueries.liveToken(secretHash: secretHash), logger: self.logger, Self.token(from:)) }
    }

    public func markUsed(tokenID: Int64, now: Date) async throws {
        try await run { _ = try await $0.query(PostgresQueries.markTokenUsed(tokenID, now: now.millisecondsSince1970), logger: self.logger) }
    }

    public func revokeToken(id: Int64, now: Date) async throws -> APIToken? {
        try await run { try await $0.first(PostgresQueries.revokeToken(id, now: now.millisecondsSince1970), logger: self.logger, Self.token(from:)) }
    }

    public func liveTokenCount() async throws -> Int {
        try await run { try await $0.first(PostgresQueries.liveTokenCount, logger: self.logger) { try $0.int("count") } } ?? 0
    }
}
