import BatonCore

/// Writes a JSON object member by member, with raw JSON where a value must go out exactly as it
/// came in (a plan's `input`, a run's `result`).
struct JSONWriter {
    private(set) var text = "{"
    private var first = true

    private mutating func key(_ key: String) {
        if !first { text += "," }
        first = false
        Self.quote(key, into: &text)
        text += ":"
    }

    mutating func raw(_ key: String, _ json: String) {
        self.key(key)
        text += json
    }

    mutating func string(_ key: String, _ value: String?) {
        guard let value else { return null(key) }
        self.key(key)
        Self.quote(value, into: &text)
    }

    mutating func int(_ key: String, _ value: (some BinaryInteger)?) {
        guard let value else { return null(key) }
        raw(key, String(value))
    }

    mutating func double(_ key: String, _ value: Double?) {
        guard let value, value.isFinite else { return null(key) }
        raw(key, "\(value)")
    }

    mutating func bool(_ key: String, _ value: Bool) {
        raw(key, value ? "true" : "false")
    }

    mutating func null(_ key: String) {
        raw(key, "null")
    }

    mutating func strings(_ key: String, _ values: [String]) {
        self.key(key)
        text += "["
        for (index, value) in values.enumerated() {
            if index > 0 { text += "," }
            Self.quote(value, into: &text)
        }
        text += "]"
    }

    mutating func map(_ key: String, _ values: [String: String]) {
        var object = JSONWriter()
        for name in values.keys.sorted() { object.string(name, values[name]) }
        raw(key, object.finished)
    }

    mutating func object(_ key: String, _ build: (inout JSONWriter) -> Void) {
        var object = JSONWriter()
        build(&object)
        raw(key, object.finished)
    }

    mutating func integers(_ key: String, _ values: [some BinaryInteger]) {
        raw(key, "[" + values.map { String($0) }.joined(separator: ",") + "]")
    }

    /// The interpreter as health, status and restart show it, or `null`.
    mutating func python(_ key: String, _ interpreter: PythonInterpreter?) {
        guard let interpreter else { return null(key) }
        object(key) { $0.string("path", interpreter.path); $0.string("version", interpreter.version) }
    }

    mutating func array(_ key: String, _ items: [String]) {
        raw(key, "[" + items.joined(separator: ",") + "]")
    }

    var finished: String { text + "}" }

    static func quote(_ string: String, into text: inout String) {
        JSONText.appendQuoted(string, to: &text)
    }
}
