import BatonCore
import Foundation
import Hummingbird

/// `GET /api/v1/health`: 200 when the database answers and the orchestrator runs; 503 naming
/// the failing part otherwise. No token needed.
struct HealthController: Sendable {
    /// Its status answers only if the database does, so one call checks both.
    let orchestrator: Orchestrator
    let sandbox: Sandbox.Decision

    func addRoutes(to group: RouterGroup<BatonRequestContext>) {
        group.get("health", use: health)
    }

    @Sendable func health(request: Request, context: BatonRequestContext) async throws -> Response {
        var problems: [String] = []
        var status: OrchestratorStatus?
        do {
            status = try await orchestrator.status()
        } catch {
            // No token is needed here: say which part fails, keep its details in the log.
            context.logger.error("health check: the database does not answer", metadata: ["error": "\(error)"])
            problems.append("database: not answering")
        }
        if let status, status.state == .stopped {
            problems.append("orchestrator: stopped (see GET /api/v1/orchestrator)")
        }
        var json = JSONWriter()
        json.string("status", problems.isEmpty ? "ok" : "unhealthy")
        json.strings("problems", problems)
        json.string("orchestrator", status?.state.rawValue)
        json.string("python_version", status?.python?.version)
        json.string("version", BatonVersion.current)
        json.object("sandbox") { json in
            switch sandbox {
            case .on(let sandbox):
                json.string("state", "on")
                json.string("detail", sandbox.summary)
            case .off(let reason):
                json.string("state", "off")
                json.string("reason", reason)
            }
        }
        return .json(json.finished, status: problems.isEmpty ? .ok : .serviceUnavailable)
    }
}
