import ArgumentParser
import BatonCore
import Logging

/// The `baton` command: runs the service and talks to it.
@main
struct Baton: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baton",
        abstract: "A durable job queue that runs Python execution plans.",
        version: BatonVersion.current,
        subcommands: [Serve.self, Migrate.self]
    )

    /// Logs go to stderr, so that stdout carries only a command's answer.
    static let bootstrapLogging: Void = LoggingSystem.bootstrap(StreamLogHandler.standardError)
}
