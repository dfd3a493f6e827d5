import Foundation
import Logging
import Subprocess
import Synchronization
import SystemPackage

/// Runs a plan as one Python process (design §5).
///
/// The child starts in a session of its own (so its process group holds it and everything it
/// starts), in the workspace root, with a clean environment. The plan's input goes to its stdin;
/// stdout and stderr are read as they come, handed on as ``RunEvent/output(_:_:)`` and kept
/// within a cap; the last result block on stdout decides the outcome with the exit status.
/// A timeout or cancel sends SIGTERM to the whole group, then SIGKILL after a grace period; and
/// whatever happens, the group is sent SIGKILL once the run is over, so no grandchild survives it.
public struct PythonRunner: PlanRunner {
    /// Where and how plans run.
    public struct Configuration: Sendable {
        public var interpreter: PythonInterpreter
        /// The directory scripts are relative to, and the children's working directory.
        public var workspaceRoot: String
        /// Put on the children's `PYTHONPATH`: the directory holding `baton_plan.py`.
        public var helperDirectory: String?
        /// Output kept per stream (head and tail); the rest is counted and dropped.
        public var maxOutputBytes = 1 << 20
        /// Between SIGTERM and SIGKILL when a run is stopped.
        public var killGracePeriod: Duration = .seconds(5)
        /// The part of the server's environment children get: `PATH`, `HOME`, `LANG`.
        public var baseEnvironment: [String: String]
        /// The node's name, given to plans as `BATON_NODE` (`--node-name`); `nil` gives none.
        public var nodeName: String?
        /// The sandbox plans run in; `nil` runs them as the server's user, unsandboxed.
        public var sandbox: Sandbox?
        /// Where the environments of plans' requirements are kept; `nil` fails plans that have
        /// requirements.
        public var environments: EnvironmentStore?
        /// Where private directories for inline code are made.
        public var scratchRoot: String = NSTemporaryDirectory().hasSuffix("/") ? String(NSTemporaryDirectory().dropLast()) : NSTemporaryDirectory()

        public init(interpreter: PythonInterpreter, workspaceRoot: String, helperDirectory: String? = nil,
                    serverEnvironment: [String: String] = ProcessInfo.processInfo.environment) {
            self.interpreter = interpreter
            self.workspaceRoot = workspaceRoot
            self.helperDirectory = helperDirectory
            baseEnvironment = [
                "PATH": serverEnvironment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
                "HOME": serverEnvironment["HOME"] ?? "/",
                "LANG": serverEnvironment["LANG"] ?? "C.UTF-8",
            ]
        }
    }

    public let configuration: Configuration
    let workspaceRealPath: String
    private let logger: Logger

    public init(configuration: Configuration, logger: Logger = Logger(label: "baton.runner")) {
        self.configuration = configuration
        self.logger = logger
        // Writing a plan's input to a child that has exited raises SIGPIPE, whose default action
        // kills the whole server. Ignored, the write fails with EPIPE instead. Children start
        // with every signal back at its default (swift-subprocess spawns with SETSIGDEF).
        signal(SIGPIPE, SIG_IGN)
        workspaceRealPath = Self.realPath(configuration.workspaceRoot) ?? configuration.workspaceRoot
    }

    public func run(_ plan: Plan, attempt: Int, control: RunControl, events: @escaping @Sendable (RunEvent) -> Void) async -> RunReport {
        var environment: EnvironmentStore.Lease?
        var setupOutput = CapturedOutput(cap: configuration.maxOutputBytes)
        if plan.runtime.needsEnvironment {
            switch await setUpEnvironment(plan, control: control, events: events) {
            case .ready(let lease, let stderr):
                environment = lease
                setupOutput = stderr
            case .ended(let report):
                return report
            }
        }
        defer {
            if let environment, let store = configuration.environments { Task { await store.release(environment) } }
        }
        // The run's own time: its setup is reported apart.
        let clock = ContinuousClock()
        let start = clock.now
        let empty = CapturedOutput(cap: configuration.maxOutputBytes)
        func failed(_ failure: PlanFailure) -> RunReport {
            RunReport(outcome: PlanOutcome(status: .failed, durationMs: (clock.now - start).wholeMilliseconds, error: failure),
                      steps: [], stdout: empty, stderr: setupOutput, processGroup: nil, termination: nil, resources: nil)
        }

        let launch: Launch
        do {
            launch = try prepareLaunch(plan, attempt: attempt)
        } catch {
            return failed(error.failure)
        }
        defer { launch.removeScratch() }

        var platform = PlatformOptions()
        // A session of its own makes the child a process group leader: signals to the group
        // reach everything it starts. (With `processGroupID` as well, this would be ignored.)
        platform.createSession = true
        platform.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: configuration.killGracePeriod)]
        let childEnvironment = Environment.custom(Dictionary(uniqueKeysWithValues: launch.environment.compactMap { key, value in
            Environment.Key(rawValue: key).map { ($0, value) }
        }))
        let planLogger = logger.with(plan: plan.id, attempt: attempt)
        let limits = configuration.sandbox.map { $0.limits.lowered(to: plan.runtime.limits) }
        let cgroups: RunCgroups?
        do {
            cgroups = try configuration.sandbox?.runCgroups(named: "plan-\(plan.id)-\(attempt)", limits: limits!)
        } catch {
            return failed(PlanFailure(kind: .spawnFailed, message: "cannot set the plan's limits up: \(error)"))
        }
        defer { cgroups?.remove() }
        let (executable, arguments) = command(for: launch, plan: plan, environment: environment, limits: limits, cgroups: cgroups)

        let execution: ExecutionResult<Supervision, SequenceOutput, SequenceOutput>
        do {
            execution = try await Subprocess.run(
                .path(FilePath(executable)),
                arguments: Arguments(arguments),
                environment: childEnvironment,
                workingDirectory: FilePath(configuration.workspaceRoot),
                platformOptions: platform,
                input: .inputWriter,
                output: .sequence,
                error: .sequence
            ) { execution in
                await supervise(execution, plan: plan, stderrSoFar: setupOutput, control: control, events: events)
            }
        } catch {
            guard FileManager.default.isExecutableFile(atPath: configuration.interpreter.path) else {
                return failed(PlanFailure(kind: .pythonUnavailable, message: "the Python interpreter \(configuration.interpreter.path) is gone: \(error)"))
            }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: configuration.workspaceRoot, isDirectory: &isDirectory), isDirectory.boolValue else {
                return failed(PlanFailure(kind: .spawnFailed, message: "the workspace \(configuration.workspaceRoot) is not a directory (--workspace)"))
            }
            planLogger.error("could not start the plan", metadata: ["error": "\(error)"])
            return failed(PlanFailure(kind: .spawnFailed, message: "could not start \(configuration.interpreter.path): \(error)"))
        }
        let processGroup = execution.processIdentifier.value
        let supervision = execution.closureResult
        let termination = supervision.termination
        let exit: RunVerdict.Exit = switch execution.terminationStatus {
        // baton-confine passes on a signal's end as the shell does, as 128 + the signal.
        case .exited(let code) where configuration.sandbox != nil && (129...192).contains(code): .signal(code - 128)
        case .exited(let code): .code(code)
        case .signaled(let signal): .signal(signal)
        }
        let duration = supervision.exitedAt.map { $0 - start } ?? (clock.now - start)
        var (outcome, steps) = RunVerdict.outcome(exit: exit, termination: termination, block: supervision.resultBlock,
                                                  timeoutSeconds: plan.timeoutSeconds, duration: duration)
        if outcome.status == .failed, let breach = cgroups?.breach() {
            outcome.error = PlanFailure(kind: .limit, message: breach.message)
        }
        planLogger.debug("plan process ended", metadata: [
            "plan.status": "\(outcome.status.rawValue)", "process.exit": "\(execution.terminationStatus)",
            "process.group": "\(processGroup)", "run.duration_ms": "\(outcome.durationMs ?? 0)",
        ])
        return RunReport(outcome: outcome, steps: steps, stdout: supervision.stdout, stderr: supervision.stderr,
                         processGroup: processGroup, termination: termination, resources: supervision.resources)
    }

    /// The executable and arguments that start `launch`: the interpreter (the environment's,
    /// when the plan has one), or the sandbox running it.
    private func command(for launch: Launch, plan: Plan, environment: EnvironmentStore.Lease?, limits: ResourceLimits?,
                         cgroups: RunCgroups?) -> (String, [String]) {
        let python = environment?.python ?? configuration.interpreter.path
        guard let sandbox = configuration.sandbox, let limits else { return (python, launch.arguments) }
        let readable = configuration.interpreter.installation
            + [environment?.path, launch.scratchDirectory, configuration.helperDirectory].compactMap { $0 }
        let line = sandbox.commandLine(running: [python] + launch.arguments, workspace: workspaceRealPath,
                                       readable: readable, network: plan.runtime.network, limits: limits, cgroups: cgroups)
        return (line[0], Array(line.dropFirst()))
    }

    /// What was learned while the child ran.
    struct Supervision: Sendable {
        var stdout: CapturedOutput
        var stderr: CapturedOutput
        var resultBlock: ResultBlockScanner.Block?
        var termination: RunTermination?
        var resources: ResourceUsage?
        var exitedAt: ContinuousClock.Instant?
    }

    private enum Part: Sendable {
        case stdout(CapturedOutput, ResultBlockScanner.Block?)
        case stderr(CapturedOutput)
        case done
    }

    /// Feeds stdin, drains both output streams, enforces the timeout and cancel requests, and
    /// reads the child's resource usage once it has exited — all while the child runs.
    private func supervise(
        _ execution: Execution<CustomWriteInput, SequenceOutput, SequenceOutput>,
        plan: Plan, stderrSoFar: CapturedOutput, control: RunControl, events: @escaping @Sendable (RunEvent) -> Void
    ) async -> Supervision {
        let processID = execution.processIdentifier.value
        events(.started(processGroup: processID))
        let cap = configuration.maxOutputBytes
        let stopped = FirstStop()
        let grace = configuration.killGracePeriod
        let timeout = Duration.seconds(plan.timeoutSeconds)

        var supervision = Supervision(stdout: CapturedOutput(cap: cap), stderr: CapturedOutput(cap: cap))
        let log = logger.with(plan: plan.id, attempt: plan.attempt)
        await withTaskCancellationHandler {
        await withTaskGroup(of: Part.self) { group in
            group.addTask {
                // A child may never read its input, or exit first: a failed write is not an error.
                let writer = execution.standardInputWriter
                _ = try? await writer.write(Array(plan.input.text.utf8))
                try? await writer.finish()
                return .done
            }
            group.addTask {
                var captured = CapturedOutput(cap: cap)
                var scanner = ResultBlockScanner()
                do {
                    for try await buffer in execution.standardOutput {
                        let bytes = buffer.withUnsafeBytes { Array($0) }
                        captured.append(bytes)
                        scanner.scan(bytes)
                        events(.output(.stdout, bytes))
                    }
                } catch {
                    log.warning("stopped reading the plan's stdout", metadata: ["error": "\(error)"])
                }
                scanner.finish()
                return .stdout(captured, scanner.lastBlock)
            }
            group.addTask {
                var captured = stderrSoFar
                do {
                    for try await buffer in execution.standardError {
                        let bytes = buffer.withUnsafeBytes { Array($0) }
                        captured.append(bytes)
                        events(.output(.stderr, bytes))
                    }
                } catch {
                    log.warning("stopped reading the plan's stderr", metadata: ["error": "\(error)"])
                }
                return .stderr(captured)
            }
            group.addTask {
                guard let (reason, immediately) = await Self.firstStopRequest(timeout: timeout, control: control) else { return .done }
                stopped.record(reason, immediately: immediately)
                if immediately {
                    kill(-processID, SIGKILL)
                } else {
                    await execution.teardown(using: [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: grace)])
                }
                return .done
            }

            var streamsOpen = 2
            while streamsOpen > 0, let part = await group.next() {
                switch part {
                case .stdout(let captured, let block):
                    supervision.stdout = captured
                    supervision.resultBlock = block
                    streamsOpen -= 1
                case .stderr(let captured):
                    supervision.stderr = captured
                    streamsOpen -= 1
                case .done:
                    break
                }
            }
            // The streams end when the child exits (or closes them). Its zombie is not reaped
            // until this closure returns: its resource usage can still be read, and its process
            // group number cannot yet be reused by anyone else.
            let exit = await ProcessGroup.waitForExit(processID)
            supervision.exitedAt = exit?.at
            supervision.resources = exit?.resources
            if let stop = stopped.stop, exit.map({ stop.at <= $0.at }) ?? true {
                // Stopped from outside: the rest of the group got SIGTERM with the leader and
                // has the grace period to finish before SIGKILL.
                supervision.termination = stop.reason
                let deadline = stop.at + (stop.immediately ? .zero : grace)
                while ProcessGroup.hasLiveMembers(processID), ContinuousClock.now < deadline {
                    await sleepEvenIfCancelled(for: .milliseconds(50))
                }
            }
            // Whatever the ending, nothing of the group outlives the run: a grandchild that
            // ignores SIGTERM or was left in the background included. (swift-subprocess's own
            // teardown stops at the leader's exit.) ESRCH, nobody left, is the usual answer.
            kill(-processID, SIGKILL)
            group.cancelAll()
        }
        } onCancel: {
            // Cancelling the calling task is a shutdown: the library stops the group gracefully
            // (the teardown sequence); this records why.
            stopped.record(.shutdown)
        }
        return supervision
    }

    /// The timeout, or the first cancel request, whichever comes first, and whether it allows no
    /// grace period; `nil` when the task is cancelled first (the run ended on its own).
    private static func firstStopRequest(timeout: Duration, control: RunControl) async -> (RunTermination, immediately: Bool)? {
        await withTaskGroup(of: (RunTermination, immediately: Bool)?.self) { race in
            race.addTask {
                do {
                    try await Task.sleep(for: timeout)
                    return (.timeout, false)
                } catch {
                    return nil
                }
            }
            race.addTask {
                await control.cancellation().map { (.canceled(reason: $0.reason), $0.immediately) }
            }
            let first = await race.next() ?? nil
            race.cancelAll()
            return first
        }
    }

}

/// The first reason a run was stopped for, and when, shared between the task that stops it and
/// the one that reports it. A stop that came after the child had exited on its own is ignored.
private final class FirstStop: Sendable {
    struct Stop {
        let reason: RunTermination
        let at: ContinuousClock.Instant
        /// SIGKILL without a grace period.
        let immediately: Bool
    }

    private let value = Mutex<Stop?>(nil)

    func record(_ reason: RunTermination, immediately: Bool = false) {
        value.withLock { $0 = $0 ?? Stop(reason: reason, at: .now, immediately: immediately) }
    }

    var stop: Stop? { value.withLock { $0 } }
}

extension Logger {
    /// A logger for one run, with the plan's id and attempt as metadata.
    func with(plan id: Int64, attempt: Int) -> Logger {
        var logger = self
        logger[metadataKey: "plan.id"] = "\(id)"
        logger[metadataKey: "plan.attempt"] = "\(attempt)"
        return logger
    }
}
