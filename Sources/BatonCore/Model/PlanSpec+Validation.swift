extension PlanSpec {
    /// Bounds of the fields that have no server setting.
    public enum Bounds {
        public static let priority = 0...9
        public static let maxAttempts = 1...100
        public static let nameLength = 200
        public static let maxArgs = 256
        public static let maxEnv = 256
        public static let maxLabels = 32
        public static let labelKeyLength = 64
        public static let labelValueLength = 256
        public static let idempotencyKeyLength = 200
        public static let scriptPathLength = 4096
        public static let maxRequirements = 100
        /// Characters in one requirement; all of them together stay under 10 KB.
        public static let requirementLength = 100
    }

    /// Checks every rule and reports all broken ones at once.
    public func validate(limits: PlanLimits) throws(PlanValidationError) {
        var issues: [PlanValidationError.Issue] = []
        func fail(_ field: String, _ message: String) {
            issues.append(.init(field: field, message: message))
        }

        if let name {
            if name.isEmpty { fail("name", "must not be empty; leave it out to use the entry point") }
            if name.unicodeScalars.count > Bounds.nameLength { fail("name", "must be at most \(Bounds.nameLength) characters") }
            if name.containsControlCharacter { fail("name", "must not contain control characters") }
        }

        switch entryPoint {
        case .script(let path):
            if let problem = Self.problem(withScriptPath: path) { fail("script", problem) }
        case .module(let module):
            if !module.isDottedIdentifier {
                fail("module", "must be a dotted Python module name such as `tests.smoke`")
            }
        case .code(let code):
            if code.allSatisfy(\.isWhitespace) { fail("code", "must not be empty") }
            if code.utf8.contains(0) { fail("code", "must not contain NUL bytes") }
        }

        if args.count > Bounds.maxArgs { fail("args", "must have at most \(Bounds.maxArgs) items") }
        for (index, arg) in args.enumerated() where arg.utf8.contains(0) {
            fail("args[\(index)]", "must not contain NUL bytes")
        }

        if !Bounds.priority.contains(priority) {
            fail("priority", "must be between 0 (most urgent) and 9 (least urgent); got \(priority)")
        }
        if let timeoutSeconds {
            if timeoutSeconds <= 0 {
                fail("timeout_seconds", "must be greater than 0; got \(timeoutSeconds)")
            } else if timeoutSeconds > limits.maxTimeoutSeconds {
                fail("timeout_seconds", "must be at most \(limits.maxTimeoutSeconds) (the server's --max-timeout); got \(timeoutSeconds)")
            }
        }
        if !Bounds.maxAttempts.contains(maxAttempts) {
            fail("max_attempts", "must be between 1 and \(Bounds.maxAttempts.upperBound); got \(maxAttempts)")
        }

        if env.count > Bounds.maxEnv { fail("env", "must have at most \(Bounds.maxEnv) variables") }
        for (key, value) in env.sorted(by: { $0.key < $1.key }) {
            if !key.isEnvironmentName {
                fail("env.\(key)", "name must match [A-Za-z_][A-Za-z0-9_]*")
            } else if key.uppercased().hasPrefix("BATON_") {
                fail("env.\(key)", "names starting with BATON_ are reserved for Baton")
            }
            if value.utf8.contains(0) { fail("env.\(key)", "value must not contain NUL bytes") }
        }

        if labels.count > Bounds.maxLabels { fail("labels", "must have at most \(Bounds.maxLabels) labels") }
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
            if !key.isLabelKey {
                fail("labels.\(key)", "key must be 1 to \(Bounds.labelKeyLength) characters of A-Z a-z 0-9 _ . -")
            }
            if value.unicodeScalars.count > Bounds.labelValueLength {
                fail("labels.\(key)", "value must be at most \(Bounds.labelValueLength) characters")
            }
            if value.containsControlCharacter { fail("labels.\(key)", "value must not contain control characters") }
        }

        if let idempotencyKey {
            if idempotencyKey.isEmpty || idempotencyKey.unicodeScalars.count > Bounds.idempotencyKeyLength {
                fail("idempotency_key", "must be 1 to \(Bounds.idempotencyKeyLength) characters")
            }
            if idempotencyKey.containsControlCharacter { fail("idempotency_key", "must not contain control characters") }
        }

        if triggeredBy.isEmpty { fail("triggered_by", "must not be empty") }
        runtime.validate(fail)

        if !issues.isEmpty { throw PlanValidationError(issues: issues) }
    }

    /// Why `path` cannot be a script path, or `nil` when it can. Whether the file exists, and
    /// where its symlinks lead, is checked when the plan runs.
    static func problem(withScriptPath path: String) -> String? {
        if let problem = problem(withWorkspacePath: path) { return problem }
        if !path.hasSuffix(".py") { return "must name a .py file" }
        return nil
    }

    /// Why `path` cannot name a file in the workspace, or `nil` when it can.
    static func problem(withWorkspacePath path: String) -> String? {
        if path.isEmpty { return "must not be empty" }
        if path.utf8.count > Bounds.scriptPathLength { return "must be at most \(Bounds.scriptPathLength) bytes" }
        if path.containsControlCharacter { return "must not contain control characters" }
        if path.hasPrefix("/") { return "must be relative to the workspace root, not absolute" }
        if path == ".." || path.hasPrefix("../") || path.contains("/../") || path.hasSuffix("/..") {
            return "must stay inside the workspace root (no `..`)"
        }
        return nil
    }
}

extension PlanRuntime {
    /// Characters a requirement may not contain: pip never sees a shell, but a requirement
    /// that looks like shell code is a mistake or an attack either way.
    private static let forbiddenInRequirement: Set<Character> = ["`", "$", "|", "&", ";", "\\", "\"", "'"]

    func validate(_ fail: (String, String) -> Void) {
        if let memory = limits?.memoryMB, !PlanResourceRequest.memoryMBRange.contains(memory) {
            fail("limits.memory_mb", "must be between \(PlanResourceRequest.memoryMBRange.lowerBound) and \(PlanResourceRequest.memoryMBRange.upperBound); got \(memory)")
        }
        if let processes = limits?.processes, !PlanResourceRequest.processesRange.contains(processes) {
            fail("limits.processes", "must be between \(PlanResourceRequest.processesRange.lowerBound) and \(PlanResourceRequest.processesRange.upperBound); got \(processes)")
        }
        if requirements.count > PlanSpec.Bounds.maxRequirements {
            fail("requirements", "must have at most \(PlanSpec.Bounds.maxRequirements) entries; got \(requirements.count)")
        }
        for (index, requirement) in requirements.enumerated() {
            if let problem = Self.problem(withRequirement: requirement) { fail("requirements[\(index)]", problem) }
        }
        if let requirementsFile {
            if let problem = PlanSpec.problem(withWorkspacePath: requirementsFile) { fail("requirements_file", problem) }
            if !requirements.isEmpty { fail("requirements_file", "give requirements or requirements_file, not both") }
        }
    }

    /// Why `requirement` cannot be handed to pip, or `nil` when it can: a package name with
    /// extras, versions or a URL (PEP 508) in printable ASCII, but no option, local path or
    /// shell syntax.
    static func problem(withRequirement requirement: String, maxLength: Int? = PlanSpec.Bounds.requirementLength) -> String? {
        let trimmed = String(requirement.drop(while: { $0 == " " }))
        if trimmed.isEmpty { return "must not be empty" }
        if let maxLength, requirement.utf8.count > maxLength {
            return "must be at most \(maxLength) characters; put a longer set in requirements_file"
        }
        if !requirement.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) {
            return "must be printable ASCII: no control characters, line breaks or other scripts"
        }
        if trimmed.hasPrefix("-") { return "must be a requirement, not a pip option such as \(trimmed.split(separator: " ")[0]); options are set by the server" }
        if let first = trimmed.first, ["/", ".", "~"].contains(first) { return "must name a package, not a local path" }
        if let character = requirement.first(where: Self.forbiddenInRequirement.contains) {
            return "must not contain \(character): give a package name with optional extras and versions, such as `httpx[http2]>=0.27,<1`"
        }
        return nil
    }
}

extension String {
    /// Whether any scalar is a control character (general category Cc: U+0000–U+001F and
    /// U+007F–U+009F), checked by range because the property lookup is slow on hot paths.
    var containsControlCharacter: Bool {
        unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }
    }

    /// `[A-Za-z_][A-Za-z0-9_]*`
    var isEnvironmentName: Bool {
        guard let first = utf8.first, first.isASCIILetter || first == UInt8(ascii: "_") else { return false }
        return utf8.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || $0 == UInt8(ascii: "_") }
    }

    /// Identifiers joined by dots, each `[A-Za-z_][A-Za-z0-9_]*`.
    var isDottedIdentifier: Bool {
        !isEmpty && split(separator: ".", omittingEmptySubsequences: false).allSatisfy { String($0).isEnvironmentName }
    }

    /// `[A-Za-z0-9_.-]{1,64}`
    var isLabelKey: Bool {
        (1...PlanSpec.Bounds.labelKeyLength).contains(utf8.count) && utf8.allSatisfy {
            $0.isASCIILetter || $0.isASCIIDigit || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
        }
    }
}

extension UInt8 {
    var isASCIILetter: Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self) }
    var isASCIIDigit: Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) }
}
