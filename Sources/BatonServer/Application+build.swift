import BatonCore
import Hummingbird
import Logging

/// The HTTP API of Baton (design §6) over `store` and `orchestrator`. `baton serve` runs it in a
/// `ServiceGroup` with the store and the orchestrator; tests drive it with Hummingbird's test
/// client.
public func buildApplication(
    configuration: ServerConfiguration,
    store: any PlanStore,
    orchestrator: Orchestrator,
    eventBus: EventBus,
    logger: Logger = Logger(label: "baton.http")
) -> some ApplicationProtocol {
    let router = Router(context: BatonRequestContext.self)
    router.add(middleware: ProblemMiddleware())
    let api = router.group("api/v1")
    HealthController(store: store, orchestrator: orchestrator).addRoutes(to: api)
    PlansController(store: store, orchestrator: orchestrator, bus: eventBus, configuration: configuration).addRoutes(to: api)
    OrchestratorController(orchestrator: orchestrator, configuration: configuration).addRoutes(to: api)
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "Baton"),
        logger: logger
    )
}
