import BatonCore
import Foundation

extension Plan {
    /// The plan as the API shows it (design §3): snake_case, RFC 3339 times, `input` and
    /// `result` exactly as they were written, and `env` values replaced by `***`.
    var responseJSON: String {
        var json = JSONWriter()
        json.int("id", id)
        json.string("name", name)
        json.string(entryPoint.kind, entryPoint.value)
        json.strings("args", args)
        json.raw("input", input.text)
        json.int("priority", priority)
        json.int("timeout_seconds", timeoutSeconds)
        json.int("max_attempts", maxAttempts)
        json.map("env", env.mapValues { _ in "***" })
        json.map("labels", labels)
        json.string("idempotency_key", idempotencyKey)
        json.string("run_after", runAfter.map(Timestamp.format))
        json.string("status", status.rawValue)
        json.int("attempt", attempt)
        json.string("enqueued_at", Timestamp.format(enqueuedAt))
        json.string("started_at", startedAt.map(Timestamp.format))
        json.string("finished_at", finishedAt.map(Timestamp.format))
        json.int("duration_ms", durationMs)
        json.int("exit_code", exitCode)
        json.int("signal", signal)
        if let result { json.raw("result", result.text) } else { json.null("result") }
        if let error {
            json.object("error") { $0.string("kind", error.kind.rawValue); $0.string("message", error.message) }
        } else {
            json.null("error")
        }
        json.string("triggered_by", triggeredBy)
        json.bool("network", runtime.network)
        if let limits = runtime.limits {
            json.object("limits") {
                $0.int("memory_mb", limits.memoryMB)
                $0.int("processes", limits.processes)
            }
        } else {
            json.null("limits")
        }
        json.strings("requirements", runtime.requirements)
        json.string("requirements_file", runtime.requirementsFile)
        if let usage {
            json.object("usage") {
                $0.int("input_tokens", usage.inputTokens)
                $0.int("output_tokens", usage.outputTokens)
                $0.double("cost_usd", usage.costUSD)
            }
        } else {
            json.null("usage")
        }
        return json.finished
    }
}
