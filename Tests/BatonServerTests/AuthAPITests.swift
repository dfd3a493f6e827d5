import BatonCore
import BatonSQLite
import Foundation
import HummingbirdTesting
import BatonTestSupport
import Testing
@testable import BatonServer

@Suite struct AuthAPITests {
    /// Each route, the weakest role that may call it, and its answer when allowed.
    static let routes: [(method: String, path: String, body: String, role: TokenRole?, success: Int)] = [
        ("GET", "/api/v1/health", "", nil, 200),
        ("GET", "/api/v1/plans", "", .viewer, 200),
        ("GET", "/api/v1/plans/1", "", .viewer, 200),
        ("GET", "/api/v1/plans/1/output", "", .viewer, 200),
        ("GET", "/api/v1/plans/1/steps", "", .viewer, 200),
        ("GET", "/api/v1/orchestrator", "", .viewer, 200),
        ("GET", "/api/v1/nodes", "", .viewer, 200),
        ("GET", "/api/v1/audit", "", .admin, 200),
        ("POST", "/api/v1/prune", #"{"older_than_seconds": 86400}"#, .admin, 200),
        ("POST", "/api/v1/plans", #"{"code": "print(1)", "run_after": "2099-01-01T00:00:00Z"}"#, .producer, 201),
        ("POST", "/api/v1/plans/batch", #"{"plans": [{"code": "print(1)", "run_after": "2099-01-01T00:00:00Z"}]}"#, .producer, 201),
        ("POST", "/api/v1/orchestrator/poll", "", .producer, 200),
        ("POST", "/api/v1/orchestrator/pause", "", .admin, 200),
        ("POST", "/api/v1/orchestrator/resume", "", .admin, 200),
        ("GET", "/api/v1/tokens", "", .admin, 200),
        ("POST", "/api/v1/tokens", #"{"name": "made-by-the-matrix", "role": "viewer"}"#, .admin, 201),
    ]

    @Test func everyRouteAnswers401403OrSuccessByRole() async throws {
        try await withServer { client, store, orchestrator in
            _ = try await store.enqueue(PlanSpec(entryPoint: .code("print(1)"), runAfter: Date().addingTimeInterval(3600)), now: Date())
            for route in Self.routes {
                for caller in [nil, "revoked", "viewer", "producer", "admin"] {
                    let response = route.method == "GET"
                        ? try await client.get(route.path, as: caller)
                        : try await client.post(route.path, json: route.body, as: caller)
                    let expected: Int
                    switch (route.role, caller) {
                    case (nil, _): expected = route.success
                    case (_, nil), (_, "revoked"): expected = 401
                    case (let needed?, let caller?): expected = TokenRole(rawValue: caller)! >= needed ? route.success : 403
                    }
                    #expect(response.status.code == expected, "\(route.method) \(route.path) as \(caller ?? "nobody"): \(response.status.code) \(response.text)")
                    if expected == 401 || expected == 403 {
                        #expect(response.headers[.contentType] == "application/problem+json")
                    }
                }
            }
            _ = await orchestrator.resume()
        }
    }

    @Test func aRevokedTokenStopsWorkingAtOnceAndSecretsAreShownOnlyOnce() async throws {
        try await withServer { client, _, _ in
            let created = try await client.post("/api/v1/tokens", json: #"{"name": "ci-runner", "role": "producer"}"#)
            #expect(created.status == .created)
            let secret = try #require(created.object["token"] as? String)
            let id = try #require(created.object["id"] as? Int)
            #expect(secret.hasPrefix("baton_"))
            #expect(try await client.get("/api/v1/plans", as: secret).status == .ok)

            let plan = try await client.post("/api/v1/plans", json: #"{"code": "print(1)", "run_after": "2099-01-01T00:00:00Z"}"#, as: secret)
            #expect(plan.object["triggered_by"] as? String == "ci-runner", "the token's name is recorded")

            let list = try await client.get("/api/v1/tokens")
            #expect(!list.text.contains(secret), "secrets are never listed")
            #expect((list.object["tokens"] as? [[String: Any]] ?? []).contains { $0["name"] as? String == "ci-runner" })
            #expect(try await client.post("/api/v1/tokens", json: #"{"name": "ci-runner", "role": "viewer"}"#).status == .conflict)
            #expect(try await client.post("/api/v1/tokens", json: #"{"name": "x", "role": "root"}"#).status == .unprocessableContent)

            #expect(try await client.delete("/api/v1/tokens/\(id)").status == .noContent)
            #expect(try await client.get("/api/v1/plans", as: secret).status == .unauthorized)
            #expect(try await client.delete("/api/v1/tokens/\(id)").status == .notFound)
            #expect(try await client.delete("/api/v1/tokens/\(id)", as: "producer").status == .forbidden)
        }
    }

    @Test func theFirstStartCreatesAnAdminTokenFileOnlyItsOwnerReads() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("baton-bootstrap-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try await SQLitePlanStore(configuration: .init(path: directory + "/baton.sqlite"), logger: quietLogger)
        let secret = try #require(try await AdminTokenBootstrap.ensureAdminToken(tokens: store, dataDirectory: directory))
        let file = AdminTokenBootstrap.tokenFile(inDataDirectory: directory)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == secret + "\n")
        let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try await store.liveToken(secretHash: TokenSecret.hash(secret))?.role == .admin)
        #expect(try await AdminTokenBootstrap.ensureAdminToken(tokens: store, dataDirectory: directory) == nil, "only on the first start")
        await store.close()
    }
}
