import BatonCore
import Foundation
import Subprocess
import SystemPackage
import BatonTestSupport
import Testing

/// The files in `Deploy/`: they must describe a service that starts and stops the way
/// docs/operations.md says.
@Suite("Deploy files")
struct DeployTests {
    static let deploy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Deploy")

    static func read(_ name: String) throws -> String {
        try String(contentsOf: deploy.appendingPathComponent(name), encoding: .utf8)
    }

    /// `key=value` lines of an INI-style unit, by section.
    static func unitSettings(_ text: String) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var section = ""
        for line in text.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) where !line.isEmpty && !line.hasPrefix("#") {
            if line.hasPrefix("[") { section = String(line.dropFirst().dropLast()); continue }
            guard let equals = line.firstIndex(of: "=") else { continue }
            sections[section, default: [:]][String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return sections
    }

    @Test("the systemd unit stops gracefully, outlasts the drain and is hardened")
    func systemdUnit() throws {
        let unit = Self.unitSettings(try Self.read("baton.service"))
        let service = try #require(unit["Service"])
        #expect(service["Type"] == "exec")
        #expect(service["KillSignal"] == "SIGTERM")
        let stopSeconds = try #require(service["TimeoutStopSec"].flatMap { Int($0) })
        let drain = Orchestrator.Configuration().shutdownDrainTimeout.components.seconds
        #expect(stopSeconds > drain + 5, "TimeoutStopSec must outlast the \(drain) s drain and the runs' 5 s grace")
        #expect(service["NoNewPrivileges"] == "yes")
        #expect(service["ProtectSystem"] == "strict")
        #expect(service["PrivateTmp"] == "yes")
        #expect(service["ReadWritePaths"]?.split(separator: " ").contains("/var/lib/baton") == true)
        #expect(service["ExecStart"]?.hasSuffix("baton serve") == true)
        #expect(unit["Install"]?["WantedBy"] == "multi-user.target")
    }

    @Test("systemd-analyze verify finds nothing to say about the unit", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze")))
    func systemdAnalyzeVerify() async throws {
        // verify checks that ExecStart exists: point it at the built binary.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("baton-unit-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let unit = try Self.read("baton.service").replacingOccurrences(of: "/usr/local/bin/baton", with: BatonBinary.path)
        let path = directory.appendingPathComponent("baton.service").path
        try unit.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try await Subprocess.run(.path("/usr/bin/systemd-analyze"), arguments: ["verify", path],
                                              output: .string(limit: 1 << 20), error: .string(limit: 1 << 20))
        #expect(result.terminationStatus == .exited(0))
        // Unknown keys and other mistakes are only warnings: none is allowed.
        #expect(result.standardError.isEmpty, "\(result.standardError)")
    }

    @Test("the container file builds a static binary and runs it as a non-root user with an init and a health check")
    func containerFile() throws {
        let text = try Self.read("Containerfile")
        let lines = text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
        #expect(lines.filter { $0.hasPrefix("FROM ") }.count == 2, "a build stage and a runtime stage")
        #expect(text.contains("swift build -c release --static-swift-stdlib"))
        #expect(text.contains("libsqlite3-0") && text.contains("python3"))
        let user = try #require(lines.last { $0.hasPrefix("USER ") })
        #expect(user != "USER root" && user != "USER 0")
        #expect(lines.contains { $0.contains("HEALTHCHECK") })
        #expect(text.contains("/api/v1/health"))
        #expect(lines.contains { $0.hasPrefix("ENTRYPOINT") && $0.contains("tini") }, "an init reaps killed plans' orphans")
    }

    @Test("baton serve accepts the example environment file as its --config")
    func exampleEnvironmentFile() async throws {
        let directory = try TestDirectory()
        defer { directory.remove() }
        let config = Self.deploy.appendingPathComponent("baton.env").path
        // The environment wins over the file: the helper is in this checkout, not installed.
        let helper = Self.deploy.deletingLastPathComponent().appendingPathComponent("python").path
        try await ServerProcess.with(dataDir: directory.dataDir, workspace: directory.workspace, arguments: ["--config", config],
                                     environment: ["BATON_HELPER_DIR": helper]) { server in
            // The file says json; each line is one JSON object.
            let line = try #require(server.log.split(separator: "\n").first { $0.contains("Baton listening") })
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["workers"] as? String == "4")
        }
    }
}
