import BatonCore
import Foundation
import HummingbirdTesting
import BatonTestSupport
import Testing
@testable import BatonServer

/// The cluster's resources on a single node: its row, the audit log, pruning on request, and
/// the `node` field of control commands.
@Suite struct ClusterAPITests {
    @Test func theNodeListsItselfAsTheRunningLeader() async throws {
        try await withServer(workers: 2) { client, _, _ in
            let answer = try await client.get("/api/v1/nodes", as: "viewer")
            #expect(answer.status == .ok, "\(answer.text)")
            let nodes = answer.object["nodes"] as? [[String: Any]] ?? []
            #expect(nodes.count == 1)
            #expect(nodes.first?["name"] as? String == answer.object["this_node"] as? String)
            #expect(nodes.first?["state"] as? String == "running")
            #expect(nodes.first?["leader"] as? Bool == true)
            #expect((nodes.first?["workers"] as? [String: Int])?["total"] == 2)
            #expect(nodes.first?["version"] as? String == BatonVersion.current)
            let status = try await client.get("/api/v1/orchestrator", as: "viewer")
            #expect(status.object["node"] as? String == answer.object["this_node"] as? String)
        }
    }

    @Test func controlCommandsNameANodeAndAnswerPerNode() async throws {
        try await withServer { client, _, _ in
            let name = try await client.get("/api/v1/nodes").object["this_node"] as? String ?? ""
            let paused = try await client.post("/api/v1/orchestrator/pause", json: #"{"node": "*"}"#)
            #expect(paused.status == .ok, "\(paused.text)")
            #expect(paused.object["state"] as? String == "paused")
            let answers = paused.object["nodes"] as? [[String: Any]] ?? []
            #expect(answers.map { $0["node"] as? String } == [name])
            #expect(answers.first?["state"] as? String == "paused")

            let resumed = try await client.post("/api/v1/orchestrator/resume", json: "{\"node\": \"\(name)\"}")
            #expect(resumed.object["state"] as? String == "running", "\(resumed.text)")

            let unknown = try await client.post("/api/v1/orchestrator/pause", json: #"{"node": "elsewhere"}"#)
            #expect(unknown.status == .notFound, "\(unknown.text)")
            #expect(unknown.text.contains("no node is named elsewhere"), "\(unknown.text)")
            for body in [#"{"node": 7}"#, #"{"node": "has space"}"#, #"{"mode": "immediate"}"#, #"["*"]"#] {
                let bad = try await client.post("/api/v1/orchestrator/pause", json: body)
                #expect(bad.status == .unprocessableContent, "\(body): \(bad.text)")
            }
            #expect(try await client.post("/api/v1/orchestrator/pause", json: "{").status == .badRequest)
            #expect(try await client.get("/api/v1/orchestrator").object["state"] as? String == "running", "no bad command did anything")
        }
    }

    @Test func controlCommandsTokenChangesAndPrunesAreAudited() async throws {
        try await withServer { client, _, _ in
            _ = try await client.post("/api/v1/orchestrator/pause", json: "")
            _ = try await client.post("/api/v1/orchestrator/resume", json: "", as: "admin")
            let created = try await client.post("/api/v1/tokens", json: #"{"name": "ci", "role": "producer"}"#)
            let id = created.object["id"] as? Int ?? 0
            #expect(try await client.delete("/api/v1/tokens/\(id)").status == .noContent)
            let pruned = try await client.post("/api/v1/prune", json: #"{"older_than_seconds": 3600}"#)
            #expect(pruned.status == .ok, "\(pruned.text)")
            #expect(pruned.object["deleted"] as? Int == 0)

            let page = try await client.get("/api/v1/audit?limit=3")
            #expect(page.status == .ok, "\(page.text)")
            let entries = page.object["entries"] as? [[String: Any]] ?? []
            #expect(entries.map { $0["action"] as? String } == ["prune", "token.revoke", "token.create"])
            #expect(entries.allSatisfy { $0["actor"] as? String == "admin-token" })
            #expect(entries[1]["target"] as? String == "ci (producer, id \(id))")
            #expect(entries[0]["outcome"] as? String == "deleted 0 plans")
            let cursor = page.object["next_cursor"] as? Int
            #expect(cursor != nil)
            let rest = try await client.get("/api/v1/audit?cursor=\(cursor ?? 0)").object["entries"] as? [[String: Any]] ?? []
            #expect(rest.map { $0["action"] as? String } == ["resume", "pause"])
            #expect(rest.first?["outcome"] as? String == "\(try await client.get("/api/v1/nodes").object["this_node"] as? String ?? ""): running")

            for query in ["limit=0", "limit=501", "limit=x", "cursor=0", "cursor=-4"] {
                #expect(try await client.get("/api/v1/audit?\(query)").status == .unprocessableContent, "\(query)")
            }
        }
    }

    @Test func pruneDeletesOnlyPlansThatEndedBeforeTheAgeAndRefusesBadBodies() async throws {
        try await withServer { client, store, _ in
            let old = try await store.enqueue(PlanSpec(entryPoint: .code("print(1)")), now: Date()).plan
            _ = try await store.cancel(old.id, actor: "test", now: Date().addingTimeInterval(-7200))
            let recent = try await store.enqueue(PlanSpec(entryPoint: .code("print(1)"), runAfter: Date().addingTimeInterval(3600)), now: Date()).plan
            let pruned = try await client.post("/api/v1/prune", json: #"{"older_than_seconds": 3600}"#)
            #expect(pruned.object["deleted"] as? Int == 1, "\(pruned.text)")
            #expect(try await store.plan(old.id) == nil)
            #expect(try await store.plan(recent.id) != nil)
            for body in ["{}", #"{"older_than_seconds": -1}"#, #"{"older_than_seconds": "7d"}"#, #"{"older_than": 3600}"#, "[]"] {
                let bad = try await client.post("/api/v1/prune", json: body)
                #expect(bad.status == .unprocessableContent, "\(body): \(bad.text)")
            }
            #expect(try await client.post("/api/v1/prune", json: #"{"older_than_seconds": 1}"#, as: "producer").status == .forbidden)
        }
    }
}
