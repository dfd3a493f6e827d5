import BatonCore
import Foundation
import HummingbirdTesting
import BatonTestSupport
import Testing
@testable import BatonServer

@Suite struct MetricsAPITests {
    /// The samples of a Prometheus text exposition: `name{labels}` → value. Fails the test on
    /// any line that is not a comment, a blank, or `name[{labels}] value`.
    static func samples(_ text: String) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let value = Double(parts[1]),
                  parts[0].range(of: #"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})?$"#, options: .regularExpression) != nil
            else {
                Issue.record("not a Prometheus sample line: \(line)")
                continue
            }
            samples[String(parts[0])] = value
        }
        return samples
    }

    @Test func prometheusMetricsParseAndMove() async throws {
        try await withServer { client, _, _ in
            let before = try await client.get("/metrics", as: nil)
            #expect(before.status == .ok, "no token needed")
            #expect(before.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            let initial = Self.samples(before.text)
            #expect(initial[#"baton_queue_depth{status="queued"}"#] == 0)

            let created = try await client.post("/api/v1/plans", json: #"{"code": "print('measured')"}"#)
            let id = try #require(created.object["id"] as? Int)
            #expect(try await client.get("/api/v1/plans/\(id)?wait=30").object["status"] as? String == "succeeded")
            let after = Self.samples(try await client.get("/metrics").text)
            #expect(after["baton_plans_enqueued_total"] == 1)
            #expect(after[#"baton_plans_finished_total{status="succeeded"}"#] == 1)
            #expect(after["baton_plan_run_duration_seconds_count"] == 1)
            #expect(after["baton_dispatch_latency_seconds_count"] == 1)
            #expect((after["baton_poll_cycles_total"] ?? 0) >= 1)
            #expect(after[#"baton_queue_depth{status="succeeded"}"#] == 1)
            #expect(after["baton_workers_total"] == 1)

            // A plan canceled before it ran has ended too.
            let later = try await client.post("/api/v1/plans", json: #"{"code": "print(1)", "run_after": "2099-01-01T00:00:00Z"}"#)
            let laterID = try #require(later.object["id"] as? Int)
            #expect(try await client.post("/api/v1/plans/\(laterID)/cancel", json: "").status == .ok)
            let canceled = Self.samples(try await client.get("/metrics").text)
            #expect(canceled[#"baton_plans_finished_total{status="canceled"}"#] == 1)
            #expect(canceled["baton_plan_run_duration_seconds_count"] == 1, "no run, no duration")
        }
    }

    @Test func theJSONSummaryCountsAndTotals() async throws {
        try await withServer { client, _, _ in
            let code = #"print('__BATON_RESULT_START__')\nprint('{\"status\": \"success\", \"usage\": {\"input_tokens\": 10, \"output_tokens\": 4, \"cost_usd\": 0.25}}')\nprint('__BATON_RESULT_END__')"#
            let created = try await client.post("/api/v1/plans", json: #"{"code": "\#(code)"}"#)
            let id = try #require(created.object["id"] as? Int)
            _ = try await client.get("/api/v1/plans/\(id)?wait=30")
            let summary = try await client.get("/api/v1/metrics", as: "viewer")
            #expect(summary.status == .ok)
            #expect((summary.object["counts"] as? [String: Int])?["succeeded"] == 1)
            #expect(summary.object["running"] as? Int == 0)
            #expect((summary.object["duration_ms"] as? [String: Any])?["samples"] as? Int == 1)
            let usage = summary.object["usage"] as? [String: Any]
            #expect(usage?["input_tokens"] as? Int == 10)
            #expect(usage?["cost_usd"] as? Double == 0.25)
            #expect(try await client.get("/api/v1/metrics", as: nil).status == .unauthorized)
        }
    }
}
