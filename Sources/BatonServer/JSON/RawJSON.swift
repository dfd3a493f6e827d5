/// Finds the parts of a JSON document without re-encoding anything.
///
/// A plan's `input` must reach the child exactly as the producer wrote it — `1.50` stays
/// `1.50`, key order stays — so request bodies are not decoded and re-encoded as a whole.
/// `RawJSON` checks that a document is well-formed and splits objects into members and arrays
/// into elements, each as the exact text it was sent as; typed fields are then decoded from
/// their own text.
struct RawJSON {
    /// Where and why a document is not well-formed.
    struct SyntaxError: Error, CustomStringConvertible {
        let offset: Int
        let reason: String
        var description: String { "malformed JSON at byte \(offset): \(reason)" }
    }

    enum Kind: Equatable {
        case object, array, string, number, literal
    }

    /// The whole text of one value.
    let bytes: ArraySlice<UInt8>

    var kind: Kind {
        switch bytes.first {
        case UInt8(ascii: "{"): .object
        case UInt8(ascii: "["): .array
        case UInt8(ascii: "\""): .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"): .literal
        default: .number
        }
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }

    var isNull: Bool { bytes.elementsEqual("null".utf8) }

    /// `true` or `false`, or `nil` if it is something else.
    var boolValue: Bool? {
        if bytes.elementsEqual("true".utf8) { return true }
        if bytes.elementsEqual("false".utf8) { return false }
        return nil
    }

    /// The string this value holds, or `nil` if it is not a string. Strings without escapes —
    /// nearly all — are read straight from the bytes.
    var stringValue: String? {
        guard kind == .string else { return nil }
        let inner = bytes.dropFirst().dropLast()
        guard inner.contains(UInt8(ascii: "\\")) else { return String(decoding: inner, as: UTF8.self) }
        return try? JSONDecoderForStrings.decode(Array(bytes))
    }

    /// The whole number this value holds, or `nil` if it is not one that fits an `Int`
    /// (`5.0` and `5e0` count, as JSON does not tell them from `5`).
    var intValue: Int? {
        guard kind == .number else { return nil }
        if let plain = Int(String(decoding: bytes, as: UTF8.self)) { return plain }
        guard let number = Double(String(decoding: bytes, as: UTF8.self)), number.rounded() == number,
              number >= -9.0e18, number <= 9.0e18 else { return nil }
        return Int(number)
    }

    /// The strings of an array of strings, or `nil` if it is something else.
    var stringsValue: [String]? {
        guard kind == .array, let elements = try? elements() else { return nil }
        var strings: [String] = []
        for element in elements {
            guard let string = element.stringValue else { return nil }
            strings.append(string)
        }
        return strings
    }

    /// The members of an object whose values are all strings, or `nil` if it is something else.
    var stringMapValue: [String: String]? {
        guard kind == .object, let members = try? members() else { return nil }
        var map: [String: String] = [:]
        for (key, value) in members {
            guard let string = value.stringValue else { return nil }
            map[key] = string
        }
        return map
    }

    /// Parses `document`, which must hold exactly one value (whitespace around it allowed).
    init(document: [UInt8]) throws(SyntaxError) {
        // Invalid UTF-8 would reach a plan's input changed (as U+FFFD): refuse it instead.
        if String(validating: document, as: UTF8.self) == nil {
            var decoder = UTF8()
            var iterator = document.makeIterator()
            var offset = 0
            loop: while true {
                switch decoder.decode(&iterator) {
                case .scalarValue(let scalar): offset += String(scalar).utf8.count
                case .emptyInput: break loop
                case .error: break loop
                }
            }
            throw SyntaxError(offset: offset, reason: "the body is not valid UTF-8")
        }
        var scanner = Scanner(bytes: document[...])
        scanner.skipWhitespace()
        let value = try scanner.value()
        scanner.skipWhitespace()
        guard scanner.atEnd else { throw SyntaxError(offset: scanner.position, reason: "unexpected text after the JSON value") }
        self.bytes = value
    }

    private init(bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
    }

    /// The members of an object, in order, each key decoded, each value as sent.
    func members() throws(SyntaxError) -> [(key: String, value: RawJSON)] {
        guard kind == .object else { return [] }
        var scanner = Scanner(bytes: bytes)
        var result: [(String, RawJSON)] = []
        scanner.position += 1
        scanner.skipWhitespace()
        if scanner.peek == UInt8(ascii: "}") { return [] }
        while true {
            scanner.skipWhitespace()
            let key = try scanner.string()
            scanner.skipWhitespace()
            try scanner.expect(UInt8(ascii: ":"))
            scanner.skipWhitespace()
            result.append((Self.unescape(key), RawJSON(bytes: try scanner.value())))
            scanner.skipWhitespace()
            if scanner.peek == UInt8(ascii: ",") { scanner.position += 1; continue }
            try scanner.expect(UInt8(ascii: "}"))
            return result
        }
    }

    /// The elements of an array, in order, each as sent.
    func elements() throws(SyntaxError) -> [RawJSON] {
        guard kind == .array else { return [] }
        var scanner = Scanner(bytes: bytes)
        var result: [RawJSON] = []
        scanner.position += 1
        scanner.skipWhitespace()
        if scanner.peek == UInt8(ascii: "]") { return [] }
        while true {
            scanner.skipWhitespace()
            result.append(RawJSON(bytes: try scanner.value()))
            scanner.skipWhitespace()
            if scanner.peek == UInt8(ascii: ",") { scanner.position += 1; continue }
            try scanner.expect(UInt8(ascii: "]"))
            return result
        }
    }

    /// A key's text without its quotes, escapes resolved.
    private static func unescape(_ quoted: ArraySlice<UInt8>) -> String {
        let inner = quoted.dropFirst().dropLast()
        guard inner.contains(UInt8(ascii: "\\")) else { return String(decoding: inner, as: UTF8.self) }
        // Rare in keys: let Foundation resolve the escapes of this one string.
        return (try? JSONDecoderForStrings.decode(Array(quoted))) ?? String(decoding: inner, as: UTF8.self)
    }

    /// A recursive-descent reader that only checks and measures; it builds nothing.
    private struct Scanner {
        let bytes: ArraySlice<UInt8>
        var position: Int
        var depth = 0

        init(bytes: ArraySlice<UInt8>) {
            self.bytes = bytes
            position = bytes.startIndex
        }

        var atEnd: Bool { position >= bytes.endIndex }
        var peek: UInt8? { atEnd ? nil : bytes[position] }

        mutating func skipWhitespace() {
            while let byte = peek, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { position += 1 }
        }

        mutating func expect(_ byte: UInt8) throws(SyntaxError) {
            guard peek == byte else {
                throw SyntaxError(offset: position, reason: "expected `\(Character(Unicode.Scalar(byte)))`" + (atEnd ? " before the end" : ""))
            }
            position += 1
        }

        mutating func value() throws(SyntaxError) -> ArraySlice<UInt8> {
            let start = position
            guard let first = peek else { throw SyntaxError(offset: position, reason: "expected a value before the end") }
            switch first {
            case UInt8(ascii: "{"): try container(close: UInt8(ascii: "}"), member: true)
            case UInt8(ascii: "["): try container(close: UInt8(ascii: "]"), member: false)
            case UInt8(ascii: "\""): _ = try string()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
            default: throw SyntaxError(offset: position, reason: "expected a value")
            }
            return bytes[start..<position]
        }

        private mutating func container(close: UInt8, member: Bool) throws(SyntaxError) {
            depth += 1
            guard depth <= 512 else { throw SyntaxError(offset: position, reason: "nested more than 512 levels deep") }
            defer { depth -= 1 }
            position += 1
            skipWhitespace()
            if peek == close { position += 1; return }
            while true {
                skipWhitespace()
                if member {
                    _ = try string()
                    skipWhitespace()
                    try expect(UInt8(ascii: ":"))
                    skipWhitespace()
                }
                _ = try value()
                skipWhitespace()
                if peek == UInt8(ascii: ",") { position += 1; continue }
                try expect(close)
                return
            }
        }

        mutating func string() throws(SyntaxError) -> ArraySlice<UInt8> {
            let start = position
            try expect(UInt8(ascii: "\""))
            while let byte = peek {
                position += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return bytes[start..<position]
                case UInt8(ascii: "\\"):
                    guard let escaped = peek else { break }
                    position += 1
                    if escaped == UInt8(ascii: "u") {
                        let unit = try hexUnit()
                        // A surrogate must come as a high-low pair: alone it is no character.
                        if (0xDC00...0xDFFF).contains(unit) {
                            throw SyntaxError(offset: position - 6, reason: "a lone low surrogate escape")
                        }
                        if (0xD800...0xDBFF).contains(unit) {
                            guard peek == UInt8(ascii: "\\"), position + 1 < bytes.endIndex, bytes[position + 1] == UInt8(ascii: "u") else {
                                throw SyntaxError(offset: position - 6, reason: "a high surrogate escape without its low half")
                            }
                            position += 2
                            guard (0xDC00...0xDFFF).contains(try hexUnit()) else {
                                throw SyntaxError(offset: position - 6, reason: "a high surrogate escape without its low half")
                            }
                        }
                    } else if !"\"\\/bfnrt".utf8.contains(escaped) {
                        throw SyntaxError(offset: position - 1, reason: "invalid escape in a string")
                    }
                case 0x00..<0x20:
                    throw SyntaxError(offset: position - 1, reason: "control character in a string")
                default:
                    break
                }
            }
            throw SyntaxError(offset: position, reason: "unterminated string")
        }

        /// Four hex digits of a `\\u` escape.
        private mutating func hexUnit() throws(SyntaxError) -> UInt16 {
            var unit: UInt16 = 0
            for _ in 0..<4 {
                guard let hex = peek, hex.isHexDigit, let digit = UInt16(String(UnicodeScalar(hex)), radix: 16) else {
                    throw SyntaxError(offset: position, reason: "invalid \\u escape")
                }
                unit = unit << 4 | digit
                position += 1
            }
            return unit
        }

        private mutating func literal(_ word: String) throws(SyntaxError) {
            let end = position + word.utf8.count
            guard end <= bytes.endIndex, bytes[position..<end].elementsEqual(word.utf8) else {
                throw SyntaxError(offset: position, reason: "expected `\(word)`")
            }
            position = end
        }

        private mutating func number() throws(SyntaxError) {
            let start = position
            if peek == UInt8(ascii: "-") { position += 1 }
            guard let first = peek, first.isDigit else { throw SyntaxError(offset: position, reason: "expected a digit") }
            position += 1
            if first != UInt8(ascii: "0") { while let digit = peek, digit.isDigit { position += 1 } }
            if peek == UInt8(ascii: ".") {
                position += 1
                guard let digit = peek, digit.isDigit else { throw SyntaxError(offset: position, reason: "expected a digit after `.`") }
                while let digit = peek, digit.isDigit { position += 1 }
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                position += 1
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { position += 1 }
                guard let digit = peek, digit.isDigit else { throw SyntaxError(offset: position, reason: "expected a digit in the exponent") }
                while let digit = peek, digit.isDigit { position += 1 }
            }
            _ = start
        }
    }
}

import Foundation

/// Decodes one JSON string literal (escapes included) with Foundation.
private enum JSONDecoderForStrings {
    static func decode(_ literal: [UInt8]) throws -> String {
        try JSONDecoder().decode(String.self, from: Data(literal))
    }
}

private extension UInt8 {
    var isDigit: Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) }
    var isHexDigit: Bool { isDigit || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(self) }
}
