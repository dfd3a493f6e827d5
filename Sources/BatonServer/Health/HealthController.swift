import BatonCore
import Foundation
import Hummingbird

/// `GET /api/v1/health`: 200 when the database answers and the orchestrator runs; 503 naming
/// the failing part otherwise. No token needed.
struct HealthController: Sendable {
    let store: any PlanStore
    let orchestrator: Orchestrator

    func addRoutes(to group: RouterGroup<BatonRequestContext>) {
        group.get("health", use: health)
    }

    @Sendable func health(request: Request, context: BatonRequestContext) async throws -> Response {
        var problems: [String] = []
        var status: OrchestratorStatus?
        do {
            status = try await orchestrator.status()
        } catch {
            problems.append("database: \(error)")
        }
        if let status, status.state == .stopped {
            problems.append("orchestrator: stopped\(status.lastError.map { " (\($0))" } ?? "")")
        }
        var json = JSONWriter()
        json.string("status", problems.isEmpty ? "ok" : "unhealthy")
        json.strings("problems", problems)
        json.string("orchestrator", status?.state.rawValue)
        if let python = status?.python {
            json.object("python") { $0.string("path", python.path); $0.string("version", python.version) }
        } else {
            json.null("python")
        }
        json.string("version", BatonVersion.current)
        return .json(json.finished, status: problems.isEmpty ? .ok : .serviceUnavailable)
    }
}
