import BatonTestSupport
import Foundation
import Testing

/// `baton serve --database postgres://…`: the node's queue in PostgreSQL (design §10).
@Suite("serving from PostgreSQL end to end")
struct PostgresServeTests {
    @Test("a node on PostgreSQL runs plans, keeps nothing in SQLite, and never shows the password")
    func servesFromPostgres() async throws {
        guard let server = TestPostgres.serverURL else {
            print("note: BATON_TEST_POSTGRES_URL is not set; baton serve on PostgreSQL is not tested")
            return
        }
        let database = try await TestPostgres.createDatabase(on: server)
        // The test server trusts local connections, so any password is accepted, and must stay hidden.
        let withPassword = database.replacingOccurrences(of: "://baton@", with: "://baton:never-shown-s3cret@")
        try #require(withPassword != database, "the test server's URL names the user baton")
        let directory = try TestDirectory()
        defer { directory.remove() }
        do {
            try await ServerProcess.with(dataDir: directory.dataDir, workspace: directory.workspace, arguments: ["--database", withPassword]) { node in
                let result = try await baton(["enqueue", "--code", "print('from postgres')", "--wait"], environment: node.environment())
                #expect(result.status == 0, "\(result)\n\(node.log.suffix(1500))")
                let plans = try await baton(["list", "--json"], environment: node.environment())
                #expect((plans.object["plans"] as? [[String: Any]])?.count == 1, "\(plans)")
                #expect(node.log.contains("postgres://baton:***@"), "\(node.log.suffix(1500))")
                #expect(!node.log.contains("never-shown-s3cret"))
            }
            #expect(!FileManager.default.fileExists(atPath: directory.dataDir + "/baton.sqlite"), "the queue lives in PostgreSQL only")
        } catch {
            await TestPostgres.dropDatabase(database, on: server)
            throw error
        }
        await TestPostgres.dropDatabase(database, on: server)
    }

    @Test("a PostgreSQL server that cannot be reached stops the start with an error naming it, without its password")
    func unreachableDatabase() async throws {
        let directory = try TestDirectory()
        defer { directory.remove() }
        // Nothing listens on port 1.
        let result = try await baton([
            "serve", "--data-dir", directory.dataDir, "--workspace", directory.workspace, "--port", "0",
            "--database", "postgres://baton:never-shown-s3cret@127.0.0.1:1/baton?sslmode=disable",
        ])
        #expect(result.status != 0, "\(result)")
        #expect(result.stderr.contains("postgres://baton:***@127.0.0.1:1/baton"), "\(result)")
        #expect(!result.stderr.contains("never-shown-s3cret"), "\(result)")
        #expect(!result.stdout.contains("never-shown-s3cret"), "\(result)")
    }
}
