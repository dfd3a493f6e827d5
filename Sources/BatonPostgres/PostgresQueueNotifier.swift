import BatonCore
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// ``QueueSignal``s between the nodes that share one PostgreSQL database (design §10).
///
/// A signal reaches this node's orchestrator at once, and every other node through `NOTIFY` on
/// the channel `baton_queue` — sent after the change's commit, as ``PlanQueue`` sends every
/// signal. Each node listens on a connection of its own and skips the notifications it sent.
/// While that connection is down, other nodes' signals are missed: the regular poll finds their
/// plans, the lease keeper their cancels, and a listener that is back wakes the orchestrator once
/// to catch up.
public final class PostgresQueueNotifier: QueueNotifier, Service {
    static let channel = "baton_queue"

    private let client: PostgresClient
    private let local = LocalQueueNotifier()
    /// Tells this node's notifications from the others'.
    private let sender = String(UUID().uuidString.prefix(8)).lowercased()
    private let logger: Logger

    public init(store: PostgresPlanStore, logger: Logger = Logger(label: "baton.notifier")) {
        client = store.client
        self.logger = logger
    }

    public func send(_ signal: QueueSignal) {
        local.send(signal)
        let payload = Self.payload(of: signal, from: sender)
        let (client, logger) = (client, logger)
        Task {
            do {
                try await client.query("SELECT pg_notify(\(Self.channel), \(payload))", logger: logger)
            } catch {
                logger.warning("cannot tell the other nodes about a queue change; they see it at their next poll",
                               metadata: ["signal": "\(payload)", "error": "\(error)"])
            }
        }
    }

    public func signals() -> AsyncStream<QueueSignal> {
        local.signals()
    }

    /// Listens until graceful shutdown, connecting again with backoff when the connection drops.
    public func run() async {
        var failures = 0
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: Self.channel) { notifications in
                        if failures > 0 {
                            logger.info("listening for other nodes' queue changes again")
                            local.send(.plansAvailable)
                        }
                        failures = 0
                        for try await notification in notifications.cancelOnGracefulShutdown() {
                            if let signal = Self.signal(in: notification.payload, skipping: sender) { local.send(signal) }
                        }
                    }
                }
                return  // graceful shutdown ended the listening
            } catch {
                if Task.isCancelled { return }
                failures += 1
                let pause = Duration.milliseconds(200) * (1 << min(failures, 5))
                logger.warning("cannot listen for other nodes' queue changes; trying again (polls still find their plans)",
                               metadata: ["error": "\(error)", "retry.in": "\(pause)"])
                try? await Task.sleep(for: pause)
            }
        }
    }

    /// `<sender> available`, `<sender> control`, or `<sender> cancel <plan id> <actor>`.
    static func payload(of signal: QueueSignal, from sender: String) -> String {
        switch signal {
        case .plansAvailable: "\(sender) available"
        case .cancelRequested(let planID, let actor): "\(sender) cancel \(planID) \(actor)"
        case .controlIssued: "\(sender) control"
        }
    }

    /// The signal in a payload another node sent; nil for this node's own, or an unknown form.
    static func signal(in payload: String, skipping sender: String) -> QueueSignal? {
        let parts = payload.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 2, parts[0] != sender else { return nil }
        switch parts[1] {
        case "available":
            return .plansAvailable
        case "control":
            return .controlIssued
        case "cancel" where parts.count == 4:
            return Int64(parts[2]).map { .cancelRequested(planID: $0, actor: parts[3]) }
        default:
            return nil
        }
    }
}
