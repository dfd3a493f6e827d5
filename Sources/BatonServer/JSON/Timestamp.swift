import Foundation

/// Timestamps as the API writes them (RFC 3339, UTC, milliseconds) and reads them.
enum Timestamp {
    private static let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private static let withoutFraction = Date.ISO8601FormatStyle()

    /// `2026-11-21T10:15:30.123Z`
    static func format(_ date: Date) -> String {
        withFraction.format(date)
    }

    /// Reads an RFC 3339 timestamp, with or without fractional seconds.
    static func parse(_ text: String) -> Date? {
        (try? withFraction.parse(text)) ?? (try? withoutFraction.parse(text))
    }
}
