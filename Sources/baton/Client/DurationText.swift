/// Reads `30s`, `10m`, `2h`, `7d`, `1w` (or plain seconds) as a number of seconds.
struct DurationText {
    let seconds: Double
    /// Whether the text named its unit (`30s`, not `30`).
    let hasUnit: Bool

    init?(_ text: String) {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let last = trimmed.last else { return nil }
        let (number, unit) = units[last].map { (trimmed.dropLast(), $0) } ?? (Substring(trimmed), 1)
        guard let value = Double(number), value.isFinite, value >= 0 else { return nil }
        seconds = value * unit
        hasUnit = units[last] != nil
    }
}
