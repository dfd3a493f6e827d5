import Hummingbird

/// The per-request context of the API.
public struct BatonRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The token the request came with, once authenticated.
    public var identity: Identity?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }
}
