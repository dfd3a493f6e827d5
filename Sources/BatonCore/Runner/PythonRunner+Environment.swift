import Foundation
import Synchronization

/// A plan's setup phase: the environment of its requirements, found or built before it runs.
extension PythonRunner {
    /// How a setup phase ended: an environment to run in (and what setup printed), or the
    /// report of a plan that ended during it.
    enum SetupEnd {
        case ready(EnvironmentStore.Lease, stderr: CapturedOutput)
        case ended(RunReport)
    }

    /// Finds or builds the environment of `plan`'s requirements. Its progress goes to the plan's
    /// stderr, live, each line of Baton's own starting `[baton]`; how it went is a `setup`
    /// event. A cancel or a shutdown meanwhile ends the plan at once; a build other plans wait
    /// for goes on without it.
    func setUpEnvironment(_ plan: Plan, control: RunControl, events: @escaping @Sendable (RunEvent) -> Void) async -> SetupEnd {
        let started = ContinuousClock.now
        let captured = Mutex(CapturedOutput(cap: configuration.maxOutputBytes))
        let emit: @Sendable ([UInt8]) -> Void = { bytes in
            captured.withLock { $0.append(bytes) }
            events(.output(.stderr, bytes))
        }
        let note: @Sendable (String) -> Void = { emit(Array("[baton] \($0)\n".utf8)) }
        func ended(_ status: PlanStatus, _ failure: PlanFailure, termination: RunTermination? = nil) -> SetupEnd {
            let outcome = PlanOutcome(status: status, durationMs: 0, error: failure)
            return .ended(RunReport(outcome: outcome, steps: [], stdout: CapturedOutput(cap: configuration.maxOutputBytes),
                                    stderr: captured.withLock { $0 }, processGroup: nil, termination: termination, resources: nil))
        }
        func failed(_ error: EnvironmentError) -> SetupEnd {
            note("setup failed: \(error)")
            events(.setup("environment failed after \(Self.seconds(since: started)): \(error)"))
            return ended(.failed, PlanFailure(kind: .dependencyInstall, message: "\(error)"))
        }

        guard let store = configuration.environments else {
            return failed(.unavailable("this server keeps no environments"))
        }
        let set: RequirementSet
        do {
            set = try requirementSet(of: plan)
        } catch {
            return failed(error)
        }
        let builder = EnvironmentBuilder(sandbox: configuration.sandbox)
        let interpreter = configuration.interpreter
        let acquiring = Task {
            try await store.acquire(set, interpreter: interpreter, builder: builder, note: note, output: emit)
        }
        switch await Self.firstOf(acquiring, orStopBy: control) {
        case .finished(.success(let lease)):
            let took = Self.seconds(since: started)
            note(lease.built ? "environment \(lease.key) built in \(took)" : "environment \(lease.key) ready")
            events(.setup(lease.built ? "environment \(lease.key) built in \(took)" : "environment \(lease.key) reused, ready in \(took)"))
            return .ready(lease, stderr: captured.withLock { $0 })
        case .finished(.failure(let error)):
            return failed(error as? EnvironmentError ?? .unavailable("\(error)"))
        case .stopped(let termination):
            // The build goes on for the plans waiting on it; this plan no longer needs it.
            Task {
                if case .success(let lease) = await acquiring.result { await store.release(lease) }
            }
            events(.setup("setup stopped after \(Self.seconds(since: started))"))
            let message = if case .canceled(let reason) = termination { reason } else { "stopped because the server is shutting down" }
            return ended(.canceled, PlanFailure(kind: .canceled, message: message), termination: termination)
        }
    }

    /// The plan's requirements, or those of its `requirements_file` in the workspace.
    private func requirementSet(of plan: Plan) throws(EnvironmentError) -> RequirementSet {
        guard let file = plan.runtime.requirementsFile else { return RequirementSet(plan.runtime.requirements) }
        let path: String
        do {
            path = try resolveInWorkspace(file, noun: "requirements_file", problem: PlanSpec.problem(withWorkspacePath: file), kind: .dependencyInstall)
        } catch {
            throw .unavailable(error.failure.message)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .badRequirementsFile("\(file) cannot be read")
        }
        return try RequirementSet(fileText: String(decoding: data, as: UTF8.self), path: file)
    }

    enum Race<Value> {
        case finished(Value)
        case stopped(RunTermination)
    }

    /// Waits for `work`, a cancel request of `control`, or the calling task's cancellation
    /// (a shutdown), whichever comes first; `work` itself is left to finish.
    static func firstOf<Value: Sendable, Failure: Error>(_ work: Task<Value, Failure>, orStopBy control: RunControl) async -> Race<Result<Value, Failure>> {
        let (ends, continuation) = AsyncStream.makeStream(of: Race<Result<Value, Failure>>.self)
        let watchers = [
            Task { _ = continuation.yield(.finished(await work.result)) },
            Task {
                if let request = await control.cancellation() { _ = continuation.yield(.stopped(.canceled(reason: request.reason))) }
            },
        ]
        defer {
            watchers.forEach { $0.cancel() }
            continuation.finish()
        }
        for await end in ends { return end }
        return .stopped(.shutdown)
    }

    private static func seconds(since start: ContinuousClock.Instant) -> String {
        String(format: "%.1f s", Double((ContinuousClock.now - start).wholeMilliseconds) / 1000)
    }
}

extension PythonRunner.Race: Sendable where Value: Sendable {}
