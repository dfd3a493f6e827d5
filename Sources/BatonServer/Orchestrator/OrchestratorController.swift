import BatonCore
import Foundation
import Hummingbird

/// `/api/v1/orchestrator`: status and the control commands (design §6, §10).
///
/// Every command takes an optional JSON body with `node` (a node's name, or `*` for every live
/// node). `poll`, `pause` and `resume` reach every node unless told otherwise; `restart` the
/// node serving the request. The answer keeps the single-node shape — what this node did, or
/// its state — and adds `nodes`: what each node reached did.
struct OrchestratorController: Sendable {
    let node: BatonNode
    let configuration: ServerConfiguration

    private var orchestrator: Orchestrator { node.orchestrator }

    func addRoutes(viewer: RouterGroup<BatonRequestContext>, producer: RouterGroup<BatonRequestContext>, admin: RouterGroup<BatonRequestContext>) {
        viewer.get("orchestrator", use: status)
        producer.post("orchestrator/poll", use: poll)
        admin.post("orchestrator/pause", use: pause)
        admin.post("orchestrator/resume", use: resume)
        admin.post("orchestrator/restart", use: restart)
    }

    @Sendable func status(request: Request, context: BatonRequestContext) async throws -> Response {
        .json(try await orchestrator.status().responseJSON(node: node.name))
    }

    @Sendable func poll(request: Request, context: BatonRequestContext) async throws -> Response {
        let command = try await ControlRequest(request, configuration: configuration, restartFields: false)
        let outcome = try await node.control.perform(.poll, on: command.target, actor: context.triggeredBy)
        var json = JSONWriter()
        json.integers("claimed", outcome.answers.flatMap { $0.claimed ?? [] }.sorted())
        json.raw("queue", Self.queueJSON(try await node.store.countsByStatus()))
        json.string("polled_at", Timestamp.format(Date()))
        json.string("state", try await orchestrator.status().state.rawValue)
        json.array("nodes", outcome.answers.map(\.responseJSON))
        return .json(json.finished)
    }

    @Sendable func pause(request: Request, context: BatonRequestContext) async throws -> Response {
        try await stateChange(.pause, request: request, context: context)
    }

    @Sendable func resume(request: Request, context: BatonRequestContext) async throws -> Response {
        try await stateChange(.resume, request: request, context: context)
    }

    private func stateChange(_ action: ControlAction, request: Request, context: BatonRequestContext) async throws -> Response {
        let command = try await ControlRequest(request, configuration: configuration, restartFields: false)
        let outcome = try await node.control.perform(action, on: command.target, actor: context.triggeredBy)
        let status = try await orchestrator.status().responseJSON(node: node.name)
        return .json(String(status.dropLast()) + ",\"nodes\":[" + outcome.answers.map(\.responseJSON).joined(separator: ",") + "]}")
    }

    @Sendable func restart(request: Request, context: BatonRequestContext) async throws -> Response {
        let command = try await ControlRequest(request, configuration: configuration, restartFields: true)
        let outcome = try await node.control.perform(.restart(command.mode), on: command.target, actor: context.triggeredBy)
        var json = JSONWriter()
        if case .restarted(let report) = outcome.local {
            json.int("generation", report.generation)
            json.integers("drained", report.drained)
            json.integers("requeued", report.requeued)
            json.python("python", report.python)
        }
        json.array("nodes", outcome.answers.map(\.responseJSON))
        return .json(json.finished)
    }

    static func queueJSON(_ counts: [PlanStatus: Int]) -> String {
        var json = JSONWriter()
        for status in PlanStatus.allCases { json.int(status.rawValue, counts[status] ?? 0) }
        return json.finished
    }
}

/// The optional body of a control command: `node`, and for a restart `mode` and
/// `drain_timeout_seconds`.
struct ControlRequest {
    var target: NodeTarget?
    var mode = RestartMode.graceful(drainTimeout: .seconds(30))

    init() {}

    init(_ request: Request, configuration: ServerConfiguration, restartFields: Bool) async throws {
        let hasBody = request.headers[.contentLength].map { $0 != "0" } ?? (request.headers[.transferEncoding] != nil)
        guard hasBody else {
            self.init()
            return
        }
        try self.init(try await request.jsonBody(limit: configuration.maxBodyBytes), restartFields: restartFields)
    }

    init(_ body: RawJSON, restartFields: Bool) throws {
        let fields = restartFields ? "mode, drain_timeout_seconds, node" : "node"
        guard body.kind == .object else { throw PlanValidationError(field: "body", message: "must be a JSON object with \(fields)") }
        var issues: [PlanValidationError.Issue] = []
        var immediate = false
        var drain = 30.0
        for (key, value) in try body.members() {
            switch key {
            case "node":
                if let text = try? JSONDecoder().decode(String.self, from: Data(value.bytes)), text == "*" || NodeName.isValid(text) {
                    target = NodeTarget(text)
                } else {
                    issues.append(.init(field: "node", message: "must be a node's name (see GET /api/v1/nodes) or \"*\" for every node"))
                }
            case "mode" where restartFields:
                if let text = try? JSONDecoder().decode(String.self, from: Data(value.bytes)), ["graceful", "immediate"].contains(text) {
                    immediate = text == "immediate"
                } else {
                    issues.append(.init(field: "mode", message: "must be \"graceful\" or \"immediate\""))
                }
            case "drain_timeout_seconds" where restartFields:
                if let seconds = try? JSONDecoder().decode(Double.self, from: Data(value.bytes)), (0...3600).contains(seconds) {
                    drain = seconds
                } else {
                    issues.append(.init(field: "drain_timeout_seconds", message: "must be a number of seconds from 0 to 3600"))
                }
            default:
                issues.append(.init(field: key, message: "is not a field of this command (\(fields))"))
            }
        }
        guard issues.isEmpty else { throw PlanValidationError(issues: issues) }
        mode = immediate ? .immediate : .graceful(drainTimeout: .seconds(drain))
    }
}

extension ControlAnswer {
    /// One node's part of a control command's answer; absent fields are left out.
    var responseJSON: String {
        var json = JSONWriter()
        json.string("node", node)
        if let state { json.string("state", state) }
        if let claimed { json.integers("claimed", claimed) }
        if let generation { json.int("generation", generation) }
        if let drained { json.integers("drained", drained) }
        if let requeued { json.integers("requeued", requeued) }
        if let error { json.string("error", error) }
        return json.finished
    }
}

extension OrchestratorStatus {
    /// Design §6: the serving node's name, state, generation, times, last error, workers, the
    /// cluster's queue counts, the interpreter.
    func responseJSON(node: String) -> String {
        var json = JSONWriter()
        json.string("node", node)
        json.string("state", state.rawValue)
        json.int("generation", generation)
        json.string("started_at", startedAt.map(Timestamp.format))
        json.string("last_poll_at", lastPollAt.map(Timestamp.format))
        json.string("next_poll_at", nextPollAt.map(Timestamp.format))
        json.string("last_error", lastError)
        json.object("workers") {
            $0.int("total", workersTotal)
            $0.int("busy", workersBusy)
            $0.integers("running", runningPlanIDs)
        }
        json.raw("queue", OrchestratorController.queueJSON(queue))
        json.python("python", python)
        return json.finished
    }
}
