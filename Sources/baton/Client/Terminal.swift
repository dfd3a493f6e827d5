import Foundation

/// Where the CLI writes: stdout for a command's answer and a plan's stdout, stderr for
/// messages, progress and a plan's stderr.
///
/// Writes never crash on a closed pipe (`baton logs 7 | head`): SIGPIPE is ignored in this
/// process, and a write that fails is dropped, so a waiting command still exits with its plan's
/// outcome.
enum Terminal {
    /// Whether stderr is a terminal, where a progress line can be redrawn.
    static let stderrIsTerminal = isatty(STDERR_FILENO) == 1

    static func out(_ text: String) {
        write(Data(text.utf8), to: .standardOutput)
    }

    static func err(_ text: String) {
        write(Data(text.utf8), to: .standardError)
    }

    /// A plan's output, to the stream it came from.
    static func planOutput(_ text: String, stream: String) {
        stream == "stderr" ? err(text) : out(text)
    }

    /// The exact JSON the server answered, for `--json`.
    static func json(_ body: Data) {
        write(body + Data("\n".utf8), to: .standardOutput)
    }

    private static func write(_ data: Data, to handle: FileHandle) {
        try? handle.write(contentsOf: data)
    }
}

/// Writes a message to stderr, prefixed with `baton: `.
func printError(_ message: String) {
    Terminal.err("baton: \(message)\n")
}

/// Writes to stderr without a prefix: progress and notes that are not the command's answer.
func printNote(_ message: String, terminator: String = "\n") {
    Terminal.err(message + terminator)
}
