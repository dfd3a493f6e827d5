import BatonClient
import BatonTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Plans with requirements through `baton serve`: a build the server did not live to finish is
/// built again, and admins list and prune environments with the CLI. Needs pip's index.
@Suite("environments end to end")
struct EnvironmentEndToEndTests {
    static let plan = #"{"code": "import termcolor; print('ready')", "requirements": ["termcolor==2.4.0"]}"#

    @Test("kill -9 of the server mid-build: after restart the environment is built again and the plan succeeds")
    func aBuildCutShortIsBuiltAgain() async throws {
        let directory = try TestDirectory()
        defer { directory.remove() }
        let environments = directory.dataDir + "/envs"
        var planID: Int64 = 0
        try await ServerProcess.with(dataDir: directory.dataDir, workspace: directory.workspace, arguments: ["--lease", "3"]) { server in
            planID = try await server.client.enqueue(planJSON: Data(Self.plan.utf8)).value.id
            // The environment's directory exists from the build's first step until it is recorded.
            let building = await eventually(within: .seconds(60)) {
                let entries = (try? FileManager.default.contentsOfDirectory(atPath: environments)) ?? []
                return entries.contains { !$0.contains(".") } && !entries.contains { $0.hasSuffix(".json") }
            }
            try #require(building, "no build started:\n\(server.log.suffix(1500))")
            server.send(SIGKILL)
        }
        try await ServerProcess.with(dataDir: directory.dataDir, workspace: directory.workspace, arguments: ["--lease", "3"]) { server in
            let ended = try await eventually(within: .seconds(120)) {
                try await server.client.plan(planID).value.status == "succeeded"
            }
            let status = try await server.client.plan(planID).value.status
            #expect(ended, "\(status)\n\(server.log.suffix(2000))")
            let output = try await server.client.output(of: planID, stream: "stderr")
            #expect(output.contains("whose build did not finish") || output.contains("building environment"), "\(output)")
            let listed = try await server.client.environments().value.environments
            #expect(listed.count == 1)
            #expect(listed.first?.requirements == ["termcolor==2.4.0"])
        }
    }

    @Test("baton envs list shows the set, its size and use; baton envs prune removes it once unused")
    func listAndPrune() async throws {
        let directory = try TestDirectory()
        defer { directory.remove() }
        try await ServerProcess.with(dataDir: directory.dataDir, workspace: directory.workspace) { server in
            let id = try await server.client.enqueue(planJSON: Data(Self.plan.utf8)).value.id
            let done = try await eventually(within: .seconds(120)) { try await server.client.plan(id).value.status == "succeeded" }
            #expect(done, "\(server.log.suffix(1500))")
            let listed = try await baton(["envs", "list"], environment: server.environment())
            #expect(listed.status == 0, "\(listed)")
            #expect(listed.stdout.contains("termcolor==2.4.0"), "\(listed)")
            #expect(listed.stdout.contains("KEY") && listed.stdout.contains("PLANS"), "\(listed)")

            let producer = try await server.client.createToken(name: "ci", role: "producer").value.token
            let refused = try await baton(["envs", "list"], environment: server.environment(token: producer))
            #expect(refused.status != 0, "admins only: \(refused)")

            let kept = try await baton(["envs", "prune", "--unused", "1h"], environment: server.environment())
            #expect(kept.stdout.contains("removed 0 environments"), "\(kept)")
            try await Task.sleep(for: .seconds(1.2))
            let pruned = try await baton(["envs", "prune", "--unused", "1s"], environment: server.environment())
            #expect(pruned.status == 0, "\(pruned)")
            #expect(pruned.stdout.contains("removed 1 environment"), "\(pruned)")
            #expect(try await server.client.environments().value.environments.isEmpty)
            let audit = try await server.client.audit().value.entries
            #expect(audit.contains { $0.action == "envs.prune" && $0.outcome.hasPrefix("removed 1") })
        }
    }
}
