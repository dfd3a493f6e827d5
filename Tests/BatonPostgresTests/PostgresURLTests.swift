import BatonPostgres
import Testing

/// `--database` URLs: what is accepted, what is refused and why, and that a password never shows.
@Suite struct PostgresURLTests {
    @Test func aFullURLIsReadAndShownWithoutItsPassword() throws {
        let url = try PostgresURL("postgres://ci:p%40ss@db.internal:6432/queue?sslmode=require", environment: [:])
        #expect(url.host == "db.internal")
        #expect(url.port == 6432)
        #expect(url.username == "ci")
        #expect(url.database == "queue")
        #expect(url.sslMode == .require)
        #expect(url.description == "postgres://ci:***@db.internal:6432/queue")
        #expect(!"\(url)".contains("p@ss") && !String(reflecting: url).contains("p@ss"))
    }

    @Test func defaultsAndTheUnixSocketForm() throws {
        let plain = try PostgresURL("postgresql://ci@localhost/queue", environment: [:])
        #expect(plain.port == 5432)
        #expect(plain.sslMode == .prefer)
        #expect(plain.description == "postgres://ci@localhost:5432/queue")
        let socket = try PostgresURL("postgres://ci@/queue?host=/var/run/postgresql", environment: [:])
        #expect(socket.socketDirectory == "/var/run/postgresql")
        #expect(socket.description == "postgres://ci@/queue?host=/var/run/postgresql")
    }

    @Test func aPasswordMayComeFromTheEnvironment() throws {
        let url = try PostgresURL("postgres://ci@db/queue", environment: ["BATON_DATABASE_PASSWORD": "a", "PGPASSWORD": "b"])
        #expect(url.description == "postgres://ci:***@db:5432/queue")
        #expect(try PostgresURL("postgres://ci@db/queue", environment: [:]).description == "postgres://ci@db:5432/queue")
    }

    @Test(arguments: [
        ("mysql://ci:secret@db/queue", "expected postgres://"),
        ("postgres://db/queue", "names no user"),
        ("postgres://ci:secret@db", "names no database"),
        ("postgres://ci:secret@db/queue?sslmode=maybe", "sslmode maybe"),
    ])
    func badURLsSayWhatIsWrongWithoutEchoingThePassword(text: String, reason: String) {
        do {
            _ = try PostgresURL(text, environment: [:])
            Issue.record("\(text) was accepted")
        } catch {
            #expect(error.description.contains(reason), "\(error)")
            #expect(!error.description.contains("secret"), "\(error)")
        }
    }
}
