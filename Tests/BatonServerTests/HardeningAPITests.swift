import BatonCore
import Foundation
import HummingbirdTesting
import NIOCore
import BatonTestSupport
import Testing
@testable import BatonServer

/// Inputs found by review that once crashed or misled the server.
@Suite struct HardeningAPITests {
    @Test func anAbsurdWaitIsClampedNotACrash() async throws {
        try await withServer { client, _, _ in
            let created = try await client.post("/api/v1/plans", json: #"{"code": "print(1)"}"#)
            let id = try #require(created.object["id"] as? Int)
            _ = try await client.get("/api/v1/plans/\(id)?wait=30")
            let response = try await client.get("/api/v1/plans/\(id)?wait=1e21")
            #expect(response.status == .ok)
            #expect(try await client.get("/api/v1/plans/\(id)?wait=-1").status == .unprocessableContent)
            #expect(try await client.get("/api/v1/plans/\(id)?wait=nan").status == .unprocessableContent)
        }
    }

    @Test func invalidUTF8AndLoneSurrogatesAre400() async throws {
        try await withServer { client, store, orchestrator in
            await orchestrator.pause()
            var bytes = Array(#"{"code": "print(1)", "input": "caf"#.utf8)
            bytes += [0xC3, 0x28] + Array(#""}"#.utf8)  // a broken two-byte sequence
            let broken = try await client.client.execute(uri: "/api/v1/plans", method: .post,
                                                         headers: [.contentType: "application/json", .authorization: "Bearer \(client.secrets["admin"]!)"],
                                                         body: ByteBuffer(bytes: bytes)) { $0 }
            #expect(broken.status == .badRequest)
            #expect(broken.text.contains("not valid UTF-8"))
            for escape in [#"\uD800"#, #"\uDC00"#, #"\uD800\u0041"#] {
                let response = try await client.post("/api/v1/plans", json: #"{"code": "print(1)", "input": "\#(escape)"}"#)
                #expect(response.status == .badRequest, "\(escape)")
            }
            let pair = try await client.post("/api/v1/plans", json: #"{"code": "print(1)", "input": "\uD83D\uDE00 ü"}"#)
            #expect(pair.status == .created)
            let id = try #require(pair.object["id"] as? Int)
            #expect(try await store.plan(Int64(id))?.input.text == #""\uD83D\uDE00 ü""#, "kept exactly as sent")
        }
    }

    @Test func filtersAndErrorListsHaveLimits() async throws {
        try await withServer { client, _, _ in
            #expect(try await client.get("/api/v1/plans?label=a:1&label=a:2").status == .unprocessableContent)
            let many = (0..<150).map { #""field\#($0)": 1"# }.joined(separator: ", ")
            let response = try await client.post("/api/v1/plans", json: #"{"code": "print(1)", \#(many)}"#)
            #expect(response.status == .unprocessableContent)
            #expect(response.problemFields.count == 100)
            #expect((response.object["detail"] as? String)?.contains("first 100 of 150") == true)
            #expect(response.object["title"] as? String == "Unprocessable Content")
        }
    }

    @Test func a401SaysHowToAuthenticate() async throws {
        try await withServer { client, _, _ throws in
            #expect(try await client.get("/api/v1/plans", as: nil).headers[.wwwAuthenticate] == "Bearer")
            #expect(try await client.get("/api/v1/plans", as: "revoked").headers[.wwwAuthenticate]?.contains("invalid_token") == true)
        }
    }

    @Test func aCharacterSplitAcrossChunksIsSentWhole() {
        var joiner = PlanEventStream.UTF8Joiner()
        let text = Array("café ☕".utf8)
        var out: [UInt8] = []
        for byte in text { out += joiner.take([byte], stream: .stdout) }
        #expect(out == text)
        var split = PlanEventStream.UTF8Joiner()
        #expect(split.take([0x63, 0xC3], stream: .stdout) == [0x63], "the lead byte waits for the rest")
        #expect(split.take([0xA9], stream: .stdout) == [0xC3, 0xA9])
    }
}
