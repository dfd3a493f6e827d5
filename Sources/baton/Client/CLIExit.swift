/// The exit codes of client commands (design §7); usage errors exit 64 through
/// swift-argument-parser.
enum CLIExit {
    /// The plan succeeded (or the command did what it was asked).
    static let succeeded: Int32 = 0
    /// The plan failed.
    static let failed: Int32 = 1
    /// The plan timed out.
    static let timedOut: Int32 = 3
    /// The plan was canceled.
    static let canceled: Int32 = 4
    /// The server could not be reached or answered an error.
    static let serverError: Int32 = 5
    /// Ctrl-C while waiting, the plan left running: 128 + SIGINT, as shells report it.
    static let interrupted: Int32 = 130
    /// SIGTERM (a CI system canceling the job) while waiting, the plan left running: 128 + SIGTERM.
    static let terminated: Int32 = 143

    /// The exit code for a plan that ended in `status`.
    static func forPlan(status: String) -> Int32 {
        switch status {
        case "succeeded": succeeded
        case "timed_out": timedOut
        case "canceled": canceled
        default: failed
        }
    }
}
