@testable import BatonCore
import BatonTestSupport
import BatonSQLite
import Foundation
import ServiceLifecycle
import Testing

/// Restart and shutdown: what happens to running plans.
@Suite struct OrchestratorControlTests {
    @Test func aGracefulRestartLetsAShortPlanFinishAndRequeuesALongOne() async throws {
        try await OrchestratorFixture.with(workers: 2) { fixture in
            // The short plan waits at a gate that opens once the drain has begun.
            let gate = Gate(directory: fixture.directory)
            let short = try await fixture.enqueue(PlanSpec(entryPoint: .code(gate.python() + "print('short')")))
            let long = try await fixture.enqueue(PlanSpec(entryPoint: .code("import time\ntime.sleep(600)")))
            #expect(await fixture.waitFor(long.id, .running) != nil)
            #expect(await gate.waitUntilReady())
            #expect(await eventually { (try? await fixture.store.plan(long.id))?.processGroup != nil })

            await fixture.orchestrator.pause()  // so the requeued plan stays visible
            async let restarted = fixture.orchestrator.restart(.graceful(drainTimeout: .seconds(3)))
            #expect(await eventually { (try? await fixture.orchestrator.status().state) == .draining })
            gate.open()
            let report = try await restarted
            #expect(report.generation == 2)
            #expect(report.drained == [short.id])
            #expect(report.requeued == [long.id])
            #expect(report.python != nil)
            #expect(try await fixture.store.plan(short.id)?.status == .succeeded)
            let requeued = try #require(try await fixture.store.plan(long.id))
            #expect(requeued.handBacks == 1)
            #expect(requeued.countedAttempts == 0, "a hand-back is not the plan's fault")
            #expect(try await fixture.store.events(of: long.id).contains { $0.detail == "handed back: the orchestrator restarted" })
            // The new generation picks the long plan up again.
            #expect(await fixture.orchestrator.resume() == .running)
            #expect(await fixture.waitFor(long.id, .running) != nil)
            let status = try await fixture.orchestrator.status()
            #expect(status.generation == 2)
            #expect(status.state == .running)
        }
    }

    @Test func anImmediateRestartRequeuesEverythingAndBumpsTheGeneration() async throws {
        try await OrchestratorFixture.with(workers: 2) { fixture in
            await fixture.orchestrator.pause()
            let first = try await fixture.enqueue(PlanSpec(entryPoint: .code("import time\ntime.sleep(600)")))
            let second = try await fixture.enqueue(PlanSpec(entryPoint: .code("import time\ntime.sleep(600)")))
            await fixture.orchestrator.resume()
            for plan in [first, second] {
                #expect(await eventually { (try? await fixture.store.plan(plan.id))?.processGroup != nil })
            }
            let groups = try await [first, second].asyncMap { try await fixture.store.plan($0.id)?.processGroup }
            await fixture.orchestrator.pause()  // so the requeued plans stay visible
            let report = try await fixture.orchestrator.restart(.immediate)
            #expect(report.generation == 2)
            #expect(report.drained.isEmpty)
            #expect(report.requeued == [first.id, second.id])
            for plan in [first, second] {
                #expect(try await fixture.store.plan(plan.id)?.status == .queued)
            }
            for group in groups.compactMap({ $0 }) {
                #expect(await eventually { !isAlive(group) }, "the old runs are gone")
            }
            #expect(try await fixture.orchestrator.status().state == .paused, "a pause outlives a restart")
        }
    }

    @Test func aRestartDuringARestartAnswersWithTheSameOne() async throws {
        try await OrchestratorFixture.with(workers: 1) { fixture in
            let plan = try await fixture.enqueue(PlanSpec(entryPoint: .code("import time\ntime.sleep(600)")))
            #expect(await fixture.waitFor(plan.id, .running) != nil)
            async let first = fixture.orchestrator.restart(.graceful(drainTimeout: .seconds(3)))
            #expect(await eventually { (try? await fixture.orchestrator.status().state) == .draining })
            async let second = fixture.orchestrator.restart(.immediate)
            let (a, b) = try await (first, second)
            #expect(a == b)
            #expect(a.generation == 2)
            #expect(try await fixture.orchestrator.status().generation == 2)
        }
    }

    @Test func gracefulShutdownRequeuesRunningPlans() async throws {
        try await OrchestratorFixture.with(workers: 2, configure: { $0.shutdownDrainTimeout = .milliseconds(300) }) { fixture in
            let plans = try await (0..<2).asyncMap { _ in try await fixture.enqueue(PlanSpec(entryPoint: .code("import time\ntime.sleep(600)"))) }
            for plan in plans {
                #expect(await eventually { (try? await fixture.store.plan(plan.id))?.processGroup != nil })
            }
            let groups = try await plans.asyncMap { try await fixture.store.plan($0.id)?.processGroup }
            try await fixture.shutDown()
            let reopened = try await fixture.reopenStore()
            for plan in plans {
                let stored = try #require(try await reopened.plan(plan.id))
                #expect(stored.status == .queued)
                #expect(stored.handBacks == 1)
            }
            await reopened.close()
            for group in groups.compactMap({ $0 }) { #expect(!isAlive(group)) }
            await #expect(throws: OrchestratorError.notRunning) { try await fixture.orchestrator.restart(.immediate) }
        }
    }

    @Test func statusDescribesTheOrchestrator() async throws {
        try await OrchestratorFixture.with(workers: 3, pollInterval: .seconds(5)) { fixture in
            let plan = try await fixture.enqueue(PlanSpec(entryPoint: .code("import time\ntime.sleep(600)")))
            #expect(await fixture.waitFor(plan.id, .running) != nil)
            #expect(await eventually { (try? await fixture.orchestrator.status().workersBusy) == 1 })
            let status = try await fixture.orchestrator.status()
            #expect(status.state == .running)
            #expect(status.generation == 1)
            #expect(status.workersTotal == 3)
            #expect(status.runningPlanIDs == [plan.id])
            #expect(status.queue[.running] == 1)
            #expect(status.python?.path == (try await sharedInterpreter.value).path)
            #expect(status.startedAt != nil && status.lastPollAt != nil && status.nextPollAt != nil)
            #expect(status.lastError == nil)
        }
    }
}

extension OrchestratorControlTests {
    @Test func aGenerationThatCannotStartSaysSoAndARestartTriesAgain() async throws {
        let directory = try TemporaryDirectory()
        let store = try await SQLitePlanStore(configuration: .init(path: directory.file("baton.sqlite")), logger: quietLogger)
        let interpreterMissing = Locked(true)
        var configuration = Orchestrator.Configuration()
        configuration.workers = 1
        var nodeConfiguration = BatonNode.Configuration()
        nodeConfiguration.orchestrator = configuration
        let node = BatonNode(store: store, configuration: nodeConfiguration, logger: { _ in quietLogger }) {
            if interpreterMissing.withLock({ $0 }) {
                throw PythonInterpreterError("no python3 found on PATH: install Python 3.9 or newer, or pass its path with --python")
            }
            let interpreter = try await sharedInterpreter.value
            let runner = PythonRunner(configuration: .init(interpreter: interpreter, workspaceRoot: directory.path), logger: quietLogger)
            return PreparedRunner(runner: runner, interpreter: interpreter)
        }
        let orchestrator = node.orchestrator
        let service = Task { await orchestrator.run() }
        #expect(await eventually { (try? await orchestrator.status().lastError)?.contains("no python3 found") == true })
        let broken = try await orchestrator.status()
        #expect(broken.state == .stopped)
        #expect(broken.python == nil)

        await #expect(throws: OrchestratorError.self) { try await orchestrator.restart(.immediate) }
        #expect(try await orchestrator.status().state == .stopped, "still broken, and the restart said so")

        let plan = try await store.enqueue(PlanSpec(entryPoint: .code("print('fixed')")), now: Date()).plan
        interpreterMissing.withLock { $0 = false }
        let report = try await orchestrator.restart(.immediate)
        #expect(report.generation == 3)
        #expect(report.python != nil)
        #expect(try await orchestrator.status().state == .running)
        #expect(try await orchestrator.status().lastError == nil)
        #expect(await eventually { (try? await store.plan(plan.id))?.status == .succeeded })
        service.cancel()
        await service.value
        await store.close()
    }
}

extension OrchestratorControlTests {
    @Test func shutdownHandsPlansBackThenClosesTheStore() async throws {
        let directory = try TemporaryDirectory()
        let store = try await SQLitePlanStore(configuration: .init(path: directory.file("baton.sqlite")), logger: quietLogger)
        var configuration = Orchestrator.Configuration()
        configuration.workers = 1
        configuration.shutdownDrainTimeout = .milliseconds(200)
        var nodeConfiguration = BatonNode.Configuration()
        nodeConfiguration.orchestrator = configuration
        let node = BatonNode(store: store, configuration: nodeConfiguration, logger: { _ in quietLogger }) {
            let interpreter = try await sharedInterpreter.value
            return PreparedRunner(runner: PythonRunner(configuration: .init(interpreter: interpreter, workspaceRoot: directory.path), logger: quietLogger),
                                  interpreter: interpreter)
        }
        // The store comes first: it shuts down last.
        let group = node.serviceGroup(logger: quietLogger)
        let running = Task { try await group.run() }
        let plan = try await node.queue.enqueue(PlanSpec(entryPoint: .code("import time\ntime.sleep(600)"))).plan
        #expect(await eventually { (try? await store.plan(plan.id))?.processGroup != nil })
        await group.triggerGracefulShutdown()
        try await running.value

        await #expect(throws: SQLiteError.self) { _ = try await store.plan(plan.id) }
        let reopened = try await SQLitePlanStore(configuration: .init(path: directory.file("baton.sqlite")), logger: quietLogger)
        #expect(try await reopened.plan(plan.id)?.status == .queued, "handed back before the store closed")
        await reopened.close()
    }
}
