import Foundation

/// A JSON document kept exactly as it was written.
///
/// Plan input is handed to the child byte for byte as the producer sent it: re-encoding could
/// turn `123` into `123.0`, reorder keys or respell numbers.
public struct JSONText: Sendable, Hashable, CustomStringConvertible {
    /// The JSON text.
    public let text: String

    /// `{}`, the default plan input.
    public static let emptyObject = JSONText(unchecked: "{}")

    /// Wraps `text` after checking that it is one well-formed JSON value.
    public init(validating text: String) throws(JSONTextError) {
        guard (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) != nil else {
            throw JSONTextError(text: text)
        }
        self.text = text
    }

    /// Wraps text already known to be JSON (read back from the store, or just encoded).
    public init(unchecked text: String) {
        self.text = text
    }

    public var description: String { text }

    /// Appends `string` as a JSON string literal (RFC 8259 §7) to `text`.
    public static func appendQuoted(_ string: String, to text: inout String) {
        text += "\""
        // Most strings (names, paths, timestamps) need no escape: append them whole.
        guard string.utf8.contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || $0 < 0x20 }) else {
            text += string
            text += "\""
            return
        }
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}

/// Text that is not one well-formed JSON value.
public struct JSONTextError: Error, CustomStringConvertible {
    public let text: String
    public var description: String { "not a well-formed JSON value: \(text.prefix(80))" }
}
