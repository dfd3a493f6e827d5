/// A cluster operation that cannot be done, with what to do about it.
public struct ClusterError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, for matching: `error.code == .unknownNode`.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String, Sendable, Hashable {
            case nameTaken = "node_name_taken"
            case unknownNode = "unknown_node"
            case nodeGone = "node_gone"
        }

        private let value: Value

        /// Another live node uses this node's name.
        public static let nameTaken = Code(value: .nameTaken)
        /// A command named a node the store does not know.
        public static let unknownNode = Code(value: .unknownNode)
        /// A command named a node that stopped or is lost.
        public static let nodeGone = Code(value: .nodeGone)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    public static func nameTaken(_ name: String) -> ClusterError {
        ClusterError(.nameTaken, "another live node is named \(name); give each node its own --node-name (or wait one lease if that node is gone)")
    }

    public static func unknownNode(_ name: String, known: [String]) -> ClusterError {
        ClusterError(.unknownNode, "no node is named \(name); live nodes: \(known.isEmpty ? "none" : known.joined(separator: ", ")) (see GET /api/v1/nodes)")
    }

    public static func nodeGone(_ name: String, state: NodeState) -> ClusterError {
        ClusterError(.nodeGone, "node \(name) is \(state.rawValue) and takes no commands (see GET /api/v1/nodes)")
    }
}
