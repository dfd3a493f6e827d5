import Foundation

/// Whether `pid` is a live process (a zombie is dead: it only waits to be reaped).
public func isAlive(_ pid: Int32) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}

/// Command lines of this machine's live processes that contain `text`.
public func processesRunning(containing text: String) -> [String] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { entry -> String? in
        guard let pid = Int32(entry), isAlive(pid),
              let raw = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
        let command = raw.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
        return command.contains(text) ? "\(pid): \(command)" : nil
    }
}
