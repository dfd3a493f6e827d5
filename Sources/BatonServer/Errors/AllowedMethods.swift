import HTTPTypes
import Hummingbird
import Synchronization

/// Which methods each route path answers, taken from the router once every route is added, so
/// a request with the wrong method gets 405 with an `Allow` header instead of 404.
final class AllowedMethods: Sendable {
    private let routes = Mutex<[(segments: [Substring], methods: Set<String>)]>([])

    /// Records the router's routes; call after the last route is added.
    func learn<Context>(from router: Router<Context>) {
        var byPath: [String: Set<String>] = [:]
        for route in router.routes {
            byPath["\(route.path)", default: []].insert(route.method.rawValue)
        }
        routes.withLock { table in
            table = byPath.map { (path, methods) in (path.split(separator: "/"), methods) }
        }
    }

    /// The methods the route matching `path` answers, or `nil` when no route matches it. When
    /// several match (`plans/batch` and `plans/:id`), the one with the most literal segments
    /// wins, as it does in the router.
    func methods(for path: String) -> Set<String>? {
        let segments = path.split(separator: "/")
        func isParameter(_ pattern: Substring) -> Bool { pattern.hasPrefix(":") || pattern.hasPrefix("{") }
        return routes.withLock { table in
            table.filter { route in
                route.segments.count == segments.count
                    && zip(route.segments, segments).allSatisfy { pattern, segment in isParameter(pattern) || pattern == segment }
            }
            .max { $0.segments.count(where: isParameter) > $1.segments.count(where: isParameter) }?
            .methods
        }
    }
}
