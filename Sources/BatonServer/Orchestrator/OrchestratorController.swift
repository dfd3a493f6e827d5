import BatonCore
import Foundation
import Hummingbird

/// `/api/v1/orchestrator`: status and the control commands (design §6).
struct OrchestratorController: Sendable {
    let orchestrator: Orchestrator
    let configuration: ServerConfiguration

    func addRoutes(viewer: RouterGroup<BatonRequestContext>, producer: RouterGroup<BatonRequestContext>, admin: RouterGroup<BatonRequestContext>) {
        viewer.get("orchestrator", use: status)
        producer.post("orchestrator/poll", use: poll)
        admin.post("orchestrator/pause", use: pause)
        admin.post("orchestrator/resume", use: resume)
        admin.post("orchestrator/restart", use: restart)
    }

    @Sendable func status(request: Request, context: BatonRequestContext) async throws -> Response {
        .json(try await orchestrator.status().responseJSON)
    }

    @Sendable func poll(request: Request, context: BatonRequestContext) async throws -> Response {
        let report = try await orchestrator.poll()
        var json = JSONWriter()
        json.integers("claimed", report.claimed)
        json.raw("queue", Self.queueJSON(report.queue))
        json.string("polled_at", Timestamp.format(report.polledAt))
        json.string("state", report.state.rawValue)
        return .json(json.finished)
    }

    @Sendable func pause(request: Request, context: BatonRequestContext) async throws -> Response {
        _ = await orchestrator.pause()
        return .json(try await orchestrator.status().responseJSON)
    }

    @Sendable func resume(request: Request, context: BatonRequestContext) async throws -> Response {
        _ = await orchestrator.resume()
        return .json(try await orchestrator.status().responseJSON)
    }

    @Sendable func restart(request: Request, context: BatonRequestContext) async throws -> Response {
        var mode = RestartMode.graceful(drainTimeout: .seconds(30))
        if request.headers[.contentLength].map({ $0 != "0" }) ?? false || request.headers[.transferEncoding] != nil {
            mode = try await Self.restartMode(try await request.jsonBody(limit: configuration.maxBodyBytes))
        }
        let report = try await orchestrator.restart(mode)
        var json = JSONWriter()
        json.int("generation", report.generation)
        json.integers("drained", report.drained)
        json.integers("requeued", report.requeued)
        json.python("python", report.python)
        return .json(json.finished)
    }

    /// `{"mode": "graceful"|"immediate", "drain_timeout_seconds": N}`, both optional.
    static func restartMode(_ body: RawJSON) async throws -> RestartMode {
        var issues: [PlanValidationError.Issue] = []
        var mode = "graceful"
        var drain = 30.0
        guard body.kind == .object else { throw PlanValidationError(field: "body", message: "must be a JSON object") }
        for (key, value) in try body.members() {
            switch key {
            case "mode":
                if let text = try? JSONDecoder().decode(String.self, from: Data(value.bytes)), ["graceful", "immediate"].contains(text) {
                    mode = text
                } else {
                    issues.append(.init(field: "mode", message: "must be \"graceful\" or \"immediate\""))
                }
            case "drain_timeout_seconds":
                if let seconds = try? JSONDecoder().decode(Double.self, from: Data(value.bytes)), (0...3600).contains(seconds) {
                    drain = seconds
                } else {
                    issues.append(.init(field: "drain_timeout_seconds", message: "must be a number of seconds from 0 to 3600"))
                }
            default:
                issues.append(.init(field: key, message: "is not a restart field (mode, drain_timeout_seconds)"))
            }
        }
        guard issues.isEmpty else { throw PlanValidationError(issues: issues) }
        return mode == "immediate" ? .immediate : .graceful(drainTimeout: .seconds(drain))
    }

    static func queueJSON(_ counts: [PlanStatus: Int]) -> String {
        var json = JSONWriter()
        for status in PlanStatus.allCases { json.int(status.rawValue, counts[status] ?? 0) }
        return json.finished
    }
}

extension OrchestratorStatus {
    /// Design §6: state, generation, times, last error, workers, queue counts, interpreter.
    var responseJSON: String {
        var json = JSONWriter()
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
