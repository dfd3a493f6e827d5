import BatonCore
import Foundation

/// Reading a plan spec from a request body (design §3), strictly: every field is checked for
/// its type, unknown fields are refused (a typo like `priorty` must not pass unnoticed), and
/// `input` is kept exactly as sent.
extension PlanSpec {
    /// The fields a plan spec may have.
    static let requestFields: [String] = [
        "name", "script", "module", "code", "args", "input", "priority", "timeout_seconds",
        "max_attempts", "env", "labels", "idempotency_key", "run_after", "network", "limits", "requirements",
        "requirements_file",
    ]

    /// The spec in `object`, or every problem found with it, each under `prefix` (`plans[3].`).
    init(request object: RawJSON, field prefix: String = "", triggeredBy: String) throws(PlanValidationError) {
        var issues: [PlanValidationError.Issue] = []
        func fail(_ field: String, _ message: String) {
            issues.append(.init(field: prefix + field, message: message))
        }
        guard object.kind == .object, let members = try? object.members() else {
            throw PlanValidationError(field: prefix.isEmpty ? "body" : String(prefix.dropLast()), message: "must be a JSON object describing a plan")
        }
        var fields: [String: RawJSON] = [:]
        for (key, value) in members {
            if fields[key] != nil { fail(key, "is given twice") }
            fields[key] = value
            if !Self.requestFields.contains(key) {
                fail(key, "is not a plan field; check the spelling (plan fields: \(Self.requestFields.joined(separator: ", ")))")
            }
        }

        /// The field read with `read`, `nil` when absent or null; a wrong type is an issue.
        func decode<T>(_ read: (RawJSON) -> T?, _ field: String, _ expected: String) -> T? {
            guard let raw = fields[field], !raw.isNull else { return nil }
            guard let value = read(raw) else {
                fail(field, "must be \(expected)")
                return nil
            }
            return value
        }
        let string: (RawJSON) -> String? = { $0.stringValue }
        let int: (RawJSON) -> Int? = { $0.intValue }
        let strings: (RawJSON) -> [String]? = { $0.stringsValue }
        let map: (RawJSON) -> [String: String]? = { $0.stringMapValue }

        let entries: [(String, String?)] = [
            ("script", decode(string, "script", "a string: a .py path relative to the workspace")),
            ("module", decode(string, "module", "a string: a dotted module name")),
            ("code", decode(string, "code", "a string of Python source")),
        ]
        let given = entries.filter { $0.1 != nil }
        var entryPoint: EntryPoint = .code("")
        switch given.count {
        case 1:
            let (kind, value) = given[0]
            entryPoint = EntryPoint(kind: kind, value: value!)!
        case 0:
            if entries.allSatisfy({ fields[$0.0] == nil || fields[$0.0]!.isNull }) {
                fail("script", "one of script, module or code is required")
            }
        default:
            fail(given[1].0, "give only one of script, module or code (got \(given.map(\.0).joined(separator: " and ")))")
        }

        var spec = PlanSpec(entryPoint: entryPoint, triggeredBy: triggeredBy)
        spec.name = decode(string, "name", "a string")
        spec.args = decode(strings, "args", "an array of strings") ?? []
        if let input = fields["input"] { spec.input = JSONText(unchecked: input.text) }
        spec.priority = decode(int, "priority", "a whole number from 0 (most urgent) to 9") ?? PlanSpec.defaultPriority
        spec.timeoutSeconds = decode(int, "timeout_seconds", "a whole number of seconds")
        spec.maxAttempts = decode(int, "max_attempts", "a whole number, 1 or more") ?? 1
        spec.env = decode(map, "env", "an object of string values") ?? [:]
        spec.labels = decode(map, "labels", "an object of string values") ?? [:]
        spec.idempotencyKey = decode(string, "idempotency_key", "a string")
        if let text = decode(string, "run_after", "an RFC 3339 timestamp string") {
            if let date = Timestamp.parse(text) {
                spec.runAfter = date
            } else {
                fail("run_after", "must be an RFC 3339 timestamp such as 2026-11-21T10:15:30Z; got \(text)")
            }
        }

        spec.runtime.network = decode({ $0.boolValue }, "network", "true or false") ?? true
        spec.runtime.requirements = decode(strings, "requirements", "an array of pip requirement strings") ?? []
        spec.runtime.requirementsFile = decode(string, "requirements_file", "a string: a path relative to the workspace")
        if fields["requirements"].map({ !$0.isNull }) == true, spec.runtime.requirementsFile != nil {
            fail("requirements_file", "give requirements or requirements_file, not both")
        }
        if let limits = fields["limits"], !limits.isNull {
            if limits.kind == .object, let members = try? limits.members() {
                var request = PlanResourceRequest()
                for (key, value) in members {
                    switch key {
                    case "memory_mb" where !value.isNull:
                        request.memoryMB = value.intValue ?? { fail("limits.memory_mb", "must be a whole number of MiB"); return nil }()
                    case "processes" where !value.isNull:
                        request.processes = value.intValue ?? { fail("limits.processes", "must be a whole number"); return nil }()
                    case "memory_mb", "processes":
                        break
                    default:
                        fail("limits.\(key)", "is not a limit; limits are memory_mb and processes")
                    }
                }
                spec.runtime.limits = request
            } else {
                fail("limits", "must be an object such as {\"memory_mb\": 512, \"processes\": 64}")
            }
        }

        guard issues.isEmpty else { throw PlanValidationError(issues: issues) }
        self = spec
    }
}
