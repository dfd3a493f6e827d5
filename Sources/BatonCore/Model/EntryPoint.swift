/// What a plan runs: exactly one of a script, a module or inline code.
public enum EntryPoint: Sendable, Hashable {
    /// A `.py` file, relative to the workspace root.
    case script(String)
    /// A dotted module name, run with `python -m`.
    case module(String)
    /// Python source, written to a private temporary file for the run.
    case code(String)

    /// The kind as stored and shown: `script`, `module` or `code`.
    public var kind: String {
        switch self {
        case .script: "script"
        case .module: "module"
        case .code: "code"
        }
    }

    /// The script path, module name or source.
    public var value: String {
        switch self {
        case .script(let value), .module(let value), .code(let value): value
        }
    }

    /// Rebuilds an entry point from its stored kind and value.
    public init?(kind: String, value: String) {
        switch kind {
        case "script": self = .script(value)
        case "module": self = .module(value)
        case "code": self = .code(value)
        default: return nil
        }
    }

    /// A human label for plans submitted without a name.
    public var defaultName: String {
        switch self {
        case .script(let path): path
        case .module(let name): name
        case .code: "inline code"
        }
    }
}
