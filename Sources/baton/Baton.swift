import ArgumentParser
import BatonCore
import Logging

/// The `baton` command: runs the service and talks to it.
@main
struct Baton: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baton",
        abstract: "A durable job queue that runs Python execution plans.",
        discussion: """
            Run the service with `baton serve`; the other commands talk to it over HTTP. They find \
            the server at --server or BATON_SERVER (default http://127.0.0.1:8080) and use the \
            token from --token or BATON_TOKEN, else the admin token of a server on this machine.
            """,
        version: BatonVersion.current,
        subcommands: [
            Serve.self, Enqueue.self, List.self, Show.self, Logs.self, Cancel.self,
            Status.self, Nodes.self, Poll.self, Pause.self, Resume.self, Restart.self, Token.self, Audit.self,
            Envs.self, Doctor.self, Prune.self, Migrate.self,
        ]
    )

    /// Logs go to stderr, so that stdout carries only a command's answer.
    static let bootstrapLogging: Void = LoggingSystem.bootstrap(StreamLogHandler.standardError)
}
