import Foundation

/// Which nodes a control command is for: `*` (every live node) or one node by name.
public enum NodeTarget: Sendable, Hashable, CustomStringConvertible {
    case all
    case named(String)

    /// `*` or a node's name.
    public init(_ text: String) {
        self = text == "*" ? .all : .named(text)
    }

    public var description: String {
        switch self {
        case .all: "*"
        case .named(let name): name
        }
    }

    public func includes(_ node: String) -> Bool {
        switch self {
        case .all: true
        case .named(let name): name == node
        }
    }
}

/// What an operator asks of orchestrators (design §6, §10).
public enum ControlAction: Sendable, Hashable {
    case poll, pause, resume
    case restart(RestartMode)

    /// The action's name in the API, the audit log and the database.
    public var name: String {
        switch self {
        case .poll: "poll"
        case .pause: "pause"
        case .resume: "resume"
        case .restart: "restart"
        }
    }

    /// The audit log's name for it.
    public var auditAction: AuditEntry.Action {
        switch self {
        case .poll: .poll
        case .pause: .pause
        case .resume: .resume
        case .restart: .restart
        }
    }
}

/// A control command addressed through the database to nodes other than the one that took the
/// request; each node it targets acts on it once and writes a ``ControlAnswer``.
public struct ControlCommand: Sendable, Hashable {
    public let id: Int64
    public let action: ControlAction
    public let target: NodeTarget
    /// The node that took the request.
    public let origin: String
    /// The token's name of who asked.
    public let issuedBy: String
    public let issuedAt: Date

    public init(id: Int64, action: ControlAction, target: NodeTarget, origin: String, issuedBy: String, issuedAt: Date) {
        self.id = id
        self.action = action
        self.target = target
        self.origin = origin
        self.issuedBy = issuedBy
        self.issuedAt = issuedAt
    }
}

/// What one node did about a control command.
public struct ControlAnswer: Sendable, Hashable, Codable {
    public var node: String
    /// The node's orchestrator state afterwards.
    public var state: String?
    /// `poll`: the plans it claimed.
    public var claimed: [Int64]?
    /// `restart`: the generation now running, plans that finished while draining, plans requeued.
    public var generation: Int?
    public var drained: [Int64]?
    public var requeued: [Int64]?
    /// Set when the node could not do it, or did not answer in time.
    public var error: String?

    public init(node: String, state: String? = nil, claimed: [Int64]? = nil, generation: Int? = nil,
                drained: [Int64]? = nil, requeued: [Int64]? = nil, error: String? = nil) {
        self.node = node
        self.state = state
        self.claimed = claimed
        self.generation = generation
        self.drained = drained
        self.requeued = requeued
        self.error = error
    }

    /// The answer of a node that did not answer within `deadline`.
    public static func noAnswer(from node: String, within deadline: Duration) -> ControlAnswer {
        ControlAnswer(node: node, error: "no answer within \(Int(deadline.timeInterval.rounded())) s (the node may be busy, or cut off from the database)")
    }

    /// How it is kept in the database.
    public var storedText: String {
        (try? String(decoding: Self.encoder.encode(self), as: UTF8.self)) ?? "{}"
    }

    /// The answer a node stored; `nil` for text no Baton wrote.
    public init?(storedText: String) {
        guard let answer = try? JSONDecoder().decode(ControlAnswer.self, from: Data(storedText.utf8)) else { return nil }
        self = answer
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()
}

extension ControlAction {
    /// Whether a stored restart is immediate, and its drain timeout: the columns a store keeps
    /// beside ``name``.
    public var storedRestart: (immediate: Bool, drainTimeoutMs: Int64?) {
        switch self {
        case .restart(.immediate): (true, nil)
        case .restart(.graceful(let timeout)): (false, timeout.wholeMilliseconds)
        case .poll, .pause, .resume: (false, nil)
        }
    }

    /// The action a store kept as ``name`` and ``storedRestart``; `nil` for a name no Baton wrote.
    public init?(storedName: String, immediate: Bool, drainTimeoutMs: Int64?) {
        switch storedName {
        case "poll": self = .poll
        case "pause": self = .pause
        case "resume": self = .resume
        case "restart": self = .restart(immediate ? .immediate : .graceful(drainTimeout: .milliseconds(drainTimeoutMs ?? 30_000)))
        default: return nil
        }
    }
}
