/// Keeps the first and last bytes of a stream within a cap, however much the stream carries.
///
/// A run's output can be far larger than what is worth storing (a test suite stuck printing in a
/// loop); the head says how it started, the tail how it ended. Memory stays within about twice the
/// cap whatever the input.
public struct CapturedOutput: Sendable, Hashable {
    /// How many bytes may be kept in all.
    public let cap: Int
    private var head: [UInt8] = []
    private var tail: [UInt8] = []
    /// Bytes of the stream seen so far.
    public private(set) var totalBytes: Int64 = 0

    public init(cap: Int) {
        self.cap = max(cap, 0)
    }

    private var headCap: Int { cap - cap / 2 }
    private var tailCap: Int { cap / 2 }

    public mutating func append(_ bytes: some Collection<UInt8>) {
        totalBytes += Int64(bytes.count)
        var rest = bytes[...]
        if head.count < headCap {
            let taken = rest.prefix(headCap - head.count)
            head.append(contentsOf: taken)
            rest = rest.dropFirst(taken.count)
        }
        guard !rest.isEmpty, tailCap > 0 else { return }
        tail.append(contentsOf: rest.suffix(tailCap))
        // Trim in bulk, so each byte is moved a bounded number of times.
        if tail.count > 2 * tailCap {
            tail.removeFirst(tail.count - tailCap)
        }
    }

    /// Bytes dropped between the head and the tail.
    public var droppedBytes: Int64 {
        totalBytes - Int64(head.count) - Int64(min(tail.count, tailCap))
    }

    /// What was kept, in order, with `[... N bytes truncated ...]` where bytes were dropped.
    public var bytes: [UInt8] {
        let keptTail = tail.suffix(tailCap)
        guard droppedBytes > 0 else { return head + keptTail }
        var notice = "[... \(droppedBytes) bytes truncated ...]\n"
        if head.last != UInt8(ascii: "\n") { notice = "\n" + notice }
        return head + Array(notice.utf8) + keptTail
    }

    public var text: String { String(decoding: bytes, as: UTF8.self) }
}
