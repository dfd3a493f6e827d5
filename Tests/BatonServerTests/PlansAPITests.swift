@testable import BatonServer
import BatonCore
import BatonTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite struct PlansAPITests {
    @Test func enqueueAnswers201WithThePlanAndItsLocation() async throws {
        try await withServer { client, store, orchestrator in
            await orchestrator.pause()
            let body = #"{"script": "tests/run.py", "input": {"n": 123, "f": 1.50, "z": [true, null]}, "priority": 2, "args": ["-k", "smoke"], "env": {"API_KEY": "s3cret"}, "labels": {"branch": "main"}, "idempotency_key": "ci-1"}"#
            let response = try await client.post("/api/v1/plans", json: body)
            #expect(response.status == .created)
            let plan = response.object
            let id = try #require(plan["id"] as? Int)
            #expect(response.headers[.location] == "/api/v1/plans/\(id)")
            #expect(response.headers[.contentType] == "application/json")
            #expect(plan["script"] as? String == "tests/run.py")
            #expect(plan["name"] as? String == "tests/run.py")
            #expect(plan["priority"] as? Int == 2)
            #expect(plan["status"] as? String == "queued")
            #expect(plan["timeout_seconds"] as? Int == 60)
            #expect(plan["max_attempts"] as? Int == 1)
            #expect(plan["args"] as? [String] == ["-k", "smoke"])
            #expect(plan["labels"] as? [String: String] == ["branch": "main"])
            #expect(plan["env"] as? [String: String] == ["API_KEY": "***"])
            #expect(plan["triggered_by"] as? String == "admin-token", "the token's name")
            #expect(response.text.contains(#""input":{"n": 123, "f": 1.50, "z": [true, null]}"#), "input exactly as sent")
            #expect(!response.text.contains("s3cret"))
            #expect((plan["enqueued_at"] as? String)?.hasSuffix("Z") == true)
            #expect(try await store.plan(Int64(id))?.input.text == #"{"n": 123, "f": 1.50, "z": [true, null]}"#)
        }
    }

    @Test func whatAPlanAsksOfItsSandboxIsShownBack() async throws {
        try await withServer { client, _, orchestrator in
            await orchestrator.pause()
            let plain = try await client.post("/api/v1/plans", json: #"{"code": "print(1)"}"#)
            #expect(plain.object["network"] as? Bool == true)
            #expect(plain.object["limits"] is NSNull)
            #expect(plain.object["requirements"] as? [String] == [])
            #expect(plain.object["requirements_file"] is NSNull)
            let body = #"{"code": "print(1)", "network": false, "limits": {"memory_mb": 256, "processes": null}, "requirements": ["httpx[http2]>=0.27,<1"]}"#
            let asking = try await client.post("/api/v1/plans", json: body)
            #expect(asking.status == .created, "\(asking.text)")
            #expect(asking.object["network"] as? Bool == false)
            #expect((asking.object["limits"] as? [String: Any])?["memory_mb"] as? Int == 256)
            #expect(asking.object["requirements"] as? [String] == ["httpx[http2]>=0.27,<1"])
        }
    }

    @Test func aRepeatedIdempotencyKeyAnswers200WithTheFirstPlan() async throws {
        try await withServer { client, _, orchestrator in
            await orchestrator.pause()
            let first = try await client.post("/api/v1/plans", json: #"{"code": "print(1)", "idempotency_key": "deploy-7"}"#)
            let second = try await client.post("/api/v1/plans", json: #"{"module": "other.thing", "priority": 0, "idempotency_key": "deploy-7"}"#)
            #expect(first.status == .created)
            #expect(second.status == .ok)
            #expect(second.object["id"] as? Int == first.object["id"] as? Int)
            #expect(second.object["code"] as? String == "print(1)")
        }
    }

    @Test(arguments: [
        (#"{"script": "a.py", "priorty": 1}"#, "priorty"),
        (#"{"script": "a.py", "priority": 10}"#, "priority"),
        (#"{"script": "a.py", "priority": "high"}"#, "priority"),
        (#"{"script": "a.py", "code": "print(1)"}"#, "code"),
        (#"{"priority": 1}"#, "script"),
        (#"{"script": "../escape.py"}"#, "script"),
        (#"{"script": "a.py", "env": {"BATON_TOKEN": "x"}}"#, "env.BATON_TOKEN"),
        (#"{"script": "a.py", "env": {"A": 1}}"#, "env"),
        (#"{"script": "a.py", "timeout_seconds": 999999}"#, "timeout_seconds"),
        (#"{"script": "a.py", "run_after": "tomorrow"}"#, "run_after"),
        (#"{"script": "a.py", "run_after": "2024-01-01T12:99:00Z"}"#, "run_after"),
        (#"{"script": "a.py", "run_after": "2024-02-30T00:00:00Z"}"#, "run_after"),
        (#"{"script": "a.py", "run_after": "2023-02-29T00:00:00Z"}"#, "run_after"),
        (#"{"script": "a.py", "run_after": "2024-01-01T25:00:00Z"}"#, "run_after"),
        (#"{"script": "a.py", "run_after": "2024-01-01T10:00:00"}"#, "run_after"),
        (#"{"script": "a.py", "run_after": "2024-01-01T10:00:00+24:00"}"#, "run_after"),
        (#"{"script": "a.py", "run_after": "2024-01-01T10:15:60Z"}"#, "run_after"),
        (#"{"script": "a.py", "run_after": "0000-01-01T00:00:00+01:00"}"#, "run_after"),
        (#"{"script": "a.py", "run_after": "9999-12-31T23:30:00-01:00"}"#, "run_after"),
        (#"{"script": "a.py", "name": "a\#(String(repeating: "\u{301}", count: 300))"}"#, "name"),
        (#"{"script": "a.py", "idempotency_key": "k\#(String(repeating: "\u{301}", count: 300))"}"#, "idempotency_key"),
        (#"{"script": "a.py", "labels": {"bad key": "x"}}"#, "labels.bad key"),
        (#"[1, 2]"#, "body"),
        (#"{"script": "a.py", "network": "no"}"#, "network"),
        (#"{"script": "a.py", "limits": {"memory_mb": 0}}"#, "limits.memory_mb"),
        (#"{"script": "a.py", "limits": {"processes": 100000}}"#, "limits.processes"),
        (#"{"script": "a.py", "limits": {"cpu": 2}}"#, "limits.cpu"),
        (#"{"script": "a.py", "limits": 512}"#, "limits"),
        (#"{"script": "a.py", "requirements": "httpx"}"#, "requirements"),
        (#"{"script": "a.py", "requirements": ["httpx; rm -rf /"]}"#, "requirements[0]"),
        (#"{"script": "a.py", "requirements": ["ok", "$(curl evil)"]}"#, "requirements[1]"),
        (#"{"script": "a.py", "requirements": ["--index-url=http://evil"]}"#, "requirements[0]"),
        (#"{"script": "a.py", "requirements": ["-e ."]}"#, "requirements[0]"),
        (#"{"script": "a.py", "requirements": ["../outside"]}"#, "requirements[0]"),
        (#"{"script": "a.py", "requirements": ["pkg\nother"]}"#, "requirements[0]"),
        (#"{"script": "a.py", "requirements": [""]}"#, "requirements[0]"),
        (#"{"script": "a.py", "requirements": ["\#(String(repeating: "a", count: 101))"]}"#, "requirements[0]"),
        (#"{"script": "a.py", "requirements": [\#((0...100).map { "\"p\($0)\"" }.joined(separator: ","))]}"#, "requirements"),
        (#"{"script": "a.py", "requirements_file": "../requirements.txt"}"#, "requirements_file"),
        (#"{"script": "a.py", "requirements_file": "/etc/requirements.txt"}"#, "requirements_file"),
        (#"{"script": "a.py", "requirements": ["x"], "requirements_file": "r.txt"}"#, "requirements_file"),
    ])
    func invalidFieldsAre422NamingTheField(body: String, field: String) async throws {
        try await withServer { client, store, _ in
            let response = try await client.post("/api/v1/plans", json: body)
            #expect(response.status == .unprocessableContent, "\(response.text)")
            #expect(response.headers[.contentType] == "application/problem+json")
            #expect(response.problemFields.contains(field), "\(response.text)")
            #expect(try await store.countsByStatus().isEmpty)
        }
    }

    @Test func badRequestsAreClearFourHundreds() async throws {
        try await withServer(configure: { $0.maxBodyBytes = 200 }) { client, _, _ in
            let malformed = try await client.post("/api/v1/plans", json: #"{"script": "a.py", "#)
            #expect(malformed.status == .badRequest)
            #expect(malformed.headers[.contentType] == "application/problem+json")
            #expect((malformed.object["detail"] as? String)?.contains("malformed JSON") == true)
            let form = try await client.post("/api/v1/plans", json: "script=a.py", contentType: "application/x-www-form-urlencoded")
            #expect(form.status == .unsupportedMediaType)
            let large = try await client.post("/api/v1/plans", json: #"{"code": "\#(String(repeating: "x", count: 500))"}"#)
            #expect(large.status == .contentTooLarge)
            let empty = try await client.post("/api/v1/plans", json: "")
            #expect(empty.status == .badRequest)
            let unknown = try await client.get("/api/v1/nope")
            #expect(unknown.status == .notFound)
            #expect(unknown.headers[.contentType] == "application/problem+json")
            #expect(try await client.get("/api/v1/plans/abc").status == .notFound)
            let wrongMethod = try await client.delete("/api/v1/plans/1")
            #expect(wrongMethod.status == .methodNotAllowed)
            #expect(wrongMethod.headers[.allow] == "GET")
            #expect(wrongMethod.headers[.contentType] == "application/problem+json")
            let batchWrongMethod = try await client.get("/api/v1/plans/batch")
            #expect(batchWrongMethod.status == .methodNotAllowed, "batch is POST only")
            #expect(batchWrongMethod.headers[.allow] == "POST", "the batch route, not plans/{id}")
            #expect(try await client.delete("/api/v1/plans/batch").headers[.allow] == "POST")
            #expect(try await client.get("/api/v1/plans/424242").status == .notFound)
        }
    }

    @Test func aBatchIsAtomicAndNamesTheFailingIndex() async throws {
        try await withServer { client, store, orchestrator in
            await orchestrator.pause()
            let bad = try await client.post("/api/v1/plans/batch", json: #"{"plans": [{"code": "print(1)"}, {"code": "print(2)", "priority": 42}, {"script": "x.py", "bogus": 1}]}"#)
            #expect(bad.status == .unprocessableContent)
            #expect(bad.problemFields == ["plans[1].priority", "plans[2].bogus"])
            #expect(try await store.countsByStatus().isEmpty, "nothing stored")
            let good = try await client.post("/api/v1/plans/batch", json: #"{"plans": [{"code": "print(1)"}, {"module": "a.b", "priority": 0}]}"#)
            #expect(good.status == .created)
            let plans = good.object["plans"] as? [[String: Any]] ?? []
            #expect(plans.count == 2)
            #expect(plans.map { $0["status"] as? String } == ["queued", "queued"])
            #expect(try await client.post("/api/v1/plans/batch", json: #"{"plan": []}"#).status == .unprocessableContent)
        }
    }

    @Test func listingFiltersAndPages() async throws {
        try await withServer { client, _, orchestrator in
            await orchestrator.pause()
            for index in 0..<5 {
                _ = try await client.post("/api/v1/plans", json: #"{"code": "print(\#(index))", "name": "job-\#(index)", "labels": {"suite": "\#(index % 2 == 0 ? "api" : "ui")"}}"#)
            }
            let page = try await client.get("/api/v1/plans?limit=2")
            #expect(page.status == .ok)
            let names = (page.object["plans"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            #expect(names == ["job-4", "job-3"])
            let cursor = try #require(page.object["next_cursor"] as? Int)
            let next = try await client.get("/api/v1/plans?limit=2&cursor=\(cursor)")
            #expect((next.object["plans"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String } == ["job-2", "job-1"])
            let api = try await client.get("/api/v1/plans?label=suite:api&status=queued,running")
            #expect((api.object["plans"] as? [[String: Any]] ?? []).count == 3)
            let search = try await client.get("/api/v1/plans?q=job-3")
            #expect((search.object["plans"] as? [[String: Any]] ?? []).count == 1)
            #expect(try await client.get("/api/v1/plans?status=bogus").status == .unprocessableContent)
            #expect(try await client.get("/api/v1/plans?limit=5000").status == .unprocessableContent)
            #expect(try await client.get("/api/v1/plans?label=nocolon").status == .unprocessableContent)
        }
    }

    @Test(arguments: [
        ("2030-08-19T10:28:35Z", "2030-08-19T10:28:35.000Z"),
        ("2030-08-19t10:28:35.1z", "2030-08-19T10:28:35.100Z"),
        ("2030-08-19T10:28:35.123456+02:30", "2030-08-19T07:58:35.123Z"),
        ("2030-08-19T23:59:59.999-23:59", "2030-08-20T23:58:59.999Z"),
        ("2028-02-29T00:00:00Z", "2028-02-29T00:00:00.000Z"),
        ("2016-12-31T23:59:60Z", "2017-01-01T00:00:00.000Z"),
        ("2017-01-01T01:29:60+01:30", "2017-01-01T00:00:00.000Z"),
    ])
    func runAfterReadsEveryRFC3339FormExactly(text: String, stored: String) async throws {
        try await withServer { client, _, _ in
            let created = try await client.post("/api/v1/plans", json: #"{"code": "print(1)", "run_after": "\#(text)"}"#)
            #expect(created.status == .created, "\(created.text)")
            #expect(created.object["run_after"] as? String == stored)
        }
    }

    @Test func waitReturnsWhenThePlanEndsOrAtTheDeadline() async throws {
        try await withServer { client, _, _ in
            let created = try await client.post("/api/v1/plans", json: #"{"code": "import time\nprint('hello')\ntime.sleep(0.3)"}"#)
            let id = try #require(created.object["id"] as? Int)
            let done = try await client.get("/api/v1/plans/\(id)?wait=60")
            #expect(done.object["status"] as? String == "succeeded")
            #expect(done.object["exit_code"] as? Int == 0)

            let later = try await client.post("/api/v1/plans", json: #"{"code": "print(1)", "run_after": "2099-01-01T00:00:00Z"}"#)
            let laterID = try #require(later.object["id"] as? Int)
            let start = ContinuousClock.now
            let waited = try await client.get("/api/v1/plans/\(laterID)?wait=1")
            #expect(waited.object["status"] as? String == "scheduled")
            #expect(ContinuousClock.now - start >= .milliseconds(900), "held until the deadline")
            #expect(try await client.get("/api/v1/plans/\(laterID)?wait=soon").status == .unprocessableContent)
        }
    }

    @Test func outputStepsAndCancel() async throws {
        try await withServer { client, _, _ in
            let code = #"import sys\nprint('out line')\nprint('err line', file=sys.stderr)\nprint('__BATON_RESULT_START__')\nprint('{\"status\": \"success\", \"steps\": [{\"name\": \"build\", \"status\": \"success\", \"duration_ms\": 5}]}')\nprint('__BATON_RESULT_END__')"#
            let created = try await client.post("/api/v1/plans", json: #"{"code": "\#(code)"}"#)
            let id = try #require(created.object["id"] as? Int)
            let done = try await client.get("/api/v1/plans/\(id)?wait=60")
            #expect(done.object["status"] as? String == "succeeded", "\(done.text)")
            #expect((done.object["result"] as? [String: Any])?["status"] as? String == "success")
            let stdout = try await client.get("/api/v1/plans/\(id)/output?stream=stdout")
            #expect(stdout.text.hasPrefix("out line\n"))
            #expect(stdout.headers[.contentType] == "text/plain; charset=utf-8")
            #expect(try await client.get("/api/v1/plans/\(id)/output?stream=stderr").text == "err line\n")
            #expect(try await client.get("/api/v1/plans/\(id)/output?stream=both").status == .unprocessableContent)
            let steps = try await client.get("/api/v1/plans/\(id)/steps")
            #expect((steps.object["steps"] as? [[String: Any]])?.first?["name"] as? String == "build")
            #expect(try await client.post("/api/v1/plans/\(id)/cancel", json: "").status == .conflict, "a finished plan cannot be canceled")

            let running = try await client.post("/api/v1/plans", json: #"{"code": "import time\nprint('up', flush=True)\ntime.sleep(600)"}"#)
            let runningID = try #require(running.object["id"] as? Int)
            #expect(try await eventually { try await client.get("/api/v1/plans/\(runningID)").object["status"] as? String == "running" })
            let cancel = try await client.post("/api/v1/plans/\(runningID)/cancel", json: "")
            #expect(cancel.status == .ok)
            let canceled = try await client.get("/api/v1/plans/\(runningID)?wait=30")
            #expect(canceled.object["status"] as? String == "canceled")
            #expect((canceled.object["error"] as? [String: Any])?["kind"] as? String == "canceled")
        }
    }
}
