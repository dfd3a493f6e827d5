import ArgumentParser
import BatonClient
import BatonCore
import Foundation
import UnixSignals

/// `baton enqueue`: submit a plan, and with `--wait` stay until it ends (the CI command).
struct Enqueue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Submit a plan; with --wait, wait for it and exit with its outcome.",
        discussion: """
            Give exactly one entry point: --script (a .py path relative to the server's \
            workspace), --module (run with -m) or --code (inline source).

            With --wait the exit code says how the plan ended: 0 succeeded, 1 failed, 3 timed out, \
            4 canceled; 5 means the server could not be reached or refused the request, 64 a \
            usage error. Ctrl-C (or SIGTERM) stops waiting and leaves the plan running (exit 130, \
            or 143), unless --cancel-on-interrupt.

            Example (CI): baton enqueue --module pytest --arg -q --label branch=main --wait --follow
            """
    )

    @Option(help: ArgumentHelp("A .py file to run, relative to the server's workspace.", valueName: "path"))
    var script: String?
    @Option(help: ArgumentHelp("A module to run with python -m.", valueName: "name"))
    var module: String?
    @Option(help: ArgumentHelp("Python source to run.", valueName: "source"))
    var code: String?
    @Option(name: .customLong("arg"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("An argument for the script (repeat for more); may start with a dash: --arg -q.", valueName: "value"))
    var args: [String] = []
    @Option(help: ArgumentHelp("The JSON written to the script's stdin: JSON text, @file, or - for stdin. [default: {}]", valueName: "json"))
    var input: String?
    @Option(help: "A name to find the plan by. [default: from the entry point]")
    var name: String?
    @Option(help: "0 (most urgent) to 9 (least). [default: 5]")
    var priority: Int?
    @Option(help: ArgumentHelp("Seconds the plan may run. [default: the server's --default-timeout]", valueName: "seconds"))
    var timeout: Int?
    @Option(help: ArgumentHelp("Runs allowed when a run fails or times out. [default: 1]", valueName: "n"))
    var maxAttempts: Int?
    @Option(name: .customLong("env"), help: ArgumentHelp("An environment variable for the script (repeatable); never shown back.", valueName: "KEY=VALUE"))
    var environment: [String] = []
    @Option(name: .customLong("label"), help: ArgumentHelp("A label to filter by (repeatable).", valueName: "KEY=VALUE"))
    var labels: [String] = []
    @Option(help: ArgumentHelp("Enqueueing again with the same key returns the first plan.", valueName: "key"))
    var idempotencyKey: String?
    @Option(help: ArgumentHelp("Not before this time: RFC 3339 (2026-05-01T12:00:00Z) or a delay (30s, 10m, 2h).", valueName: "time"))
    var runAfter: String?
    @Option(name: .customLong("requirement"), help: ArgumentHelp("""
        A Python package the plan needs, as pip writes it (repeatable): Baton builds a virtual environment \
        with the set once and reuses it.
        """, valueName: "spec"))
    var requirements: [String] = []
    @Option(help: ArgumentHelp("A pip requirements file in the workspace, instead of --requirement.", valueName: "path"))
    var requirementsFile: String?
    @Flag(name: .customLong("no-network"), help: "Run the plan without any network, loopback included (sandboxed plans).")
    var noNetwork = false
    @Option(help: ArgumentHelp("Lower the plan's memory limit below the server's --plan-memory.", valueName: "MiB"))
    var memoryLimit: Int?
    @Option(help: ArgumentHelp("Lower the plan's process limit below the server's --plan-processes.", valueName: "count"))
    var processLimit: Int?
    @Flag(help: "Wait until the plan ends; exit with its outcome.")
    var wait = false
    @Flag(help: "Print the plan's output as it runs (implies --wait).")
    var follow = false
    @Flag(help: "With --wait: cancel the plan on Ctrl-C instead of leaving it running.")
    var cancelOnInterrupt = false
    @Flag(help: "Print the plan as JSON.")
    var json = false
    @OptionGroup var connection: ConnectionOptions
    /// The request body, built while validating so that bad input is a usage error.
    private var body = Data()

    private enum CodingKeys: CodingKey {
        case script, module, code, args, input, name, priority, timeout, maxAttempts, environment, labels
        case idempotencyKey, runAfter, requirements, requirementsFile, noNetwork, memoryLimit, processLimit
        case wait, follow, cancelOnInterrupt, json, connection
    }

    mutating func validate() throws {
        let entryPoints = [script, module, code].compactMap { $0 }
        guard entryPoints.count == 1 else {
            throw ValidationError("give exactly one of --script, --module or --code")
        }
        if let priority, !(0...9).contains(priority) { throw ValidationError("--priority must be from 0 to 9; got \(priority)") }
        if let timeout, timeout < 1 { throw ValidationError("--timeout must be at least 1 second; got \(timeout)") }
        if let maxAttempts, maxAttempts < 1 { throw ValidationError("--max-attempts must be at least 1; got \(maxAttempts)") }
        if cancelOnInterrupt, !(wait || follow) { throw ValidationError("--cancel-on-interrupt needs --wait or --follow") }
        body = try planJSON()
    }

    func run() async throws {
        try await connection.run { client in
            let reply = try await client.enqueue(planJSON: body)
            let plan = reply.value
            let line = "plan \(plan.id) \(plan.status)" + (reply.status == 200 ? " (an earlier plan with this idempotency key)" : "")
            guard wait || follow else {
                if json { Terminal.json(reply.body) } else { print(line) }
                return
            }
            let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
            if !json { printNote(line) }
            let waiter = PlanWaiter(client: client, planID: plan.id, follow: follow, json: json, cancelOnInterrupt: cancelOnInterrupt)
            throw ExitCode(try await waiter.run(interruptedBy: signals))
        }
    }

    /// The plan as the API takes it. `input` goes in as the JSON text given, never re-encoded,
    /// so its numbers and key order reach the script as written.
    func planJSON() throws -> Data {
        var fields: [String: Any] = [:]
        if let script { fields["script"] = script }
        if let module { fields["module"] = module }
        if let code { fields["code"] = code }
        if !args.isEmpty { fields["args"] = args }
        if let name { fields["name"] = name }
        if let priority { fields["priority"] = priority }
        if let timeout { fields["timeout_seconds"] = timeout }
        if let maxAttempts { fields["max_attempts"] = maxAttempts }
        if !environment.isEmpty { fields["env"] = try Self.pairs(environment, option: "--env") }
        if !labels.isEmpty { fields["labels"] = try Self.pairs(labels, option: "--label") }
        if let idempotencyKey { fields["idempotency_key"] = idempotencyKey }
        if let runAfter { fields["run_after"] = try Self.timestamp(runAfter) }
        if !requirements.isEmpty { fields["requirements"] = requirements }
        if let requirementsFile { fields["requirements_file"] = requirementsFile }
        if noNetwork { fields["network"] = false }
        var limits: [String: Int] = [:]
        if let memoryLimit { limits["memory_mb"] = memoryLimit }
        if let processLimit { limits["processes"] = processLimit }
        if !limits.isEmpty { fields["limits"] = limits }
        var body = try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])
        if let input {
            let text = try Self.inputText(input)
            body.removeLast()  // the closing brace
            body.append(Data(((fields.isEmpty ? "" : ",") + "\"input\":").utf8))
            body.append(text)
            body.append(Data("}".utf8))
        }
        return body
    }

    static func pairs(_ items: [String], option: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for item in items {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw ValidationError("\(option) takes KEY=VALUE; got \(item)")
            }
            result[String(item[..<equals])] = String(item[item.index(after: equals)...])
        }
        return result
    }

    /// `--input`: JSON text, `@file`, or `-` for stdin; checked to be one JSON value.
    static func inputText(_ argument: String) throws -> Data {
        let data: Data
        if argument == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else if argument.hasPrefix("@") {
            let path = String(argument.dropFirst())
            guard let contents = FileManager.default.contents(atPath: path) else {
                throw ValidationError("--input @\(path): cannot read that file")
            }
            data = contents
        } else {
            data = Data(argument.utf8)
        }
        let shown = argument.count > 40 ? String(argument.prefix(40)) + "…" : argument
        var text = data
        if text.starts(with: [0xEF, 0xBB, 0xBF]) { text.removeFirst(3) }  // a UTF-8 byte order mark
        guard let string = String(validating: text, as: UTF8.self) else {
            throw ValidationError("--input \(shown) is not UTF-8 text; save it as UTF-8")
        }
        do {
            _ = try JSONText(validating: string)
        } catch {
            throw ValidationError("--input is not valid JSON (\(shown)); quote it for the shell, e.g. --input '{\"n\": 1}'")
        }
        return text
    }

    /// An RFC 3339 time as given, or a delay (`10m`) turned into one.
    static func timestamp(_ text: String) throws -> String {
        if let delay = DurationText(text), delay.hasUnit {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return formatter.string(from: Date().addingTimeInterval(delay.seconds))
        }
        guard text.contains("T") || text.contains("t") else {
            throw ValidationError("--run-after takes an RFC 3339 time (2026-05-01T12:00:00Z) or a delay (30s, 10m, 2h); got \(text)")
        }
        return text
    }
}
