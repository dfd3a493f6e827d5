import BatonCore
import Foundation
import Hummingbird

/// The environments of plans' requirements on this node (design §11), for admins:
/// `GET /api/v1/envs` lists them, `POST /api/v1/envs/prune` removes those unused for a while.
/// Each node keeps its own in its data directory, so both answer for the node asked.
struct EnvironmentsController: Sendable {
    let environments: EnvironmentStore?
    let audit: any ClusterStore
    let configuration: ServerConfiguration

    func addRoutes(admin: RouterGroup<BatonRequestContext>) {
        admin.get("envs", use: list)
        admin.post("envs/prune", use: prune)
    }

    @Sendable func list(request: Request, context: BatonRequestContext) async throws -> Response {
        let environments = try store()
        var json = JSONWriter()
        json.array("environments", await environments.list().map(\.responseJSON))
        return .json(json.finished)
    }

    @Sendable func prune(request: Request, context: BatonRequestContext) async throws -> Response {
        let environments = try store()
        let unused = try await request.secondsBody(field: "unused_seconds", maximum: Self.maxUnusedSeconds, operation: "an environment prune",
                                                   limit: configuration.maxBodyBytes)
        let now = Date()
        let cutoff = now.addingTimeInterval(-unused)
        let removed = await environments.prune(unusedSince: cutoff)
        let freed = removed.reduce(0) { $0 + $1.sizeBytes }
        _ = try await audit.record(AuditEntry.Draft(at: now, actor: context.triggeredBy, action: .environmentsPrune,
                                                    target: "unused since \(Timestamp.format(cutoff))",
                                                    outcome: "removed \(removed.count), freed \(freed) bytes"))
        var json = JSONWriter()
        json.array("removed", removed.map(\.responseJSON))
        json.int("freed_bytes", freed)
        json.string("cutoff", Timestamp.format(cutoff))
        return .json(json.finished)
    }

    private func store() throws -> EnvironmentStore {
        guard let environments else {
            throw HTTPError(.notFound, message: "this server keeps no environments")
        }
        return environments
    }

    /// Ten years.
    static let maxUnusedSeconds = 10 * 365 * 24 * 3600
}

extension EnvironmentInfo {
    /// An environment as `GET /api/v1/envs` lists it.
    var responseJSON: String {
        var json = JSONWriter()
        json.string("key", key)
        json.strings("requirements", requirements)
        json.string("python", "\(python) (\(pythonVersion))")
        json.int("size_bytes", sizeBytes)
        json.string("created_at", Timestamp.format(createdAt))
        json.string("last_used_at", Timestamp.format(lastUsedAt))
        json.int("plans", plans)
        json.int("in_use", inUse)
        json.int("build_ms", buildMs)
        return json.finished
    }
}
