import BatonCore
import Foundation
import Hummingbird

/// The cluster's own resources (design §10): `GET /api/v1/nodes` (viewer), and for admins the
/// audit log (`GET /api/v1/audit`) and pruning on request (`POST /api/v1/prune`).
struct ClusterController: Sendable {
    let node: BatonNode
    let configuration: ServerConfiguration

    /// The most audit entries one page holds, and the default.
    static let maxAuditLimit = 500
    static let defaultAuditLimit = 100

    func addRoutes(viewer: RouterGroup<BatonRequestContext>, admin: RouterGroup<BatonRequestContext>) {
        viewer.get("nodes", use: nodes)
        admin.get("audit", use: audit)
        admin.post("prune", use: prune)
    }

    @Sendable func nodes(request: Request, context: BatonRequestContext) async throws -> Response {
        let now = Date()
        let nodes = try await node.store.nodes(now: now)
        var json = JSONWriter()
        json.array("nodes", nodes.map { $0.responseJSON(at: now) })
        json.string("this_node", node.name)
        return .json(json.finished)
    }

    @Sendable func audit(request: Request, context: BatonRequestContext) async throws -> Response {
        let parameters = request.uri.queryParameters
        var issues: [PlanValidationError.Issue] = []
        var limit = Self.defaultAuditLimit
        var cursor: Int64?
        if let text = parameters.get("limit") {
            if let number = Int(text), (1...Self.maxAuditLimit).contains(number) { limit = number } else {
                issues.append(.init(field: "limit", message: "must be a whole number from 1 to \(Self.maxAuditLimit)"))
            }
        }
        if let text = parameters.get("cursor") {
            if let number = Int64(text), number > 0 { cursor = number } else {
                issues.append(.init(field: "cursor", message: "must be the next_cursor of an earlier page"))
            }
        }
        guard issues.isEmpty else { throw PlanValidationError(issues: issues) }
        let page = try await node.store.auditEntries(before: cursor, limit: limit)
        var json = JSONWriter()
        json.array("entries", page.entries.map(\.responseJSON))
        json.int("next_cursor", page.nextCursor)
        return .json(json.finished)
    }

    @Sendable func prune(request: Request, context: BatonRequestContext) async throws -> Response {
        let age = try await request.secondsBody(field: "older_than_seconds", maximum: Self.maxPruneAge, operation: "a prune",
                                                limit: configuration.maxBodyBytes)
        let now = Date()
        let deleted = try await node.pruner.prune(olderThan: .seconds(age), actor: context.triggeredBy, now: now)
        var json = JSONWriter()
        json.int("deleted", deleted)
        json.string("cutoff", Timestamp.format(now.addingTimeInterval(-age)))
        return .json(json.finished)
    }

    /// Ten years: anything older is every ended plan.
    static let maxPruneAge = 10 * 365 * 24 * 3600
}

extension NodeRecord {
    /// A node as `GET /api/v1/nodes` lists it.
    func responseJSON(at now: Date) -> String {
        var json = JSONWriter()
        json.string("name", name)
        json.string("state", state(at: now).rawValue)
        json.bool("leader", leader)
        json.int("generation", heartbeat.generation)
        json.object("workers") {
            $0.int("total", heartbeat.workersTotal)
            $0.int("busy", heartbeat.workersBusy)
        }
        json.string("version", heartbeat.version)
        json.string("started_at", Timestamp.format(heartbeat.startedAt))
        json.string("last_seen_at", Timestamp.format(lastSeenAt))
        return json.finished
    }
}

extension AuditEntry {
    /// One entry of `GET /api/v1/audit`.
    var responseJSON: String {
        var json = JSONWriter()
        json.int("id", id)
        json.string("at", Timestamp.format(at))
        json.string("actor", actor)
        json.string("action", action)
        json.string("target", target)
        json.string("outcome", outcome)
        return json.finished
    }
}
