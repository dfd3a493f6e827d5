import AsyncHTTPClient
import BatonCore
import BatonSQLite
import BatonServer
import BenchmarkSupport
import Foundation
import NIOCore
import ServiceLifecycle

/// Enqueue throughput over HTTP on loopback, keep-alive connections, against the same
/// application `baton serve` runs (in this process, with the orchestrator paused so plans only
/// queue). Prints single-plan requests per second and plans per second through the batch route.
///
///     swift run -c release --package-path Benchmarks HTTPBenchmark [--seconds 5] [--connections 32] [--port 18181]
@main
struct HTTPBenchmark {
    static func main() async throws {
        let seconds = Floor.option("--seconds", default: 5)
        let connections = Floor.option("--connections", default: 32)
        let port = Floor.option("--port", default: 18181)
        let directory = try Floor.scratchDirectory("baton-http-bench")
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let store = try await SQLitePlanStore(configuration: .init(path: directory + "/baton.sqlite"), logger: Floor.quiet)
        let python = try await PythonInterpreter.resolve()
        let metrics = ServerMetrics()
        let node = BatonNode(store: store, metrics: metrics.metrics, logger: { _ in Floor.quiet }) {
            PreparedRunner(runner: PythonRunner(configuration: .init(interpreter: python, workspaceRoot: directory), logger: Floor.quiet), interpreter: python)
        }
        await node.orchestrator.pause()
        var server = ServerConfiguration()
        server.port = port
        let app = buildApplication(configuration: server, node: node, metrics: metrics, logger: Floor.quiet)
        let secret = try `require`(try await AdminTokenBootstrap.ensureAdminToken(tokens: store, dataDirectory: directory))
        let group = node.serviceGroup(then: [app], logger: Floor.quiet)
        let serving = Task { try await group.run() }

        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: connections)))
        let base = "http://127.0.0.1:\(port)/api/v1"
        func post(_ path: String, _ body: String) async throws -> Int {
            var request = HTTPClientRequest(url: base + path)
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(secret)")
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
            let response = try await client.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 16 << 20)
            return Int(response.status.code)
        }
        // Wait for the server, then warm up the connections.
        while (try? await post("/plans", #"{"code": "pass", "run_after": "2099-01-01T00:00:00Z"}"#)) != 201 {
            try await Task.sleep(for: .milliseconds(50))
        }

        print("Baton HTTP benchmark — loopback, keep-alive, \(connections) connections, \(seconds) s, \(ProcessInfo.processInfo.activeProcessorCount) cores (client and server share them)")
        let single = #"{"script": "tests/test_suite.py", "input": {"shard": 3}, "priority": 4, "labels": {"branch": "main", "ci_job": "7"}}"#
        let deadline = ContinuousClock.now + .seconds(seconds)
        let start = ContinuousClock.now
        let created = try await withThrowingTaskGroup(of: Int.self) { tasks in
            for _ in 0..<connections {
                tasks.addTask {
                    var count = 0
                    while ContinuousClock.now < deadline {
                        guard try await post("/plans", single) == 201 else { throw BenchmarkError(message: "an enqueue failed") }
                        count += 1
                    }
                    return count
                }
            }
            var total = 0
            for try await count in tasks { total += count }
            return total
        }
        let singleRate = Double(created) / Floor.seconds(ContinuousClock.now - start)
        print(String(format: "single enqueue   %8.0f requests/s   (%d plans; target ≥ 5,000)", singleRate, created))

        let batch = "{\"plans\": [" + Array(repeating: single, count: 1000).joined(separator: ",") + "]}"
        let batches = 40
        let batchStart = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for _ in 0..<2 {
                tasks.addTask {
                    for _ in 0..<(batches / 2) {
                        guard try await post("/plans/batch", batch) == 201 else { throw BenchmarkError(message: "a batch failed") }
                    }
                }
            }
            try await tasks.waitForAll()
        }
        let batchRate = Double(batches * 1000) / Floor.seconds(ContinuousClock.now - batchStart)
        print(String(format: "batch enqueue    %8.0f plans/s      (%d batches of 1,000; target ≥ 50,000)", batchRate, batches))

        try await client.shutdown()
        await group.triggerGracefulShutdown()
        try await serving.value
    }

    struct BenchmarkError: Error { let message: String }
}

/// `try #require`-like unwrapping for a command-line tool.
func `require`<T>(_ value: T?) throws -> T {
    guard let value else { throw HTTPBenchmark.BenchmarkError(message: "a required value was missing") }
    return value
}
