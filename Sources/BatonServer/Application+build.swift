import BatonCore
import Hummingbird
import Logging

/// The HTTP API of Baton (design §6) over a node's queue and orchestrator. `baton serve` runs it
/// as the last service of the node's `ServiceGroup` (``BatonNode/serviceGroup(then:gracefulShutdownSignals:logger:)``);
/// tests drive it with Hummingbird's test client. `onListening` is called with the port once the
/// server accepts connections (the one it picked, when configured with port 0).
///
/// Routes are grouped by the role they need, so who may call what reads in one place:
/// health and the Prometheus `/metrics` need no token; reading needs `viewer`; enqueueing, cancelling and polling need
/// `producer`; pausing, resuming, restarting, tokens, the audit log, pruning and environments need `admin`.
public func buildApplication(
    configuration: ServerConfiguration,
    node: BatonNode,
    metrics: ServerMetrics,
    logger: Logger = Logger(label: "baton.http"),
    onListening: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let tokens = node.store
    let router = Router(context: BatonRequestContext.self)
    let allowedMethods = AllowedMethods()
    router.add(middleware: ProblemMiddleware(allowedMethods: allowedMethods))
    let api = router.group("api/v1")
    let usage = TokenUsage()
    let cache = TokenCache()
    func requiring(_ role: TokenRole) -> RouterGroup<BatonRequestContext> {
        api.group().add(middleware: TokenAuthenticator(minimum: role, tokens: tokens, usage: usage, cache: cache))
    }
    let (viewer, producer, admin) = (requiring(.viewer), requiring(.producer), requiring(.admin))

    HealthController(orchestrator: node.orchestrator, sandbox: configuration.sandbox).addRoutes(to: api)
    PlansController(queue: node.queue, orchestrator: node.orchestrator, configuration: configuration)
        .addRoutes(viewer: viewer, producer: producer)
    OrchestratorController(node: node, configuration: configuration)
        .addRoutes(viewer: viewer, producer: producer, admin: admin)
    ClusterController(node: node, configuration: configuration).addRoutes(viewer: viewer, admin: admin)
    EnvironmentsController(environments: configuration.environments, audit: node.store, configuration: configuration).addRoutes(admin: admin)
    TokensController(tokens: tokens, audit: node.store, cache: cache, configuration: configuration).addRoutes(admin: admin)
    MetricsController(store: node.store, serverMetrics: metrics).addRoutes(root: router, viewer: viewer)
    allowedMethods.learn(from: router)
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "Baton"),
        onServerRunning: { channel in await onListening(channel.localAddress?.port ?? configuration.port) },
        logger: logger
    )
}
