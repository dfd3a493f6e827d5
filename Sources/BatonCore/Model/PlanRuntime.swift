import Foundation

/// What a plan asks of the place it runs in (design §11): whether it may use the network, lower
/// resource limits than the server's, and the Python packages it needs. Each applies when plans
/// run sandboxed; the defaults ask for nothing.
public struct PlanRuntime: Sendable, Hashable {
    /// `false` runs the plan with no network at all, not even loopback (`"network": false`).
    public var network: Bool
    /// Lower limits than the server's (`limits`).
    public var limits: PlanResourceRequest?
    /// pip requirement strings (`requirements`), such as `"httpx==0.27.*"`.
    public var requirements: [String]
    /// A requirements file in the workspace (`requirements_file`).
    public var requirementsFile: String?

    public init(network: Bool = true, limits: PlanResourceRequest? = nil, requirements: [String] = [], requirementsFile: String? = nil) {
        self.network = network
        self.limits = limits
        self.requirements = requirements
        self.requirementsFile = requirementsFile
    }

    /// Whether the plan asks for packages of its own, and so runs in an environment Baton builds.
    public var needsEnvironment: Bool { !requirements.isEmpty || requirementsFile != nil }
}

/// Resource limits a plan asks for; each lowers the server's (`--plan-memory`,
/// `--plan-processes`), never raises it.
public struct PlanResourceRequest: Sendable, Hashable {
    public var memoryMB: Int?
    public var processes: Int?

    public init(memoryMB: Int? = nil, processes: Int? = nil) {
        self.memoryMB = memoryMB
        self.processes = processes
    }

    public static let memoryMBRange = 16...1_048_576
    public static let processesRange = 1...65_536
}

extension PlanRuntime {
    /// The runtime as both stores keep it: one JSON object in the API's field names, `nil` when
    /// it asks for nothing.
    public var storedJSON: String? {
        guard self != PlanRuntime() else { return nil }
        var object: [String: Any] = [:]
        if !network { object["network"] = false }
        if let limits {
            var fields: [String: Any] = [:]
            if let memory = limits.memoryMB { fields["memory_mb"] = memory }
            if let processes = limits.processes { fields["processes"] = processes }
            object["limits"] = fields
        }
        if !requirements.isEmpty { object["requirements"] = requirements }
        if let requirementsFile { object["requirements_file"] = requirementsFile }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// The runtime a store read back; `nil` or text it cannot read is the default.
    public init(storedJSON: String?) {
        self.init()
        guard let storedJSON, let object = try? JSONSerialization.jsonObject(with: Data(storedJSON.utf8)) as? [String: Any] else { return }
        network = object["network"] as? Bool ?? true
        if let fields = object["limits"] as? [String: Any] {
            limits = PlanResourceRequest(memoryMB: fields["memory_mb"] as? Int, processes: fields["processes"] as? Int)
        }
        requirements = object["requirements"] as? [String] ?? []
        requirementsFile = object["requirements_file"] as? String
    }
}
