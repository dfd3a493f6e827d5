import Foundation
import BatonTestSupport
import Testing
@testable import BatonCore

/// Plans that bring their own packages: each set is built once into an environment, reused, and
/// a failed or refused build says why. Needs pip's index (CI reaches PyPI).
@Suite(.serialized) struct EnvironmentTests {
    /// A tiny pure-Python package with no dependencies, absent from the test interpreter.
    static let package = "termcolor==2.4.0"
    static let importIt = "import termcolor, sys\nprint(termcolor.__name__, sys.prefix)\n"

    /// A runner whose data directory holds the environments (hidden from plans, the
    /// environments shown read-only), sandboxed where the machine allows it.
    struct Setup: ~Copyable {
        let data = try! TemporaryDirectory()
        let environments: EnvironmentStore
        let fixture: RunnerFixture

        init() async throws {
            environments = EnvironmentStore(directory: data.path + "/envs")
            let sandbox = try await testSandbox(hiding: [data.path])
            fixture = try await RunnerFixture(sandbox: sandbox, environments: environments)
        }
    }

    static func setupEvents(_ events: [RunEvent]) -> [String] {
        events.compactMap { if case .setup(let detail) = $0 { detail } else { nil } }
    }

    @Test func twoPlansWithOneSetBuildItOnceAndALaterOneReusesIt() async throws {
        let setup = try await Setup()
        let spec = PlanSpec(entryPoint: .code(Self.importIt), runtime: PlanRuntime(requirements: [Self.package]))
        var plans: [Plan] = []
        for id in [1, 2] as [Int64] {
            var plan = QueueRules.enqueuing(spec, policy: QueuePolicy(), now: Date()).plan
            plan.id = id
            plans.append(plan)
        }
        let runner = setup.fixture.runner
        let results = await withTaskGroup(of: (RunReport, [RunEvent]).self) { group in
            for plan in plans {
                group.addTask {
                    let events = Locked<[RunEvent]>([])
                    let report = await runner.run(plan, attempt: 1, control: RunControl()) { event in events.withLock { $0.append(event) } }
                    return (report, events.withLock { $0 })
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        for (report, _) in results {
            #expect(report.outcome.status == .succeeded, "\(report.stderr.text)")
            #expect(report.stdout.text.hasPrefix("termcolor " + setup.data.path + "/envs/"), "\(report.stdout.text)")
            #expect(report.stderr.text.contains("[baton] environment "), "the setup phase shows in the plan's output")
        }
        let details = results.flatMap { Self.setupEvents($0.1) }
        #expect(details.count { $0.contains(" built in ") } == 1, "one build for both: \(details)")
        #expect(details.count == 2)

        let (later, events) = await setup.fixture.run(spec, id: 3)
        #expect(later.outcome.status == .succeeded, "\(later.stderr.text)")
        #expect(Self.setupEvents(events).count == 1)
        #expect(Self.setupEvents(events).first?.contains("reused") == true, "\(Self.setupEvents(events))")
        let listed = await setup.environments.list()
        #expect(listed.count == 1)
        #expect(listed.first?.requirements == [Self.package])
        #expect(listed.first?.plans == 3)
        #expect((listed.first?.sizeBytes ?? 0) > 10_000, "the environment and the package in it")
    }

    @Test func aPlanWithoutRequirementsDoesNotSeeThem() async throws {
        let setup = try await Setup()
        let (report, events) = await setup.fixture.run(PlanSpec(entryPoint: .code(Self.importIt)))
        #expect(report.outcome.status == .failed)
        #expect(report.stderr.text.contains("ModuleNotFoundError"))
        #expect(Self.setupEvents(events).isEmpty)
    }

    @Test func anEnvironmentIsReadOnlyToThePlansThatUseIt() async throws {
        let setup = try await Setup()
        guard setup.fixture.runner.configuration.sandbox != nil else { return }
        let code = "import sys, os\ntry:\n    open(os.path.join(sys.prefix, 'planted'), 'w')\n    print('wrote')\nexcept OSError as error:\n    print(type(error).__name__)\n"
        let (report, _) = await setup.fixture.run(PlanSpec(entryPoint: .code(code), runtime: PlanRuntime(requirements: [Self.package])))
        #expect(report.stdout.text == "OSError\n" || report.stdout.text == "PermissionError\n", "\(report.stdout.text) \(report.stderr.text)")
    }

    @Test func aRequirementsFileInTheWorkspaceNamesTheSameSet() async throws {
        let setup = try await Setup()
        try setup.fixture.script("ci/requirements.txt", "# test tools\n\n  \(Self.package)   # colours\n")
        let (fromFile, _) = await setup.fixture.run(PlanSpec(entryPoint: .code(Self.importIt), runtime: PlanRuntime(requirementsFile: "ci/requirements.txt")))
        #expect(fromFile.outcome.status == .succeeded, "\(fromFile.stderr.text)")
        let (inline, events) = await setup.fixture.run(PlanSpec(entryPoint: .code(Self.importIt), runtime: PlanRuntime(requirements: [" \(Self.package)"])))
        #expect(inline.outcome.status == .succeeded)
        #expect(Self.setupEvents(events).first?.contains("reused") == true, "the same set, normalised: \(Self.setupEvents(events))")
    }

    @Test(arguments: [
        ("-e .\n", "pip option"),
        ("termcolor; rm -rf /\n", "must not contain ;"),
        ("/etc/passwd\n", "local path"),
    ])
    func aRequirementsFileWithAnOptionOrShellSyntaxIsRefused(text: String, problem: String) async throws {
        let setup = try await Setup()
        try setup.fixture.script("requirements.txt", text)
        let (report, _) = await setup.fixture.run(PlanSpec(entryPoint: .code("print(1)"), runtime: PlanRuntime(requirementsFile: "requirements.txt")))
        #expect(report.outcome.status == .failed)
        #expect(report.outcome.error?.kind == .dependencyInstall)
        #expect(report.outcome.error?.message.contains("line 1") == true, "\(report.outcome)")
        #expect(report.outcome.error?.message.contains(problem) == true, "\(report.outcome)")
    }

    @Test func aMissingRequirementsFileOrOneOutsideTheWorkspaceFails() async throws {
        let setup = try await Setup()
        let outside = try TemporaryDirectory()
        try "termcolor\n".write(toFile: outside.file("r.txt"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: setup.fixture.workspace.file("link.txt"), withDestinationPath: outside.file("r.txt"))
        for file in ["missing.txt", "link.txt"] {
            let (report, _) = await setup.fixture.run(PlanSpec(entryPoint: .code("print(1)"), runtime: PlanRuntime(requirementsFile: file)))
            #expect(report.outcome.error?.kind == .dependencyInstall, "\(file): \(report.outcome)")
        }
    }

    @Test func aBadRequirementFailsWithPipsLastLinesAndIsNotKept() async throws {
        let setup = try await Setup()
        let spec = PlanSpec(entryPoint: .code("print(1)"), runtime: PlanRuntime(requirements: ["baton-no-such-package-3f9c==1.0"]))
        let (report, events) = await setup.fixture.run(spec)
        #expect(report.outcome.status == .failed)
        #expect(report.outcome.error?.kind == .dependencyInstall)
        #expect(report.outcome.error?.message.contains("pip install failed") == true, "\(report.outcome)")
        #expect(report.outcome.error?.message.contains("baton-no-such-package-3f9c") == true, "pip's own words: \(report.outcome)")
        #expect(report.stderr.text.contains("[baton] setup failed"))
        #expect(Self.setupEvents(events).first?.contains("failed") == true)
        #expect(await setup.environments.list().isEmpty)
        #expect((try FileManager.default.contentsOfDirectory(atPath: setup.data.path + "/envs")).allSatisfy { $0.hasSuffix(".lock") },
                "nothing half-built is left")
    }

    @Test func aHalfBuiltEnvironmentIsBuiltAgain() async throws {
        let setup = try await Setup()
        let interpreter = setup.fixture.runner.configuration.interpreter
        let key = RequirementSet([Self.package]).key(for: interpreter)
        // What a server killed mid-install leaves: a directory and no record.
        try FileManager.default.createDirectory(atPath: setup.data.path + "/envs/\(key)/bin", withIntermediateDirectories: true)
        try "#!/bin/sh\nexit 3\n".write(toFile: setup.data.path + "/envs/\(key)/bin/python", atomically: true, encoding: .utf8)
        let (report, events) = await setup.fixture.run(PlanSpec(entryPoint: .code(Self.importIt), runtime: PlanRuntime(requirements: [Self.package])))
        #expect(report.outcome.status == .succeeded, "\(report.stderr.text)")
        #expect(report.stderr.text.contains("whose build did not finish"))
        #expect(Self.setupEvents(events).first?.contains("built") == true)
    }

    @Test func aCancelDuringSetupEndsThePlanAtOnce() async throws {
        let setup = try await Setup()
        let control = RunControl()
        let spec = PlanSpec(entryPoint: .code("print(1)"), runtime: PlanRuntime(requirements: ["termcolor==2.3.0"]))
        let canceling = Task {
            try await Task.sleep(for: .milliseconds(300))
            control.cancel(reason: "canceled by ci")
        }
        let (report, _) = await setup.fixture.run(spec, control: control)
        canceling.cancel()
        #expect(report.outcome.status == .canceled, "\(report.outcome)")
        #expect(report.outcome.error?.message == "canceled by ci")
    }
}
