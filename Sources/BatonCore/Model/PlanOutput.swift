/// One of a child's two output streams.
public enum StandardStream: String, Sendable, Hashable, CaseIterable, Codable {
    case stdout
    case stderr
}

/// The stored output of one stream of one run.
public struct PlanOutput: Sendable, Hashable {
    /// What was kept: at most the store's cap.
    public var bytes: [UInt8]
    /// How many bytes past the cap were dropped.
    public var droppedBytes: Int64

    public init(bytes: [UInt8], droppedBytes: Int64) {
        self.bytes = bytes
        self.droppedBytes = droppedBytes
    }

    /// The output as text, with a `[... N bytes truncated ...]` notice where bytes were dropped.
    public var text: String {
        let kept = String(decoding: bytes, as: UTF8.self)
        guard droppedBytes > 0 else { return kept }
        let separator = kept.isEmpty || kept.hasSuffix("\n") ? "" : "\n"
        return kept + separator + "[... \(droppedBytes) bytes truncated ...]\n"
    }
}
