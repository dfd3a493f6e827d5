import BatonClient
import BenchmarkSupport
import Foundation

/// `baton serve` nodes named `a`, `b`, ... on a new database of the benchmark's PostgreSQL, each
/// with a workspace of its own holding the same scripts, written so that each says which node
/// ran it, into files under ``root``:
///
/// - `sleep.py` sleeps 200 ms, then appends the node's name to `ran`;
/// - `stamp.py` writes `NODE TIME_NS` into `stamps/PLAN` as its first statement;
/// - `hold.py` writes `NODE TIME_NS` into `starts/PLAN-ATTEMPT`, then waits for the file `gate`.
final class BenchCluster {
    let root: String
    let nodes: [ServeNode]
    let token: String

    private init(root: String, nodes: [ServeNode], token: String) {
        self.root = root
        self.nodes = nodes
        self.token = token
    }

    /// Starts `count` nodes one after the other (so `a` leads), runs `body`, then stops them.
    static func with<T>(nodes count: Int, arguments: [String], setup: Setup, _ body: (BenchCluster) async throws -> T) async throws -> T {
        let database = try await setup.postgres.createDatabase()
        let root = try Floor.scratchDirectory("baton-cluster-bench")
        defer { try? FileManager.default.removeItem(atPath: root) }
        for directory in ["stamps", "starts"] {
            try FileManager.default.createDirectory(atPath: root + "/" + directory, withIntermediateDirectories: true)
        }
        var nodes: [ServeNode] = []
        defer { nodes.forEach { $0.stop() } }
        for name in "abcdefgh".prefix(count).map(String.init) {
            let workspace = root + "/workspace-" + name
            try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
            for (file, source) in scripts(node: name, root: root) {
                try source.write(toFile: workspace + "/" + file, atomically: true, encoding: .utf8)
            }
            nodes.append(try await ServeNode.start(binary: setup.binary, name: name, database: database.description + "?sslmode=disable", root: root,
                                                   arguments: arguments))
        }
        guard let token = nodes[0].adminToken else { throw BenchmarkFailure("the first node wrote no admin token") }
        let cluster = BenchCluster(root: root, nodes: nodes, token: token)
        // Let the gated plans of a crashed node end, whatever the body did.
        defer { cluster.openGate() }
        return try await body(cluster)
    }

    func client(_ index: Int) -> BatonClient {
        BatonClient(server: nodes[index].url, token: token)
    }

    /// Enqueues `count` plans of `script` through node `index`, in batches; returns their ids.
    @discardableResult
    func enqueue(_ count: Int, script: String, through index: Int) async throws -> [Int64] {
        var ids: [Int64] = []
        while ids.count < count {
            let batch = min(500, count - ids.count)
            let body = #"{"plans": ["# + Array(repeating: #"{"script": "\#(script)"}"#, count: batch).joined(separator: ",") + "]}"
            let reply = try await client(index).enqueueBatch(plansJSON: Data(body.utf8))
            ids += reply.value.plans.map(\.id)
        }
        return ids
    }

    /// Waits until plan `id` has ended, and fails unless it succeeded.
    func awaitSuccess(of id: Int64, through index: Int = 0) async throws {
        while true {
            let plan = try await client(index).plan(id, wait: 60).value
            guard plan.isTerminal else { continue }
            guard plan.status == "succeeded" else { throw BenchmarkFailure("plan \(id) ended \(plan.status)") }
            return
        }
    }

    /// Lets every `hold.py` run end.
    func openGate() {
        _ = FileManager.default.createFile(atPath: root + "/gate", contents: Data())
    }

    /// The node and the time (seconds since 1970) in a stamp file, once it is there.
    func stamp(_ file: String) -> (node: String, at: Double)? {
        guard let text = try? String(contentsOfFile: root + "/" + file, encoding: .utf8) else { return nil }
        let parts = text.split(separator: " ")
        guard parts.count == 2, let nanoseconds = Double(parts[1]) else { return nil }
        return (String(parts[0]), nanoseconds / 1e9)
    }

    /// How many `sleep.py` runs each node ended, by node name.
    var sleepsByNode: [String: Int] {
        let lines = ((try? String(contentsOfFile: root + "/ran", encoding: .utf8)) ?? "").split(separator: "\n")
        return Dictionary(grouping: lines, by: String.init).mapValues(\.count)
    }

    private static func scripts(node: String, root: String) -> [String: String] {
        [
            "sleep.py": """
                import time
                time.sleep(0.2)
                with open("\(root)/ran", "a") as f:
                    f.write("\(node)\\n")

                """,
            "stamp.py": """
                import os, time
                now = time.time_ns()
                with open("\(root)/stamps/" + os.environ["BATON_PLAN_ID"], "w") as f:
                    f.write(f"\(node) {now}")

                """,
            "hold.py": """
                import os, time
                now = time.time_ns()
                with open(f"\(root)/starts/{os.environ['BATON_PLAN_ID']}-{os.environ['BATON_ATTEMPT']}", "w") as f:
                    f.write(f"\(node) {now}")
                while not os.path.exists("\(root)/gate"):
                    time.sleep(0.02)

                """,
        ]
    }
}

/// What every measurement needs: the PostgreSQL server and the `baton` executable.
struct Setup {
    let postgres: ThrowawayPostgres
    let binary: String
}
