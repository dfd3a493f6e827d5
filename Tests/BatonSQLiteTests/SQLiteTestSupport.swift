import BatonCore
import BatonTestSupport
import Foundation
@testable import BatonSQLite

/// Opens a SQLite store on a new database file in a temporary directory, runs `body` with it and
/// its path, closes it.
func withStore(
    _ configure: (inout SQLitePlanStore.Configuration) -> Void = { _ in },
    _ body: (SQLitePlanStore, String) async throws -> Void
) async throws {
    let directory = try TemporaryDirectory()
    var configuration = SQLitePlanStore.Configuration(path: directory.file("baton.sqlite"))
    configure(&configuration)
    let store = try await SQLitePlanStore(configuration: configuration, logger: quietLogger)
    do {
        try await body(store, configuration.path)
        await store.close()
    } catch {
        await store.close()
        throw error
    }
}
