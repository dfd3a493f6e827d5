import BatonCore
import Foundation
import Hummingbird
import ServiceLifecycle

/// `/api/v1/plans`: enqueue, list, read, wait for, cancel; output and steps (design §6).
///
/// Every change goes through the ``PlanQueue``, which publishes what follows it (live notices,
/// metrics, wake-ups); reads go to the store.
struct PlansController: Sendable {
    let queue: PlanQueue
    let orchestrator: Orchestrator
    let configuration: ServerConfiguration

    private var store: any PlanStore { queue.store }
    private var bus: EventBus { queue.bus }

    func addRoutes(viewer: RouterGroup<BatonRequestContext>, producer: RouterGroup<BatonRequestContext>) {
        producer.post("plans", use: create)
        producer.post("plans/batch", use: createBatch)
        viewer.get("plans", use: list)
        viewer.get("plans/:id", use: show)
        producer.post("plans/:id/cancel", use: cancel)
        viewer.get("plans/:id/output", use: output)
        viewer.get("plans/:id/steps", use: steps)
        viewer.get("plans/:id/events", use: events)
    }

    @Sendable func events(request: Request, context: BatonRequestContext) async throws -> Response {
        try await PlanEventStream(store: store, bus: bus, orchestrator: orchestrator)
            .response(for: try planID(context), resumingAt: .init(request.headers[.lastEventID]))
    }

    @Sendable func create(request: Request, context: BatonRequestContext) async throws -> Response {
        let body = try await request.jsonBody(limit: configuration.maxBodyBytes)
        let spec = try PlanSpec(request: body, triggeredBy: context.triggeredBy)
        let result = try await queue.enqueue(spec)
        guard result.created else { return .json(result.plan.responseJSON) }
        return .json(result.plan.responseJSON, status: .created, headers: [.location: "/api/v1/plans/\(result.plan.id)"])
    }

    @Sendable func createBatch(request: Request, context: BatonRequestContext) async throws -> Response {
        let body = try await request.jsonBody(limit: configuration.maxBodyBytes)
        let members = try body.members()
        guard body.kind == .object, let plans = members.first(where: { $0.key == "plans" })?.value, plans.kind == .array else {
            throw PlanValidationError(field: "plans", message: "the body must be {\"plans\": [plan, ...]}")
        }
        if let unknown = members.first(where: { $0.key != "plans" }) {
            throw PlanValidationError(field: unknown.key, message: "is not a batch field; the body is {\"plans\": [plan, ...]}")
        }
        let elements = try plans.elements()
        let policy = queue.policy
        guard elements.count <= policy.maxBatchSize else {
            throw PlanValidationError(field: "plans", message: "a batch holds at most \(policy.maxBatchSize) plans; got \(elements.count)")
        }
        var specs: [PlanSpec] = []
        var issues: [PlanValidationError.Issue] = []
        // Every plan is checked, so one answer lists every problem of the batch.
        for (index, element) in elements.enumerated() {
            do {
                let spec = try PlanSpec(request: element, field: "plans[\(index)].", triggeredBy: context.triggeredBy)
                do {
                    try QueueRules.validate(spec, policy: policy)
                } catch {
                    issues += error.nested(under: "plans[\(index)].").issues
                }
                specs.append(spec)
            } catch {
                issues += error.issues
            }
        }
        guard issues.isEmpty else { throw PlanValidationError(issues: issues) }
        let results = try await queue.enqueueBatch(specs)
        var json = JSONWriter()
        json.array("plans", results.map(\.plan.responseJSON))
        return .json(json.finished, status: .created)
    }

    @Sendable func list(request: Request, context: BatonRequestContext) async throws -> Response {
        let parameters = request.uri.queryParameters
        var query = PlanQuery()
        var issues: [PlanValidationError.Issue] = []
        for value in parameters.getAll("status") {
            for name in value.split(separator: ",") {
                if let status = PlanStatus(rawValue: String(name)) {
                    query.statuses.insert(status)
                } else {
                    issues.append(.init(field: "status", message: "unknown status \(name); use \(PlanStatus.allCases.map(\.rawValue).joined(separator: ", "))"))
                }
            }
        }
        for label in parameters.getAll("label") {
            let parts = label.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else {
                issues.append(.init(field: "label", message: "must be key:value, got \(label)"))
                continue
            }
            guard query.labels[String(parts[0])] == nil else {
                issues.append(.init(field: "label", message: "label \(parts[0]) is given twice; a plan has one value per label"))
                continue
            }
            query.labels[String(parts[0])] = String(parts[1])
        }
        if query.labels.count > PlanSpec.Bounds.maxLabels {
            issues.append(.init(field: "label", message: "at most \(PlanSpec.Bounds.maxLabels) label filters (a plan has no more labels)"))
        }
        query.nameContains = parameters.get("q")
        if let limit = parameters.get("limit") {
            if let number = Int(limit), (1...PlanQuery.maxLimit).contains(number) {
                query.limit = number
            } else {
                issues.append(.init(field: "limit", message: "must be a whole number from 1 to \(PlanQuery.maxLimit)"))
            }
        }
        if let cursor = parameters.get("cursor") {
            if let number = Int64(cursor), number > 0 { query.cursor = number } else {
                issues.append(.init(field: "cursor", message: "must be the next_cursor of an earlier page"))
            }
        }
        guard issues.isEmpty else { throw PlanValidationError(issues: issues) }
        let page = try await store.plans(matching: query)
        var json = JSONWriter()
        json.array("plans", page.plans.map(\.responseJSON))
        json.int("next_cursor", page.nextCursor)
        return .json(json.finished)
    }

    @Sendable func show(request: Request, context: BatonRequestContext) async throws -> Response {
        let id = try planID(context)
        guard let wait = request.uri.queryParameters.get("wait") else {
            return .json(try await requirePlan(id).responseJSON)
        }
        guard let seconds = Double(wait), seconds >= 0, seconds.isFinite else {
            throw PlanValidationError(field: "wait", message: "must be a number of seconds; a value above \(Int(configuration.maxWait.timeInterval)) waits \(Int(configuration.maxWait.timeInterval))")
        }
        // Clamped as a number first: a huge value would not fit in a Duration.
        let limit = Duration.seconds(min(seconds, configuration.maxWait.timeInterval))
        return .json(try await waitForEnd(of: id, within: limit).responseJSON)
    }

    @Sendable func cancel(request: Request, context: BatonRequestContext) async throws -> Response {
        let result = try await queue.cancel(try planID(context), actor: context.triggeredBy)
        return .json(result.plan.responseJSON)
    }

    @Sendable func output(request: Request, context: BatonRequestContext) async throws -> Response {
        let id = try planID(context)
        let streams: [StandardStream]
        switch request.uri.queryParameters.get("stream") {
        case nil: streams = [.stdout, .stderr]
        case let name?:
            guard let stream = StandardStream(rawValue: name) else {
                throw PlanValidationError(field: "stream", message: "must be stdout or stderr")
            }
            streams = [stream]
        }
        var text = ""
        for stream in streams {
            text += try await store.output(of: id, stream: stream, attempt: nil).text
        }
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    @Sendable func steps(request: Request, context: BatonRequestContext) async throws -> Response {
        let steps = try await store.steps(of: try planID(context))
        var json = JSONWriter()
        json.array("steps", steps.map(\.responseJSON))
        return .json(json.finished)
    }

    // MARK: Helpers

    private func planID(_ context: BatonRequestContext) throws -> Int64 {
        guard let id = context.parameters.get("id", as: Int64.self), id > 0 else {
            throw Problem(.notFound, "Plan not found", detail: "plan ids are positive whole numbers")
        }
        return id
    }

    private func requirePlan(_ id: Int64) async throws -> Plan {
        guard let plan = try await store.plan(id) else { throw PlanStoreError.planNotFound(id) }
        return plan
    }

    /// Holds until the plan is terminal or `limit` passes. The subscription comes before the
    /// first read, so an end in between is not missed; an `end` notice from this process ends the
    /// wait at once; the store is checked every few seconds for plans run by another node; and a
    /// graceful shutdown ends the wait (with the plan as it is) so it never holds the server up.
    private func waitForEnd(of id: Int64, within limit: Duration) async throws -> Plan {
        let notices = bus.subscribe(planID: id, buffer: 1024)
        let plan = try await requirePlan(id)
        guard !plan.status.isTerminal, limit > .zero else { return plan }
        let store = store
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await notice in notices { if case .end = notice { return } }
                try? await Task.sleep(for: limit)  // dropped: leave it to the store checks
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(3))
                    if let current = try? await store.plan(id), current.status.isTerminal { return }
                }
            }
            group.addTask { try? await Task.sleep(for: limit) }
            group.addTask { try? await gracefulShutdown() }
            await group.next()
            group.cancelAll()
        }
        return try await requirePlan(id)
    }
}

extension BatonRequestContext {
    /// Who the request acts for, as recorded on plans and events: the token's name.
    var triggeredBy: String { identity?.name ?? "api" }
}

extension PlanStep {
    var responseJSON: String {
        var json = JSONWriter()
        json.string("name", name)
        json.string("status", status)
        json.string("started_at", startedAt.map(Timestamp.format))
        json.string("finished_at", finishedAt.map(Timestamp.format))
        json.int("duration_ms", durationMs)
        if let input { json.raw("input", input.text) } else { json.null("input") }
        if let output { json.raw("output", output.text) } else { json.null("output") }
        json.string("error", error)
        return json.finished
    }
}
