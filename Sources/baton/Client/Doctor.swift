import ArgumentParser
import BatonClient
import BatonCore
import BatonSQLite
import Foundation

/// `baton doctor`: checks what Baton needs on this machine and whether the server answers.
struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the interpreter, the data directory, the database and the server.",
        discussion: "Prints one line per check; exits 0 when all pass and 1 when any fails."
    )

    @Option(help: ArgumentHelp("The Python interpreter plans run with. [env: BATON_PYTHON] [default: python3 on PATH]", valueName: "path"))
    var python: String?
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var failures = 0
        func report(_ passed: Bool, _ check: String, _ detail: String) {
            if !passed { failures += 1 }
            print("\(passed ? "ok  " : "FAIL") \(check): \(detail)")
        }

        print("baton \(BatonVersion.current)")
        do {
            let interpreter = try await PythonInterpreter.resolve(requested: python ?? environment["BATON_PYTHON"].flatMap { $0.isEmpty ? nil : $0 })
            report(true, "python", "\(interpreter.version) at \(interpreter.path)")
        } catch {
            report(false, "python", error.message)
        }

        let dataDir = DataDirectory.resolve(connection.dataDir, environment: environment)
        let probe = dataDir + "/.doctor-\(getpid())"
        if FileManager.default.createFile(atPath: probe, contents: Data()) {
            try? FileManager.default.removeItem(atPath: probe)
            report(true, "data directory", "\(dataDir) is writable")
            do {
                let check = try await DatabaseCheck.run(path: SQLitePlanStore.Configuration.databasePath(inDataDirectory: dataDir))
                let current = SQLitePlanStore.schemaVersion
                report(check.problems.isEmpty, "database", check.problems.isEmpty
                    ? "integrity ok, schema \(check.schemaVersion) of \(current), \(check.planCount) plans"
                    : "integrity check failed: " + check.problems.joined(separator: "; ") + " (restore from a backup; see docs/operations.md)")
                if check.schemaVersion < current {
                    print("     the schema is older than this build's; `baton migrate --data-dir \(dataDir)` or `baton serve` upgrades it")
                }
            } catch {
                report(false, "database", "\(error)")
            }
        } else {
            report(false, "data directory", "\(dataDir) does not exist or is not writable (set --data-dir or BATON_DATA_DIR)")
        }

        do {
            let client = try connection.client()
            let health = try await client.health().value
            report(health.status == "ok", "server", "\(client.server.absoluteString) answers: \(health.status), version \(health.version)"
                + (health.problems.isEmpty ? "" : " (" + health.problems.joined(separator: "; ") + ")"))
            if let sandbox = health.sandbox {
                // A warning, not a failure: running unsandboxed is a choice (--sandbox off) or the machine's limit.
                print(sandbox.state == "on" ? "ok   sandbox: plans run in a sandbox, \(sandbox.detail ?? "")"
                                            : "warn sandbox: off, plans run as the server's user (\(sandbox.reason ?? "no reason given"))")
            }
            do {
                let state = try await client.orchestrator().value
                report(true, "token", "accepted; orchestrator \(state.state), \(state.workers.busy)/\(state.workers.total) workers busy")
            } catch let error as BatonClientError {
                report(false, "token", error.description)
            }
        } catch let error as BatonClientError {
            report(false, "server", error.description)
        }
        if failures > 0 { throw ExitCode.failure }
    }
}
