import ArgumentParser
import Foundation

/// A `baton serve` config file (`--config`): the same lines as an environment file, so one file
/// serves both `--config` and systemd's `EnvironmentFile=`.
///
/// ```
/// # comments and blank lines are skipped
/// BATON_PORT=8080
/// BATON_DATA_DIR="/var/lib/baton"
/// ```
///
/// A name that is not a setting is refused, so a typo is never silently ignored.
struct ConfigFile {
    let values: [String: String]

    init(path: String, knownNames: Set<String>) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("--config \(path): cannot read that file")
        }
        var values: [String: String] = [:]
        // \.isNewline also splits at "\r\n", a single Character: files written on Windows read the same.
        let lines = String(decoding: data, as: UTF8.self).split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        for (index, rawLine) in lines.enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let place = "\(path):\(index + 1)"
            guard let equals = line.firstIndex(of: "=") else {
                throw ValidationError("\(place): expected NAME=value, like BATON_PORT=8080; got \(line)")
            }
            let name = line[..<equals].trimmingCharacters(in: .whitespaces)
            guard knownNames.contains(name) else {
                throw ValidationError("\(place): \(name) is not a setting; the settings are \(knownNames.sorted().joined(separator: ", "))")
            }
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let quote = value.first, quote == "\"" || quote == "'", value.last == quote {
                value = String(value.dropFirst().dropLast())
            }
            values[name] = value
        }
        self.values = values
    }
}
