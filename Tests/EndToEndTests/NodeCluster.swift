import BatonClient
import BatonTestSupport
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `baton serve` nodes on one PostgreSQL database, each with a name (`a`, `b`, ...), sharing one
/// workspace (``root``) whose scripts say which node ran them (`BATON_NODE`) in files beside
/// them: `once.py` logs its start and end, and holds a lock on its key while it runs (a second
/// live run of a plan logs `overlap`); `gated.py` does the same, beating into a file while it
/// waits for the gate to open. Plans write nowhere else, so the nodes may sandbox them.
struct NodeCluster: Sendable {
    /// The shared workspace.
    let root: String
    let database: String
    let nodes: [ServerProcess]

    var log: String { (try? String(contentsOfFile: root + "/runs.log", encoding: .utf8)) ?? "" }
    var logLines: [[Substring]] { log.split(separator: "\n").map { $0.split(separator: " ") } }

    /// The admin token: the first node made it, in the database every node shares.
    var token: String { nodes[0].adminToken }

    func client(_ index: Int) -> BatonClient {
        BatonClient(server: URL(string: nodes[index].url)!, token: token)
    }

    /// Lets every `gated.py` run finish.
    func openGate() {
        FileManager.default.createFile(atPath: root + "/gate", contents: Data())
    }

    /// The last time (seconds since 1970) a gated run of `key` on `node` said it was alive.
    func lastBeat(of key: String, on node: String) -> Double? {
        (try? String(contentsOfFile: root + "/beats-\(key)-\(node)", encoding: .utf8))?
            .split(separator: "\n").compactMap { Double($0) }.last
    }

    /// Which nodes started `key`, in order.
    func starts(of key: String) -> [String] {
        logLines.filter { $0.count == 3 && $0[0] == "start" && $0[1] == key }.map { String($0[2]) }
    }

    /// Enqueues plans of `script` with keys `keys` through node `index`, in batches.
    func enqueue(_ keys: [String], script: String, through index: Int) async throws {
        for batch in stride(from: 0, to: keys.count, by: 500).map({ Array(keys[$0..<min($0 + 500, keys.count)]) }) {
            let plans = batch.map { #"{"script": "\#(script)", "input": {"key": "\#($0)"}, "timeout_seconds": 600}"# }
            let body = #"{"plans": ["# + plans.joined(separator: ",") + "]}"
            var request = URLRequest(url: URL(string: nodes[index].url + "/api/v1/plans/batch")!)
            request.httpMethod = "POST"
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            let (data, response) = try await URLSession.shared.data(for: request)
            try #require((response as? HTTPURLResponse)?.statusCode == 201, "\(String(decoding: data, as: UTF8.self))")
        }
    }

    /// Starts nodes named `a`, `b`, ... on a new database, runs `body`, then stops them and drops
    /// the database. `databaseURL` may route a node through another address (a proxy).
    static func with(
        nodes names: [String], arguments: [String] = [],
        databaseURL: (_ node: String, _ database: String) -> String = { _, database in database },
        _ body: (NodeCluster) async throws -> Void
    ) async throws {
        guard let server = TestPostgres.serverURL else {
            print("note: BATON_TEST_POSTGRES_URL is not set; several baton serve nodes on PostgreSQL are not tested")
            return
        }
        let database = try await TestPostgres.createDatabase(on: server)
        let directory = try TestDirectory()
        defer { directory.remove() }
        do {
            let workspace = directory.workspace
            try FileManager.default.createDirectory(atPath: workspace + "/locks", withIntermediateDirectories: true)
            for (file, source) in scripts(root: workspace) {
                try source.write(toFile: workspace + "/" + file, atomically: true, encoding: .utf8)
            }
            try await start(names[...], root: directory.root, arguments: arguments, database: database, databaseURL: databaseURL,
                            started: []) { nodes in
                try await body(NodeCluster(root: workspace, database: database, nodes: nodes))
            }
        } catch {
            await TestPostgres.dropDatabase(database, on: server)
            throw error
        }
        await TestPostgres.dropDatabase(database, on: server)
    }

    /// One after the other, so that the first node leads.
    private static func start(
        _ names: ArraySlice<String>, root: String, arguments: [String], database: String,
        databaseURL: (String, String) -> String, started: [ServerProcess], _ body: ([ServerProcess]) async throws -> Void
    ) async throws {
        guard let name = names.first else { return try await body(started) }
        try await ServerProcess.with(
            dataDir: root + "/data-" + name, workspace: root + "/workspace",
            arguments: ["--database", databaseURL(name, database), "--node-name", name] + arguments
        ) { node in
            try await start(names.dropFirst(), root: root, arguments: arguments, database: database, databaseURL: databaseURL,
                            started: started + [node], body)
        }
    }

    private static func scripts(root: String) -> [String: String] {
        let common = """
            import fcntl, json, os, sys, time
            NODE, ROOT = os.environ["BATON_NODE"], "\(root)"
            key = json.load(sys.stdin)["key"]

            def log(what):
                with open(ROOT + "/runs.log", "a") as f:
                    f.write(f"{what} {key} {NODE}\\n")

            lock = open(f"{ROOT}/locks/{key}", "w")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log("overlap")
                sys.exit(3)
            log("start")

            """
        return [
            "once.py": common + "log(\"end\")\n",
            "gated.py": common + """
                while not os.path.exists(ROOT + "/gate"):
                    with open(f"{ROOT}/beats-{key}-{NODE}", "a") as f:
                        f.write(repr(time.time()) + "\\n")
                    time.sleep(0.05)
                log("end")

                """,
        ]
    }
}

/// A TCP proxy in front of PostgreSQL, to cut a node off from the database: stopped with
/// SIGSTOP, every connection through it hangs, as on a network partition.
final class DatabaseProxy: Sendable {
    let port: Int
    private let process: Process

    init(to database: String) throws {
        let target = try #require(URLComponents(string: database))
        let script = """
            import asyncio, os, sys

            async def pipe(reader, writer):
                try:
                    while data := await reader.read(65536):
                        writer.write(data)
                        await writer.drain()
                except Exception:
                    pass
                finally:
                    writer.close()

            async def handle(reader, writer):
                try:
                    upstream_reader, upstream_writer = await asyncio.open_connection(sys.argv[1], int(sys.argv[2]))
                except Exception:
                    writer.close()
                    return
                await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

            async def main():
                server = await asyncio.start_server(handle, "127.0.0.1", 0)
                with open(sys.argv[3] + ".tmp", "w") as f:
                    f.write(str(server.sockets[0].getsockname()[1]))
                os.rename(sys.argv[3] + ".tmp", sys.argv[3])
                async with server:
                    await server.serve_forever()

            asyncio.run(main())
            """
        // The proxy writes the port it listens on into this file once it does.
        let portFile = FileManager.default.temporaryDirectory.appendingPathComponent("baton-proxy-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: portFile) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, target.host ?? "127.0.0.1", String(target.port ?? 5432), portFile]
        try process.run()
        var port: Int?
        for _ in 0..<600 where port == nil && process.isRunning {
            port = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0) }
            if port == nil { usleep(50_000) }
        }
        self.process = process
        self.port = try #require(port, "the database proxy did not start")
    }

    /// `database` with the proxy's address in place of the server's.
    func route(_ database: String) -> String {
        var components = URLComponents(string: database)!
        components.host = "127.0.0.1"
        components.port = port
        return components.string!
    }

    /// Every connection through the proxy hangs from now on.
    func freeze() { kill(process.processIdentifier, SIGSTOP) }

    func thaw() { kill(process.processIdentifier, SIGCONT) }

    func stop() {
        kill(process.processIdentifier, SIGKILL)
        var status: Int32 = 0
        waitpid(process.processIdentifier, &status, 0)
    }
}
