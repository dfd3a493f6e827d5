import Foundation

/// Why a call to the Baton server did not give an answer. Each message says what to do.
public enum BatonClientError: Error, Sendable, CustomStringConvertible {
    /// No connection: the server is down, the address is wrong, or it did not answer in time.
    case unreachable(server: String, reason: String)
    /// The connection broke or went silent after the server had been reached.
    case connectionLost(server: String, reason: String)
    /// The server answered with an error (RFC 9457 problem).
    case rejected(APIProblem)
    /// The server's answer was not what this client understands.
    case unexpectedResponse(String)

    public var description: String {
        switch self {
        case .unreachable(let server, let reason):
            "cannot reach the Baton server at \(server): \(reason). Is `baton serve` running there? "
                + "Set the address with --server or BATON_SERVER."
        case .connectionLost(let server, let reason):
            "the connection to the Baton server at \(server) broke: \(reason)"
        case .rejected(let problem):
            problem.description
        case .unexpectedResponse(let detail):
            "unexpected answer from the server: \(detail)"
        }
    }

    /// The HTTP status of a rejection, if that is what this is.
    public var status: Int? {
        if case .rejected(let problem) = self { return problem.status }
        return nil
    }

    /// Whether trying again later may succeed: no connection, or the server (or a proxy before
    /// it) was restarting or overloaded (502, 503, 504).
    public var isTransient: Bool {
        switch self {
        case .unreachable, .connectionLost: true
        case .rejected(let problem): [502, 503, 504].contains(problem.status)
        case .unexpectedResponse: false
        }
    }
}
