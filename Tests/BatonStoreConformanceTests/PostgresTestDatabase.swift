import BatonCore
import BatonPostgres
import BatonTestSupport
import Foundation

/// A fresh database on the test server, created for one test and dropped after it.
final class PostgresTestDatabase: TestDatabase {
    let server: String
    let url: PostgresURL

    init(server: String) async throws {
        self.server = server
        url = try PostgresURL(try await TestPostgres.createDatabase(on: server))
    }

    func open(policy: QueuePolicy) async throws -> any BatonStore {
        var configuration = PostgresPlanStore.Configuration(url: url)
        configuration.policy = policy
        return try await PostgresPlanStore(configuration: configuration, logger: quietLogger)
    }

    func destroy() async {
        await TestPostgres.dropDatabase(url.description, on: server)
    }
}
