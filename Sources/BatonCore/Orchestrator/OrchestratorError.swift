/// A control command the orchestrator cannot carry out now.
public struct OrchestratorError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String, Sendable, Hashable {
            case notRunning = "not_running"
            case shuttingDown = "shutting_down"
            case generationFailed = "generation_failed"
        }

        private let value: Value

        /// The orchestrator's service is not running (not started yet, or stopped).
        public static let notRunning = Code(value: .notRunning)
        /// The server is shutting down; nothing new starts.
        public static let shuttingDown = Code(value: .shuttingDown)
        /// The restart stopped the old generation but the new one could not start.
        public static let generationFailed = Code(value: .generationFailed)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let message: String

    public var description: String { message }

    static let notRunning = OrchestratorError(code: .notRunning, message: "the orchestrator is not running; start the server (baton serve) first")
    static let shuttingDown = OrchestratorError(code: .shuttingDown, message: "the server is shutting down; a restart cannot start now")

    static func generationFailed(_ reason: String) -> OrchestratorError {
        OrchestratorError(code: .generationFailed,
                          message: "the restart stopped the old workers, but new ones could not start (\(reason)); fix the cause (for example --python), then restart again")
    }
}
