import Foundation
import Logging
import ServiceLifecycle

/// Carries operators' control commands — poll, pause, resume, restart — to the nodes they name,
/// and answers with what each did (design §10).
///
/// The node that takes the request acts on it itself; other nodes get it through the store: the
/// command is stored, a ``QueueSignal/controlIssued`` tells them at once (their heartbeat looks
/// too, in case the signal was missed), each acts once and stores its ``ControlAnswer``, and the
/// requester collects the answers until a deadline. Every command is recorded in the audit log.
public actor ClusterControl: Service {
    /// What a command did on this node, with the details the single-node answers carry.
    public enum LocalResult: Sendable, Hashable {
        case polled(PollReport)
        case state(OrchestratorState)
        case restarted(RestartReport)
    }

    /// What a command did: on this node, if it was one of those named, and on every node reached
    /// (this one first, then the others by name).
    public struct Outcome: Sendable {
        public let local: LocalResult?
        public let answers: [ControlAnswer]
    }

    /// How long a requester waits for other nodes' answers to a poll, pause or resume.
    public static let answerDeadline: Duration = .seconds(10)

    public nonisolated let name: String
    private let store: any ClusterStore
    private let notifier: any QueueNotifier
    private let orchestrator: Orchestrator
    private let now: @Sendable () -> Date
    private let logger: Logger
    private let startedAt: Date
    private var lastSeenCommand: Int64 = 0
    private var following = false
    private var followAgain = false

    public init(name: String, store: any ClusterStore, notifier: any QueueNotifier, orchestrator: Orchestrator,
                now: @escaping @Sendable () -> Date = Date.init, logger: Logger = Logger(label: "baton.control")) {
        self.name = name
        self.store = store
        self.notifier = notifier
        self.orchestrator = orchestrator
        self.now = now
        self.logger = logger
        startedAt = now()
    }

    /// Acts on commands from other nodes as their signals come, until graceful shutdown.
    public func run() async {
        for await signal in notifier.signals().cancelOnGracefulShutdown() where signal == .controlIssued {
            await followCommands()
        }
    }

    // MARK: Requests

    /// Performs `action` on the nodes `target` names — by default every live node, but for a
    /// restart only this one — and records it in the audit log as done by `actor`.
    /// - Throws: ``ClusterError`` for a node that is unknown or gone; what this node's own action
    ///   threw (a restart during shutdown, a database that does not answer).
    public func perform(_ action: ControlAction, on target: NodeTarget?, actor: String) async throws -> Outcome {
        let target = target ?? Self.defaultTarget(of: action, node: name)
        let remote = try await otherNodes(in: target)
        let includesSelf = target.includes(name)
        var command: ControlCommand?
        if !remote.isEmpty {
            command = try await store.issue(action, target: target, origin: name, issuedBy: actor, now: now())
            notifier.send(.controlIssued)
        }
        let local: Task<LocalResult, any Error>? = includesSelf ? Task { try await self.act(action) } : nil
        var answers: [ControlAnswer] = []
        if let command { answers = await collectAnswers(to: command, from: remote, within: Self.deadline(of: action)) }
        var localResult: Result<LocalResult, any Error>?
        if let local { localResult = await local.result }
        if let localResult { answers.insert(Self.answer(from: localResult, node: name), at: 0) }
        await audit(action, target: target, actor: actor, answers: answers)
        if case .failure(let error) = localResult, remote.isEmpty { throw error }
        return Outcome(local: try? localResult?.get(), answers: answers)
    }

    /// `poll`, `pause` and `resume` reach every node unless told otherwise; `restart` only the
    /// node that took the request.
    static func defaultTarget(of action: ControlAction, node: String) -> NodeTarget {
        if case .restart = action { return .named(node) }
        return .all
    }

    /// How long to wait for other nodes: a restart may drain first.
    static func deadline(of action: ControlAction) -> Duration {
        switch action {
        case .restart(.graceful(let drain)): drain + .seconds(30)
        case .restart(.immediate): .seconds(30)
        case .poll, .pause, .resume: answerDeadline
        }
    }

    /// The live nodes other than this one that `target` names.
    private func otherNodes(in target: NodeTarget) async throws -> [String] {
        let now = now()
        let nodes = try await store.nodes(now: now)
        let live = nodes.filter { !$0.state(at: now).isGone }.map(\.name)
        switch target {
        case .all:
            return live.filter { $0 != name }
        case .named(let wanted) where wanted == name:
            return []
        case .named(let wanted):
            guard let node = nodes.first(where: { $0.name == wanted }) else { throw ClusterError.unknownNode(wanted, known: live) }
            let state = node.state(at: now)
            guard !state.isGone else { throw ClusterError.nodeGone(wanted, state: state) }
            return [wanted]
        }
    }

    /// The answers of `nodes`, in name order, as they come; a node that has not answered by the
    /// deadline is reported as such.
    private func collectAnswers(to command: ControlCommand, from nodes: [String], within deadline: Duration) async -> [ControlAnswer] {
        let end = ContinuousClock.now + deadline
        var received: [String: ControlAnswer] = [:]
        var pause = Duration.milliseconds(20)
        while received.count < nodes.count, ContinuousClock.now < end {
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(250))
            if let answers = try? await store.answers(to: command.id) {
                for answer in answers where nodes.contains(answer.node) { received[answer.node] = answer }
            }
        }
        return nodes.sorted().map { received[$0] ?? .noAnswer(from: $0, within: deadline) }
    }

    private func audit(_ action: ControlAction, target: NodeTarget, actor: String, answers: [ControlAnswer]) async {
        let outcome = answers.map { "\($0.node): \($0.error.map { "failed (\($0))" } ?? $0.state ?? "ok")" }.joined(separator: "; ")
        do {
            try await store.record(AuditEntry.Draft(at: now(), actor: actor, action: action.auditAction, target: target.description, outcome: outcome))
        } catch {
            logger.error("cannot record a control command in the audit log", metadata: ["command": "\(action.name)", "error": "\(error)"])
        }
    }

    // MARK: Commands from other nodes

    /// Acts once on every command other nodes addressed to this one since the last look.
    /// Looks never overlap: a call during one makes it look again when done.
    public func followCommands() async {
        if following {
            followAgain = true
            return
        }
        following = true
        defer { following = false }
        repeat {
            followAgain = false
            await followOnce()
        } while followAgain
    }

    private func followOnce() async {
        let since = max(startedAt, now().addingTimeInterval(-ClusterRules.commandValidity.timeInterval))
        let commands: [ControlCommand]
        do {
            commands = try await store.commands(after: lastSeenCommand, issuedSince: since)
        } catch {
            logger.debug("cannot read control commands; the next heartbeat looks again", metadata: ["error": "\(error)"])
            return
        }
        for command in commands {
            lastSeenCommand = max(lastSeenCommand, command.id)
            guard command.origin != name, command.target.includes(name) else { continue }
            logger.info("control command from another node", metadata: [
                "command": "\(command.action.name)", "command.origin": "\(command.origin)", "command.by": "\(command.issuedBy)",
            ])
            // A restart takes its drain; other commands must not wait for it.
            Task {
                let answer = Self.answer(from: await Task { try await self.act(command.action) }.result, node: self.name)
                do {
                    try await self.store.answer(command.id, with: answer, now: self.now())
                } catch {
                    self.logger.warning("cannot store the answer to a control command", metadata: ["command.id": "\(command.id)", "error": "\(error)"])
                }
            }
        }
    }

    // MARK: Acting

    private func act(_ action: ControlAction) async throws -> LocalResult {
        switch action {
        case .poll: .polled(try await orchestrator.poll())
        case .pause: .state(await orchestrator.pause())
        case .resume: .state(await orchestrator.resume())
        case .restart(let mode): .restarted(try await orchestrator.restart(mode))
        }
    }

    static func answer(from result: Result<LocalResult, any Error>, node: String) -> ControlAnswer {
        switch result {
        case .success(.polled(let report)):
            ControlAnswer(node: node, state: report.state.rawValue, claimed: report.claimed)
        case .success(.state(let state)):
            ControlAnswer(node: node, state: state.rawValue)
        case .success(.restarted(let report)):
            ControlAnswer(node: node, state: OrchestratorState.running.rawValue, generation: report.generation,
                          drained: report.drained, requeued: report.requeued)
        case .failure(let error):
            ControlAnswer(node: node, error: "\(error)")
        }
    }
}
