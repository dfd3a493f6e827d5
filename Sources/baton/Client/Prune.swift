import ArgumentParser
import BatonCore
import BatonSQLite
import Foundation
import Logging

/// `baton prune`: delete plans that ended long ago, with their output, steps and events.
struct Prune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete plans that ended before a given age, with their output and events.",
        discussion: """
            Works on the database in --data-dir directly, so run it on the server's machine; it is \
            safe while the server runs (small transactions). Plans that have not ended are never \
            touched. Example: baton prune --older-than 7d
            """
    )

    @Option(help: ArgumentHelp("Age of the plans to delete: 7d, 12h, 30m or seconds.", valueName: "age"))
    var olderThan: String
    @Option(help: ArgumentHelp("The server's data directory. [env: BATON_DATA_DIR] [default: ./.baton]", valueName: "dir"))
    var dataDir: String?

    func validate() throws {
        guard DurationText(olderThan) != nil else { throw ValidationError("--older-than takes an age like 7d, 12h or 30m; got \(olderThan)") }
    }

    func run() async throws {
        Baton.bootstrapLogging
        let age = DurationText(olderThan)!.seconds
        let directory = DataDirectory.resolve(dataDir)
        let path = SQLitePlanStore.Configuration.databasePath(inDataDirectory: directory)
        guard FileManager.default.fileExists(atPath: path) else {
            throw ValidationError("no database in \(directory); give the server's data directory with --data-dir")
        }
        let store = try await SQLitePlanStore(configuration: .init(path: path), logger: Logger(label: "baton.prune"))
        let cutoff = Date().addingTimeInterval(-age)
        let count = try await store.prune(finishedBefore: cutoff)
        await store.close()
        print("deleted \(count) plan\(count == 1 ? "" : "s") that ended before \(ISO8601DateFormatter().string(from: cutoff))")
    }
}
