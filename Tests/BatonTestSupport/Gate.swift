import Foundation

/// Holds a plan's script at a known point until the test lets it go, so a test acts while the
/// run is provably still going — never because a sleep was long enough.
///
/// The script calls ``python(_:)``'s code: it creates `<dir>/<name>.ready`, then waits until
/// `<dir>/<name>.open` exists. The test waits with ``waitUntilReady(within:)``, acts (kill,
/// cancel, restart...), and may ``open()`` the gate to let the script finish.
public struct Gate: Sendable {
    public let directory: String
    public let name: String

    public init(directory: String, name: String = "gate") {
        self.directory = directory
        self.name = name
    }

    public var readyPath: String { directory + "/" + name + ".ready" }
    public var openPath: String { directory + "/" + name + ".open" }

    /// Python statements that signal readiness, then block until the gate opens. `indent` is
    /// put before every line, to embed it in a block.
    public func python(indent: String = "") -> String {
        [
            "import os as _gate_os, time as _gate_time",
            "open(\(pythonString(readyPath)), 'a').close()",
            "while not _gate_os.path.exists(\(pythonString(openPath))): _gate_time.sleep(0.02)",
        ].map { indent + $0 }.joined(separator: "\n") + "\n"
    }

    /// Whether the script has reached the gate.
    public var isReady: Bool { FileManager.default.fileExists(atPath: readyPath) }

    /// Waits (up to a generous safety limit) until the script reaches the gate.
    public func waitUntilReady(within deadline: Duration = .seconds(60)) async -> Bool {
        await eventually(within: deadline) { isReady }
    }

    /// Lets every script waiting at the gate go on.
    public func open() {
        _ = FileManager.default.createFile(atPath: openPath, contents: nil)
    }

    private func pythonString(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}
