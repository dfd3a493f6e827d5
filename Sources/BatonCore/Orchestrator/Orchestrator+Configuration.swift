import Foundation

extension Orchestrator {
    /// How the orchestrator polls, leases, retries and stops.
    public struct Configuration: Sendable {
        /// Plans running at once.
        public var workers = ProcessInfo.processInfo.activeProcessorCount
        /// Time between regular poll cycles (`--poll-interval`).
        public var pollInterval: Duration = .seconds(5)
        /// Each interval is stretched or shrunk by up to this fraction, so that several nodes
        /// do not poll in step.
        public var pollJitter = 0.1
        /// How long a claim holds a plan without a heartbeat (`--lease`).
        public var leaseDuration: Duration = .seconds(60)
        /// Time between heartbeats (`--heartbeat-interval`); a sixth of the lease unless set.
        public var heartbeatInterval: Duration?
        /// Delay before the first retry; it doubles for each further one, up to `maxRetryDelay`.
        public var retryBaseDelay: Duration = .seconds(1)
        public var maxRetryDelay: Duration = .seconds(300)
        /// How long graceful shutdown lets running plans finish before stopping and requeuing
        /// them (`--drain-timeout`).
        public var shutdownDrainTimeout: Duration = .seconds(30)
        /// How often a run's live output is written to the store.
        public var outputFlushInterval: Duration = .milliseconds(250)
        /// Live output kept per stream while a plan runs (the store's cap).
        public var liveOutputLimit = 1 << 20

        public init() {}

        /// The heartbeat interval in force.
        public var effectiveHeartbeatInterval: Duration { heartbeatInterval ?? leaseDuration / 6 }

        var retryPolicy: RetryPolicy { RetryPolicy(baseDelay: retryBaseDelay, maxDelay: maxRetryDelay) }
    }
}
