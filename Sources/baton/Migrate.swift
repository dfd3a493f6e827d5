import ArgumentParser
import BatonCore
import BatonSQLite
import Foundation

/// `baton migrate`: brings a data directory's database to this build's schema.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create or upgrade the database in a data directory.",
        discussion: """
            Creates the data directory and its database if they do not exist, then applies every \
            schema migration this build knows. Safe to run again: a database that is up to date is \
            left alone. `baton serve` migrates on start as well; run this to upgrade ahead of time.
            """
    )

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Directory holding Baton's database. [env: BATON_DATA_DIR] [default: ./.baton]", valueName: "dir"))
    var dataDirFlag: String?

    private var dataDir: String { DataDirectory.resolve(dataDirFlag) }

    func run() async throws {
        Baton.bootstrapLogging
        do {
            try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        } catch {
            throw ValidationError("cannot create the data directory \(dataDir): \(error.localizedDescription)")
        }
        let path = SQLitePlanStore.Configuration.databasePath(inDataDirectory: dataDir)
        let store = try await SQLitePlanStore(configuration: .init(path: path))
        await store.close()
        print("database \(path) is at schema version \(SQLitePlanStore.schemaVersion)")
    }
}
