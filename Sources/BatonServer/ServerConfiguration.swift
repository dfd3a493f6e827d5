import BatonCore

/// How the HTTP API listens and what it accepts.
public struct ServerConfiguration: Sendable {
    /// Address to listen on (`--host`).
    public var host = "127.0.0.1"
    /// Port to listen on (`--port`); 0 picks a free one.
    public var port = 8080
    /// The largest request body accepted (`--max-body-bytes`); larger is 413.
    public var maxBodyBytes = 1 << 20
    /// The longest `?wait=` a plan request may hold (`--max-wait`); a longer one is clamped.
    public var maxWait: Duration = .seconds(300)
    /// Whether plans run sandboxed, as `GET /health` reports it (`--sandbox`).
    public var sandbox: Sandbox.Decision = .off(reason: "--sandbox off")
    /// This node's environments (`GET /api/v1/envs`); `nil` answers 404 there.
    public var environments: EnvironmentStore?

    public init() {}
}
