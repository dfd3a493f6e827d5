import Foundation

// What the API answers (design §3 and §6), as the client reads it. Only the fields the CLI shows
// are modelled; `Reply.body` keeps the whole answer for `--json`.

/// A plan as the API shows it.
public struct PlanResource: Decodable, Sendable {
    /// Why a plan did not succeed.
    public struct Failure: Decodable, Sendable {
        /// `nonzero_exit`, `timeout`, `bad_result`, `script_not_found`, `canceled`, ... (design §3).
        public let kind: String
        /// What happened, for people.
        public let message: String
    }

    /// Assigned by the store, increasing.
    public let id: Int64
    /// A human label; by default derived from the entry point.
    public let name: String
    /// The entry point: exactly one of `script`, `module` and `code` is set.
    public let script: String?
    /// A module run with `python -m`.
    public let module: String?
    /// Inline source.
    public let code: String?
    /// 0 (most urgent) to 9.
    public let priority: Int
    /// How long a run may take.
    public let timeoutSeconds: Int
    /// Runs allowed for failed or timed-out runs.
    public let maxAttempts: Int
    /// Free tags for filtering.
    public let labels: [String: String]
    /// `scheduled`, `queued`, `running`, `succeeded`, `failed`, `timed_out` or `canceled`.
    public let status: String
    /// The current or last attempt, 0 before the first.
    public let attempt: Int
    /// RFC 3339 times, UTC with milliseconds.
    public let enqueuedAt: String
    /// When the last run started.
    public let startedAt: String?
    /// When the plan ended.
    public let finishedAt: String?
    /// Wall time of the last run.
    public let durationMs: Int64?
    /// The exit code of the last run's process, if it exited.
    public let exitCode: Int?
    /// The signal that killed the last run's process, if one did.
    public let signal: Int?
    /// Why the plan did not succeed.
    public let error: Failure?
    /// The name of the token that enqueued it.
    public let triggeredBy: String

    /// Whether the plan will never change again.
    public var isTerminal: Bool { PlanResource.terminalStatuses.contains(status) }

    /// The statuses a plan ends in.
    public static let terminalStatuses: Set<String> = ["succeeded", "failed", "timed_out", "canceled"]

    /// The entry point as given: the script path, `-m module`, or `inline code`.
    public var entryPoint: String {
        if let script { return script }
        if let module { return "-m \(module)" }
        return "inline code"
    }
}

/// One page of `GET /plans`.
public struct PlanPage: Decodable, Sendable {
    /// Newest first.
    public let plans: [PlanResource]
    /// Pass as `cursor` for the next page; nil on the last.
    public let nextCursor: Int64?
}

/// `GET /orchestrator`: the serving node's orchestrator (design §6); pause and resume answer
/// with it too, plus what each node did.
public struct OrchestratorState: Decodable, Sendable {
    /// The worker pool.
    public struct Workers: Decodable, Sendable {
        /// Plans that may run at once.
        public let total: Int
        /// Plans running now.
        public let busy: Int
        /// Their ids.
        public let running: [Int64]
    }

    /// The interpreter plans run with.
    public struct Python: Decodable, Sendable {
        /// Its real path.
        public let path: String
        /// e.g. `3.11.7`.
        public let version: String
    }

    /// The serving node's name.
    public let node: String?
    /// `running`, `paused`, `draining`, `restarting` or `stopped`.
    public let state: String
    /// 1 at start, one more at each restart.
    public let generation: Int
    /// When this generation started.
    public let startedAt: String?
    /// When the queue was last polled.
    public let lastPollAt: String?
    /// When it will be polled next at the latest.
    public let nextPollAt: String?
    /// The last poll cycle's error, if it failed.
    public let lastError: String?
    /// The worker pool.
    public let workers: Workers
    /// Plans by status.
    public let queue: [String: Int]
    /// The interpreter, once checked.
    public let python: Python?
    /// After pause and resume: what each node reached did.
    public let nodes: [NodeAnswer]?
}

/// `POST /orchestrator/poll`.
public struct PollReport: Decodable, Sendable {
    /// The plans this poll claimed and started.
    public let claimed: [Int64]
    /// Plans by status after the poll.
    public let queue: [String: Int]
    /// When the poll ran.
    public let polledAt: String
    /// The serving node's orchestrator state; `paused` claims nothing.
    public let state: String
    /// What each node reached did.
    public let nodes: [NodeAnswer]?
}

/// `POST /orchestrator/restart`: the serving node's new generation and what happened to its
/// running plans (absent when it was not among the nodes restarted), and every node's answer.
public struct RestartReport: Decodable, Sendable {
    /// The new generation.
    public let generation: Int?
    /// Plans that finished while draining.
    public let drained: [Int64]?
    /// Plans handed back to the queue.
    public let requeued: [Int64]?
    /// The interpreter the new generation checked.
    public let python: OrchestratorState.Python?
    /// What each node restarted did.
    public let nodes: [NodeAnswer]?
}

/// A token as `GET /tokens` lists it; never its secret.
public struct TokenResource: Decodable, Sendable {
    /// The token's id, for `DELETE /tokens/{id}`.
    public let id: Int64
    /// Who or what uses it.
    public let name: String
    /// `viewer`, `producer` or `admin`.
    public let role: String
    /// When it was made.
    public let createdAt: String
    /// When it last authenticated a request.
    public let lastUsedAt: String?
    /// When it was revoked; nil while it works.
    public let revokedAt: String?
}

/// `GET /tokens`.
public struct TokenList: Decodable, Sendable {
    /// Every token, revoked ones included.
    public let tokens: [TokenResource]
}

/// `POST /tokens`: the new token with its secret, shown only this once.
public struct CreatedToken: Decodable, Sendable {
    /// The token's id.
    public let id: Int64
    /// Who or what uses it.
    public let name: String
    /// `viewer`, `producer` or `admin`.
    public let role: String
    /// The secret for `Authorization: Bearer`.
    public let token: String
    /// When it was made.
    public let createdAt: String
}

/// `GET /health`.
public struct HealthReport: Decodable, Sendable {
    /// `ok` or `unhealthy`.
    public let status: String
    /// The failing parts, named.
    public let problems: [String]
    /// The orchestrator's state, if the database answered.
    public let orchestrator: String?
    /// The interpreter's version.
    public let pythonVersion: String?
    /// The server's Baton version.
    public let version: String
    /// Whether plans run in a sandbox; absent from servers older than the sandbox.
    public let sandbox: SandboxState?

    /// `on` with who plans run as and their limits, or `off` with the reason.
    public struct SandboxState: Decodable, Sendable {
        public let state: String
        public let reason: String?
        public let detail: String?
    }
}

/// An answer of the API: the decoded value and the JSON exactly as the server sent it.
public struct Reply<Value: Sendable>: Sendable {
    /// The answer, decoded.
    public let value: Value
    /// The answer as the server sent it.
    public let body: Data
    /// The HTTP status, e.g. 200 for an enqueue that matched an idempotency key, 201 for a new plan.
    public let status: Int
}
