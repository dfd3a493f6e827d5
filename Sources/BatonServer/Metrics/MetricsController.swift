import BatonCore
import Foundation
import Hummingbird
import NIOCore
import Prometheus

/// Baton's metrics and where they are kept: one Prometheus registry per server.
public struct ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    /// What the orchestrator and the API record into the registry.
    public let metrics: BatonMetrics

    public init() {
        registry = PrometheusCollectorRegistry()
        metrics = BatonMetrics(factory: PrometheusMetricsFactory(registry: registry))
    }
}

/// `GET /metrics` (Prometheus text, no token) and `GET /api/v1/metrics` (a JSON summary).
struct MetricsController: Sendable {
    let store: any PlanStore
    let serverMetrics: ServerMetrics

    func addRoutes(root: Router<BatonRequestContext>, viewer: RouterGroup<BatonRequestContext>) {
        root.get("metrics", use: prometheus)
        viewer.get("metrics", use: summary)
    }

    @Sendable func prometheus(request: Request, context: BatonRequestContext) async throws -> Response {
        let counts = try await store.countsByStatus()
        let oldest = try await store.oldestQueuedEnqueuedAt()
        serverMetrics.metrics.queue(counts, oldestQueuedAge: oldest.map { Date().timeIntervalSince($0) })
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: serverMetrics.registry.emitToBuffer())))
    }

    @Sendable func summary(request: Request, context: BatonRequestContext) async throws -> Response {
        let counts = try await store.countsByStatus()
        let runs = try await store.runSummary()
        let durations = runs.recentDurationsMs.sorted()
        var json = JSONWriter()
        json.raw("counts", OrchestratorController.queueJSON(counts))
        json.int("running", counts[.running] ?? 0)
        json.object("duration_ms") { object in
            object.int("samples", durations.count)
            object.int("mean", durations.isEmpty ? nil : durations.reduce(0, +) / Int64(durations.count))
            object.int("p95", durations.isEmpty ? nil : durations[min(durations.count - 1, Int((Double(durations.count) * 0.95).rounded(.up)) - 1)])
        }
        json.object("usage") { object in
            object.int("input_tokens", runs.inputTokens)
            object.int("output_tokens", runs.outputTokens)
            object.double("cost_usd", runs.costUSD)
        }
        return .json(json.finished)
    }
}
