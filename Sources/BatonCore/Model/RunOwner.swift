import Foundation

/// The name a claim is made under: host, process, orchestrator instance and generation
/// (`build-7/4182/1f0c9a2e/g3`).
///
/// Recovery reads the host back, so it signals a lost run's process group only when the run was
/// on this host (another host's group ids mean nothing here).
public struct RunOwner: Sendable, Hashable, CustomStringConvertible {
    public let host: String
    public let processID: Int32
    /// Tells apart two orchestrators in one process (tests, benchmarks).
    public let instance: String
    public let generation: Int

    /// This process's owner name for `generation`.
    public init(instance: String, generation: Int) {
        host = Self.thisHost
        processID = getpid()
        self.instance = instance
        self.generation = generation
    }

    public var description: String { "\(host)/\(processID)/\(instance)/g\(generation)" }

    /// Whether a claim's owner name is one of this host's.
    public static func isOnThisHost(_ owner: String) -> Bool {
        owner.hasPrefix(thisHost + "/")
    }

    /// This host's name, as owners and node names carry it.
    public static let thisHost = ProcessInfo.processInfo.hostName.isEmpty ? "localhost" : ProcessInfo.processInfo.hostName
}
