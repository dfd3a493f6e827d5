import BatonClient
import Foundation

/// How plans and times read in the CLI's human output.
enum Formatting {
    /// `850ms`, `12.3s`, `4m05s`, `2h10m`.
    static func duration(milliseconds: Int64) -> String {
        switch milliseconds {
        case ..<1000: return "\(milliseconds)ms"
        case ..<60_000: return String(format: "%.1fs", Double(milliseconds) / 1000)
        case ..<3_600_000: return String(format: "%dm%02ds", milliseconds / 60_000, milliseconds / 1000 % 60)
        default: return String(format: "%dh%02dm", milliseconds / 3_600_000, milliseconds / 60_000 % 60)
        }
    }

    /// The one line that says how a plan ended (or where it is).
    static func summary(_ plan: PlanResource) -> String {
        var parts = ["plan \(plan.id) \(plan.status.replacingOccurrences(of: "_", with: " "))"]
        if let took = plan.durationMs { parts.append("in \(duration(milliseconds: took))") }
        if let code = plan.exitCode { parts.append("(exit code \(code))") } else if let signal = plan.signal { parts.append("(signal \(signal))") }
        var line = parts.joined(separator: " ")
        if let error = plan.error {
            line += error.kind == plan.status ? ": \(error.message)" : ": \(error.kind): \(error.message)"
        }
        if plan.attempt > 1 { line += " [attempt \(plan.attempt) of \(plan.maxAttempts)]" }
        return line
    }

    /// Rows as aligned columns, the first row being the header.
    static func table(_ rows: [[String]]) -> String {
        guard let first = rows.first else { return "" }
        let widths = (0..<first.count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// `key: value` lines with the values aligned.
    static func fields(_ lines: [(String, String)]) -> String {
        let width = (lines.map(\.0.count).max() ?? 0) + 2
        return lines.map { key, value in (key + ":").padding(toLength: width, withPad: " ", startingAt: 0) + value }
            .joined(separator: "\n")
    }
}
