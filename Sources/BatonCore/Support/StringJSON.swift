import Foundation

/// JSON text for the string lists and string maps stored in plan columns (`args`, `env`,
/// `labels`), the same in every store.
///
/// Foundation's `JSONEncoder`/`JSONDecoder` dominated the cost of an enqueue and of reading a
/// page of plans; these shapes need only string escaping (RFC 8259 §7) one way and
/// `JSONSerialization` the other.
public enum StringJSON {
    public static func encode(_ strings: [String]) -> String {
        guard !strings.isEmpty else { return "[]" }
        var text = "["
        for (index, string) in strings.enumerated() {
            if index > 0 { text += "," }
            JSONText.appendQuoted(string, to: &text)
        }
        return text + "]"
    }

    /// Keys are written sorted, so equal maps are stored as equal text.
    public static func encode(_ map: [String: String]) -> String {
        guard !map.isEmpty else { return "{}" }
        var text = "{"
        for (index, key) in map.keys.sorted().enumerated() {
            if index > 0 { text += "," }
            JSONText.appendQuoted(key, to: &text)
            text += ":"
            JSONText.appendQuoted(map[key]!, to: &text)
        }
        return text + "}"
    }

    public static func decodeList(_ text: String) throws -> [String] {
        if text == "[]" { return [] }
        guard let list = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String] else {
            throw StringJSONError(text: text)
        }
        return list
    }

    public static func decodeMap(_ text: String) throws -> [String: String] {
        if text == "{}" { return [:] }
        guard let map = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String] else {
            throw StringJSONError(text: text)
        }
        return map
    }
}

/// A stored column that is not the string list or map it should be: the database was changed
/// by hand, or is damaged.
public struct StringJSONError: Error, CustomStringConvertible {
    public let text: String
    public var description: String { "a stored list or map of strings is not valid: \(text.prefix(80))" }
}
