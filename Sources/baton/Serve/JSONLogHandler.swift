import Foundation
import Logging

/// Writes each log record as one JSON object per line on stderr (`--log-format json`), for log
/// collectors: `ts`, `level`, `logger`, `message`, and the metadata as string fields.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var record: [String: String] = [:]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            record[key] = "\(value)"
        }
        if let error = event.error { record["error"] = "\(error)" }
        record["ts"] = Self.timestamp()
        record["level"] = event.level.rawValue
        record["logger"] = label
        record["message"] = "\(event.message)"
        guard var json = try? JSONSerialization.data(withJSONObject: record, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        json.append(UInt8(ascii: "\n"))
        try? FileHandle.standardError.write(contentsOf: json)
    }

    private static func timestamp() -> String {
        Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
