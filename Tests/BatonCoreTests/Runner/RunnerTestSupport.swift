import Foundation
import BatonTestSupport
import Testing
@testable import BatonCore

/// The repository's root, found from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// The machine's Python, resolved once for every runner test.
let sharedInterpreter = Task { try await PythonInterpreter.resolve() }

/// A workspace directory with scripts in it, and a runner whose root it is.
struct RunnerFixture: ~Copyable {
    let workspace = try! TemporaryDirectory()
    let runner: PythonRunner

    init(maxOutputBytes: Int = 1 << 20, grace: Duration = .seconds(5), helper: Bool = true, sandbox: Sandbox? = nil,
         environments: EnvironmentStore? = nil) async throws {
        var configuration = PythonRunner.Configuration(
            interpreter: try await sharedInterpreter.value,
            workspaceRoot: workspace.path,
            helperDirectory: helper ? repositoryRoot + "/python" : nil
        )
        configuration.maxOutputBytes = maxOutputBytes
        configuration.killGracePeriod = grace
        configuration.sandbox = sandbox
        configuration.environments = environments
        try await sandbox?.prepare(workspace: workspace.path)
        runner = PythonRunner(configuration: configuration, logger: quietLogger)
    }

    /// Writes `source` as `name` in the workspace.
    func script(_ name: String, _ source: String) throws {
        let path = workspace.file(name)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try source.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Runs a plan built from `spec` and returns the report and every event, in order.
    func run(_ spec: PlanSpec, id: Int64 = 7, attempt: Int = 1, control: RunControl = RunControl(),
             onEvent: @escaping @Sendable (RunEvent) -> Void = { _ in }) async -> (RunReport, [RunEvent]) {
        var plan = QueueRules.enqueuing(spec, policy: QueuePolicy(), now: t0).plan
        plan.id = id
        let events = Locked<[RunEvent]>([])
        let report = await runner.run(plan, attempt: attempt, control: control) { event in
            events.withLock { $0.append(event) }
            onEvent(event)
        }
        return (report, events.withLock { $0 })
    }
}

extension [RunEvent] {
    /// The bytes of one stream, as the events carried them.
    func text(of stream: StandardStream) -> String {
        String(decoding: flatMap { event -> [UInt8] in
            if case .output(stream, let bytes) = event { return bytes }
            return []
        }, as: UTF8.self)
    }

    var processGroup: Int32? {
        for event in self { if case .started(let group) = event { return group } }
        return nil
    }
}


/// The sandbox on this machine, hiding `directories` from plans; `nil`, with a printed notice,
/// where it cannot run (a developer's machine without it). CI sets `BATON_TEST_REQUIRE_SANDBOX`,
/// and then a sandbox that cannot run fails the test instead.
func testSandbox(hiding directories: [String] = [], files: [String] = [], limits: ResourceLimits = ResourceLimits()) async throws -> Sandbox? {
    let required = ProcessInfo.processInfo.environment["BATON_TEST_REQUIRE_SANDBOX"] != nil
    switch try await Sandbox.decide(required ? .on : .auto, options: .init(hiddenDirectories: directories, hiddenFiles: files, limits: limits)) {
    case .on(let sandbox):
        return sandbox
    case .off(let reason):
        print("note: plans are not tested in a sandbox here: \(reason)")
        return nil
    }
}
