import Foundation

/// Decides how a finished run ends, by the rules of the design (§5):
///
/// - stopped from outside: `timed_out` or `canceled`;
/// - killed by a signal Baton did not send: `failed` (`signal`);
/// - a result block with invalid JSON: `failed` (`bad_result`); `"status": "error"`: `failed`
///   (`reported`), whatever the exit code; `"status": "success"` with exit code 0: `succeeded`;
/// - otherwise the exit code decides: 0 `succeeded`, anything else `failed` (`nonzero_exit`).
enum RunVerdict {
    /// How the process ended.
    enum Exit: Equatable {
        case code(Int32)
        case signal(Int32)
    }

    static func outcome(
        exit: Exit, termination: RunTermination?, block: ResultBlockScanner.Block?, timeoutSeconds: Int, duration: Duration,
        maxBlockBytes: Int = ResultBlockScanner.defaultMaxBlockBytes
    ) -> (PlanOutcome, [PlanStep]) {
        var outcome = PlanOutcome(status: .failed, durationMs: duration.wholeMilliseconds)
        switch exit {
        case .code(let code): outcome.exitCode = code
        case .signal(let signal): outcome.signal = signal
        }

        var parsed: ParsedResult?
        var blockProblem: String?
        switch block {
        case .text(let text):
            do { parsed = try ParsedResult(text: text) } catch { blockProblem = "\(error)" }
        case .tooLarge(let bytes):
            blockProblem = "the result block is \(bytes) bytes, more than the \(maxBlockBytes)-byte limit: put large data in a file and its path in the result"
        case nil:
            break
        }
        outcome.result = parsed?.json
        outcome.usage = parsed?.usage
        let steps = parsed?.steps ?? []

        switch termination {
        case .timeout:
            outcome.status = .timedOut
            outcome.error = PlanFailure(kind: .timeout, message: "timed out after \(timeoutSeconds) s; its process group was stopped")
            return (outcome, steps)
        case .canceled(let reason):
            outcome.status = .canceled
            outcome.error = PlanFailure(kind: .canceled, message: reason)
            return (outcome, steps)
        case .shutdown:
            outcome.status = .canceled
            outcome.error = PlanFailure(kind: .canceled, message: "stopped because the server is shutting down")
            return (outcome, steps)
        case nil:
            break
        }

        if case .signal(let signal) = exit {
            outcome.error = PlanFailure(kind: .signal, message: "killed by signal \(signal) (\(signalName(signal)))")
        } else if let blockProblem {
            outcome.error = PlanFailure(kind: .badResult, message: blockProblem)
        } else if let parsed, !parsed.succeeded {
            outcome.error = PlanFailure(kind: .reported, message: parsed.errorMessage ?? "the script reported an error")
        } else if case .code(let code) = exit, code != 0 {
            outcome.error = PlanFailure(kind: .nonzeroExit, message: "exited with status \(code)")
        } else {
            outcome.status = .succeeded
        }
        return (outcome, steps)
    }

    static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGHUP: "SIGHUP"
        case SIGINT: "SIGINT"
        case SIGQUIT: "SIGQUIT"
        case SIGILL: "SIGILL"
        case SIGABRT: "SIGABRT"
        case SIGBUS: "SIGBUS"
        case SIGFPE: "SIGFPE"
        case SIGKILL: "SIGKILL"
        case SIGSEGV: "SIGSEGV"
        case SIGPIPE: "SIGPIPE"
        case SIGTERM: "SIGTERM"
        default: "signal \(signal)"
        }
    }
}

/// The object in a result block.
struct ParsedResult {
    /// The whole object, as the script printed it.
    let json: JSONText
    let succeeded: Bool
    let errorMessage: String?
    let steps: [PlanStep]
    let usage: PlanUsage?

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    init(text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: Data(trimmed.utf8), options: [.fragmentsAllowed])
        } catch {
            throw Invalid(description: "the result block is not valid JSON (\(error.localizedDescription)); print one JSON object between the markers, or use baton_plan.emit_result: \(trimmed.prefix(200))")
        }
        guard let object = value as? [String: Any] else {
            throw Invalid(description: "the result block must be a JSON object, got: \(trimmed.prefix(200))")
        }
        json = JSONText(unchecked: trimmed)
        switch object["status"] as? String {
        case "success", nil: succeeded = true
        case "error": succeeded = false
        case let other?:
            throw Invalid(description: "the result block's status must be \"success\" or \"error\", got \"\(other)\"")
        }
        errorMessage = Self.errorMessage(object["error"])
        let rawSteps = object["steps"] ?? object["nodeExecutions"]
        steps = (rawSteps as? [Any] ?? []).compactMap(Self.step(from:))
        usage = (object["usage"] as? [String: Any]).flatMap(Self.usage(from:))
    }

    private static func errorMessage(_ value: Any?) -> String? {
        switch value {
        case let text as String: text
        case let object as [String: Any]: (object["message"] as? String) ?? Self.jsonText(object)?.text
        default: nil
        }
    }

    private static func step(from value: Any) -> PlanStep? {
        guard let object = value as? [String: Any], let name = object["name"] as? String else { return nil }
        return PlanStep(
            name: name,
            status: object["status"] as? String ?? "success",
            startedAt: date(object["started_at"] ?? object["startedAt"]),
            finishedAt: date(object["finished_at"] ?? object["finishedAt"]),
            durationMs: int64(object["duration_ms"] ?? object["durationMs"]),
            input: object["input"].flatMap(jsonText),
            output: object["output"].flatMap(jsonText),
            error: errorMessage(object["error"])
        )
    }

    private static func usage(from object: [String: Any]) -> PlanUsage? {
        let usage = PlanUsage(
            inputTokens: int64(object["input_tokens"] ?? object["inputTokens"]),
            outputTokens: int64(object["output_tokens"] ?? object["outputTokens"]),
            costUSD: (object["cost_usd"] ?? object["costUsd"]).flatMap { ($0 as? NSNumber)?.doubleValue }
        )
        return usage == PlanUsage() ? nil : usage
    }

    private static func int64(_ value: Any?) -> Int64? {
        guard let number = value as? NSNumber, !(value is Bool) else { return nil }
        return number.int64Value
    }

    private static let fractionalSeconds = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private static let wholeSeconds = Date.ISO8601FormatStyle()

    private static func date(_ value: Any?) -> Date? {
        guard let text = value as? String else { return nil }
        return (try? fractionalSeconds.parse(text)) ?? (try? wholeSeconds.parse(text))
    }

    private static func jsonText(_ value: Any) -> JSONText? {
        guard !(value is NSNull), let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes]) else {
            return nil
        }
        return JSONText(unchecked: String(decoding: data, as: UTF8.self))
    }
}
