/// Finds the last complete result block in a stream of stdout chunks, as they arrive:
///
///     __BATON_RESULT_START__
///     {"status": "success", "output": {...}}
///     __BATON_RESULT_END__
///
/// Each marker must stand alone on its line (surrounding spaces allowed). Scanning the stream
/// itself, not the stored copy, means a result printed after megabytes of output is still found.
/// Memory stays bounded: lines outside a block are only compared with the markers, and a block
/// larger than `maxBlockBytes` is remembered as too large rather than kept.
struct ResultBlockScanner {
    static let startMarker = Array("__BATON_RESULT_START__".utf8)
    static let endMarker = Array("__BATON_RESULT_END__".utf8)

    /// What the last complete block held.
    enum Block: Equatable {
        case text(String)
        case tooLarge(bytes: Int)
    }

    let maxBlockBytes: Int
    private(set) var lastBlock: Block?
    /// The current line so far, outside a block: only as much as a marker could need.
    private var line: [UInt8] = []
    private var lineOverflowed = false
    private var block: [UInt8]?
    private var blockBytes = 0

    static let defaultMaxBlockBytes = 8 << 20

    init(maxBlockBytes: Int = defaultMaxBlockBytes) {
        self.maxBlockBytes = maxBlockBytes
    }

    private static let markerWindow = 256

    mutating func scan(_ chunk: some Collection<UInt8>) {
        var rest = chunk[...]
        while !rest.isEmpty {
            if let newline = rest.firstIndex(of: UInt8(ascii: "\n")) {
                take(rest[..<newline])
                endLine()
                rest = rest[rest.index(after: newline)...]
            } else {
                take(rest)
                rest = rest[rest.endIndex...]
            }
        }
    }

    /// The stream ended: a last line without a newline still counts.
    mutating func finish() {
        if !line.isEmpty || lineOverflowed { endLine() }
    }

    private mutating func take(_ bytes: some Collection<UInt8>) {
        if line.count + bytes.count <= Self.markerWindow {
            line.append(contentsOf: bytes)
        } else {
            line.append(contentsOf: bytes.prefix(max(0, Self.markerWindow - line.count)))
            lineOverflowed = true
        }
        if block != nil {
            appendToBlock(bytes)
        }
    }

    private mutating func appendToBlock(_ bytes: some Collection<UInt8>) {
        blockBytes += bytes.count
        if blockBytes <= maxBlockBytes {
            block?.append(contentsOf: bytes)
        }
    }

    private mutating func endLine() {
        let trimmed = lineOverflowed ? nil : Self.trimmed(line)
        if trimmed == Self.startMarker[...] {
            block = []
            blockBytes = 0
        } else if trimmed == Self.endMarker[...], let current = block {
            // The END line's bytes were counted into the block as they came; the content is
            // what came before them, and what was kept is always a prefix of it.
            let contentBytes = blockBytes - line.count
            lastBlock = contentBytes <= maxBlockBytes
                ? .text(String(decoding: current.prefix(contentBytes), as: UTF8.self))
                : .tooLarge(bytes: contentBytes)
            block = nil
        } else if block != nil {
            appendToBlock(CollectionOfOne(UInt8(ascii: "\n")))
        }
        line.removeAll(keepingCapacity: true)
        lineOverflowed = false
    }

    private static func trimmed(_ bytes: [UInt8]) -> ArraySlice<UInt8> {
        let isSpace: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r") }
        var slice = bytes[...]
        while let first = slice.first, isSpace(first) { slice = slice.dropFirst() }
        while let last = slice.last, isSpace(last) { slice = slice.dropLast() }
        return slice
    }
}
