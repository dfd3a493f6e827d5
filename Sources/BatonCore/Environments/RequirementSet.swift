import Crypto
import Foundation

/// The exact set of packages a plan needs (design §11), normalised so that the same set written
/// twice names the same environment: each requirement trimmed, its runs of spaces made one,
/// duplicates dropped, the rest sorted.
public struct RequirementSet: Sendable, Hashable {
    public let requirements: [String]

    public init(_ requirements: [String]) {
        let normalised = requirements.map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        self.requirements = Array(Set(normalised.filter { !$0.isEmpty })).sorted()
    }

    /// The set in a requirements file's text: one requirement a line; blank lines and `#`
    /// comments skipped. Options (`-r`, `-e`, `--index-url` ...) are refused: the server alone
    /// decides where packages come from.
    public init(fileText text: String, path: String) throws(EnvironmentError) {
        var requirements: [String] = []
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            var line = Substring(rawLine)
            if let comment = line.firstRange(of: " #") ?? (line.hasPrefix("#") ? line.startIndex..<line.startIndex : nil) {
                line = line[..<comment.lowerBound]
            }
            let requirement = line.trimmingCharacters(in: .whitespaces)
            guard !requirement.isEmpty else { continue }
            if let problem = PlanRuntime.problem(withRequirement: requirement, maxLength: nil) {
                throw EnvironmentError.badRequirementsFile("\(path), line \(index + 1) (\(requirement.prefix(80))): it \(problem)")
            }
            requirements.append(requirement)
        }
        guard requirements.count <= PlanSpec.Bounds.maxRequirements else {
            throw EnvironmentError.badRequirementsFile("\(path) has \(requirements.count) requirements; at most \(PlanSpec.Bounds.maxRequirements) are allowed")
        }
        self.init(requirements)
    }

    /// The name of this set's environment for `interpreter`: the first 24 hex digits of a
    /// SHA-256 over the interpreter and the requirements.
    public func key(for interpreter: PythonInterpreter) -> String {
        let text = ([interpreter.path, interpreter.version] + requirements).joined(separator: "\n")
        return SHA256.hash(data: Data(text.utf8)).prefix(12).map { String(format: "%02x", $0) }.joined()
    }
}

/// Why a plan's environment cannot be had; each ends the plan `failed` with
/// `error.kind = "dependency_install"`.
public enum EnvironmentError: Error, CustomStringConvertible, Sendable {
    /// The `requirements_file` is missing, outside the workspace, or has a line pip must not see.
    case badRequirementsFile(String)
    /// `python -m venv` or `pip install` failed; the last lines they printed.
    case buildFailed(step: String, status: String, lastLines: String)
    /// The build could not be started or its files not written.
    case unavailable(String)

    public var description: String {
        switch self {
        case .badRequirementsFile(let problem):
            "requirements_file \(problem)"
        case .buildFailed(let step, let status, let lastLines):
            "\(step) failed (\(status)):\n\(lastLines)"
        case .unavailable(let problem):
            "cannot build the plan's environment: \(problem)"
        }
    }
}
