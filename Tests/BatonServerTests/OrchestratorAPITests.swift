import BatonCore
import Foundation
import HummingbirdTesting
import BatonTestSupport
import Testing
@testable import BatonServer

@Suite struct OrchestratorAPITests {
    @Test func statusAndControlCommands() async throws {
        try await withServer(workers: 2) { client, _, _ in
            let status = try await client.get("/api/v1/orchestrator")
            #expect(status.status == .ok)
            #expect(status.object["state"] as? String == "running")
            #expect(status.object["generation"] as? Int == 1)
            #expect((status.object["workers"] as? [String: Any])?["total"] as? Int == 2)
            #expect((status.object["queue"] as? [String: Int])?["queued"] == 0)
            #expect((status.object["python"] as? [String: Any])?["version"] != nil)

            #expect(try await client.post("/api/v1/orchestrator/pause", json: "").object["state"] as? String == "paused")
            _ = try await client.post("/api/v1/plans", json: #"{"code": "print(1)"}"#)
            let poll = try await client.post("/api/v1/orchestrator/poll", json: "")
            #expect(poll.object["state"] as? String == "paused")
            #expect(poll.object["claimed"] as? [Int] == [])
            #expect((poll.object["queue"] as? [String: Int])?["queued"] == 1)
            #expect(try await client.post("/api/v1/orchestrator/resume", json: "").object["state"] as? String == "running")

            let restart = try await client.post("/api/v1/orchestrator/restart", json: #"{"mode": "immediate"}"#)
            #expect(restart.status == .ok, "\(restart.text)")
            #expect(restart.object["generation"] as? Int == 2)
            #expect(try await client.post("/api/v1/orchestrator/restart", json: #"{"mode": "sideways"}"#).status == .unprocessableContent)
            #expect(try await client.post("/api/v1/orchestrator/restart", json: #"{"drain_timeout_seconds": -1}"#).status == .unprocessableContent)
        }
    }

    @Test func healthNeedsNothingAndSaysOK() async throws {
        try await withServer { client, _, _ in
            let health = try await client.get("/api/v1/health")
            #expect(health.status == .ok)
            #expect(health.object["status"] as? String == "ok")
            #expect(health.object["orchestrator"] as? String == "running")
            // The test server runs plans unsandboxed, and says why.
            let sandbox = health.object["sandbox"] as? [String: Any]
            #expect(sandbox?["state"] as? String == "off")
            #expect(sandbox?["reason"] as? String == "--sandbox off")
        }
    }
}
