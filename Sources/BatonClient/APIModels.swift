import Foundation

// What the API answers (design §3 and §6), as the client reads it. Only the fields the CLI shows
// are modelled; `Reply.body` keeps the whole answer for `--json`.

/// A plan as the API shows it.
public struct PlanResource: Decodable, Sendable {
    /// Why a plan did not succeed.
    public struct Failure: Decodable, Sendable {
        public let kind: String
        public let message: String
    }

    public let id: Int64
    public let name: String
    public let script: String?
    public let module: String?
    public let code: String?
    public let priority: Int
    public let timeoutSeconds: Int
    public let maxAttempts: Int
    public let labels: [String: String]
    public let status: String
    public let attempt: Int
    public let enqueuedAt: String
    public let startedAt: String?
    public let finishedAt: String?
    public let durationMs: Int64?
    public let exitCode: Int?
    public let signal: Int?
    public let error: Failure?
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
    public let plans: [PlanResource]
    public let nextCursor: Int64?
}

/// `GET /orchestrator`: the orchestrator's state (design §6).
public struct OrchestratorState: Decodable, Sendable {
    /// The worker pool.
    public struct Workers: Decodable, Sendable {
        public let total: Int
        public let busy: Int
        public let running: [Int64]
    }

    /// The interpreter plans run with.
    public struct Python: Decodable, Sendable {
        public let path: String
        public let version: String
    }

    public let state: String
    public let generation: Int
    public let startedAt: String?
    public let lastPollAt: String?
    public let nextPollAt: String?
    public let lastError: String?
    public let workers: Workers
    public let queue: [String: Int]
    public let python: Python?
}

/// `POST /orchestrator/poll`.
public struct PollReport: Decodable, Sendable {
    public let claimed: [Int64]
    public let queue: [String: Int]
    public let polledAt: String
    public let state: String
}

/// `POST /orchestrator/restart`: the new generation and what happened to the running plans.
public struct RestartReport: Decodable, Sendable {
    public let generation: Int
    public let drained: [Int64]
    public let requeued: [Int64]
    public let python: OrchestratorState.Python?
}

/// A token as `GET /tokens` lists it; never its secret.
public struct TokenResource: Decodable, Sendable {
    public let id: Int64
    public let name: String
    public let role: String
    public let createdAt: String
    public let lastUsedAt: String?
    public let revokedAt: String?
}

/// `GET /tokens`.
public struct TokenList: Decodable, Sendable {
    public let tokens: [TokenResource]
}

/// `POST /tokens`: the new token with its secret, shown only this once.
public struct CreatedToken: Decodable, Sendable {
    public let id: Int64
    public let name: String
    public let role: String
    public let token: String
    public let createdAt: String
}

/// `GET /health`.
public struct HealthReport: Decodable, Sendable {
    public let status: String
    public let problems: [String]
    public let orchestrator: String?
    public let pythonVersion: String?
    public let version: String
}

/// An answer of the API: the decoded value and the JSON exactly as the server sent it.
public struct Reply<Value: Sendable>: Sendable {
    public let value: Value
    public let body: Data
    /// The HTTP status, e.g. 200 for an enqueue that matched an idempotency key, 201 for a new plan.
    public let status: Int
}
