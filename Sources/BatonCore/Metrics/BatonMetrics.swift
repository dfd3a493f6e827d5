import CoreMetrics
import Foundation

/// What Baton counts and measures, through swift-metrics with an explicit factory (so tests and
/// several servers in one process never share a global registry).
public struct BatonMetrics: Sendable {
    private let enqueued: Counter
    private let finished: [PlanStatus: Counter]
    private let runDuration: CoreMetrics.Timer
    private let dispatchLatency: CoreMetrics.Timer
    private let workersBusy: Gauge
    private let workersTotal: Gauge
    private let pollCycles: Counter
    private let pollErrors: Counter
    private let restarts: Counter
    private let queueDepth: [PlanStatus: Gauge]
    private let oldestQueuedAge: Gauge

    public init(factory: any MetricsFactory) {
        enqueued = Counter(label: "baton_plans_enqueued_total", factory: factory)
        finished = Dictionary(uniqueKeysWithValues: PlanStatus.terminal.map {
            ($0, Counter(label: "baton_plans_finished_total", dimensions: [("status", $0.rawValue)], factory: factory))
        })
        runDuration = CoreMetrics.Timer(label: "baton_plan_run_duration_seconds", factory: factory)
        dispatchLatency = CoreMetrics.Timer(label: "baton_dispatch_latency_seconds", factory: factory)
        workersBusy = Gauge(label: "baton_workers_busy", factory: factory)
        workersTotal = Gauge(label: "baton_workers_total", factory: factory)
        pollCycles = Counter(label: "baton_poll_cycles_total", factory: factory)
        pollErrors = Counter(label: "baton_poll_errors_total", factory: factory)
        restarts = Counter(label: "baton_orchestrator_restarts_total", factory: factory)
        queueDepth = Dictionary(uniqueKeysWithValues: PlanStatus.allCases.map {
            ($0, Gauge(label: "baton_queue_depth", dimensions: [("status", $0.rawValue)], factory: factory))
        })
        oldestQueuedAge = Gauge(label: "baton_oldest_queued_age_seconds", factory: factory)
    }

    /// Metrics that go nowhere.
    public static let none = BatonMetrics(factory: NOOPMetricsHandler.instance)

    public func plansEnqueued(_ count: Int) { enqueued.increment(by: count) }

    /// A plan ended in `status`: after a run of `runDuration`, or (nil) canceled before it ran.
    func planEnded(status: PlanStatus, runDuration duration: Duration?) {
        finished[status]?.increment()
        if let duration { runDuration.recordNanoseconds(duration.wholeMilliseconds * 1_000_000) }
    }

    func dispatched(after latency: TimeInterval) {
        dispatchLatency.recordNanoseconds(Int64(max(0, latency) * 1e9))
    }

    func workers(busy: Int, total: Int) {
        workersBusy.record(busy)
        workersTotal.record(total)
    }

    func pollCycle(failed: Bool) {
        pollCycles.increment()
        if failed { pollErrors.increment() }
    }

    func restarted() { restarts.increment() }

    /// Sets the gauges read from the store, just before the metrics are shown.
    public func queue(_ counts: [PlanStatus: Int], oldestQueuedAge age: TimeInterval?) {
        for status in PlanStatus.allCases { queueDepth[status]?.record(counts[status] ?? 0) }
        oldestQueuedAge.record(age ?? 0)
    }
}
