import Logging
import ServiceLifecycle

/// Keeps a ``PlanStore`` open for the life of a `ServiceGroup` and closes it at shutdown.
///
/// Listed first in the group, it is shut down last: after the HTTP server has stopped taking
/// requests and the orchestrator has handed its running plans back, so every write that
/// shutdown causes still finds the store open.
public struct PlanStoreService: Service {
    public let store: any PlanStore
    private let logger: Logger

    public init(store: any PlanStore, logger: Logger = Logger(label: "baton.store")) {
        self.store = store
        self.logger = logger
    }

    public func run() async throws {
        // Returns on graceful shutdown; throws CancellationError if the group is cancelled,
        // and the store is closed either way.
        try? await gracefulShutdown()
        await store.close()
        logger.info("plan store closed")
    }
}
