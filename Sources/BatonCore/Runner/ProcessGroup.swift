import CBatonProcess
import Foundation

/// What Baton needs to know about processes it started, read from the kernel.
enum ProcessGroup {
    /// How a child ended, read before it is reaped.
    struct Exit {
        let at: ContinuousClock.Instant
        let resources: ResourceUsage?
    }

    /// Waits, without reaping, until child `processID` has exited. `nil` when it can no longer
    /// be waited for (someone else reaped it).
    static func waitForExit(_ processID: pid_t) async -> Exit? {
        var delay = Duration.milliseconds(1)
        while true {
            var usage = rusage()
            var hasUsage: Int32 = 0
            switch baton_peek_exit(processID, &usage, &hasUsage) {
            case 1:
                guard hasUsage != 0 else { return Exit(at: .now, resources: nil) }
                let cpu = Duration.seconds(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
                    + .microseconds(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
                return Exit(at: .now, resources: ResourceUsage(cpuTime: cpu, maxResidentBytes: Int64(usage.ru_maxrss) * 1024))
            case 0:
                // Only when the child closed its output before exiting (rare), or during a
                // shutdown while it handles SIGTERM: a short poll that sleeps even then.
                await sleepEvenIfCancelled(for: delay)
                delay = min(delay * 2, .milliseconds(50))
            default:
                return nil
            }
        }
    }

    /// Whether any live (not zombie) process is in group `group`.
    static func hasLiveMembers(_ group: pid_t) -> Bool {
        members(of: group).contains { !$0.isZombie }
    }

    /// Whether group `group` still runs attempt `attempt` of plan `planID`: one of its live
    /// members carries that plan's `BATON_PLAN_ID` and `BATON_ATTEMPT`. Guards against killing
    /// an unrelated group that reused the number.
    static func runs(_ group: pid_t, planID: Int64, attempt: Int) -> Bool {
        let wanted: Set<String> = ["BATON_PLAN_ID=\(planID)", "BATON_ATTEMPT=\(attempt)"]
        return members(of: group).contains { member in
            guard !member.isZombie, let environ = FileManager.default.contents(atPath: "/proc/\(member.pid)/environ") else { return false }
            let variables = Set(environ.split(separator: 0).map { String(decoding: $0, as: UTF8.self) })
            return wanted.isSubset(of: variables)
        }
    }

    private struct Member {
        let pid: pid_t
        let isZombie: Bool
    }

    /// The processes whose process group is `group`, from `/proc/<pid>/stat`.
    private static func members(of group: pid_t) -> [Member] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { entry -> Member? in
            guard let pid = pid_t(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            // After the command name: state, ppid, pgrp, ...
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, pid_t(fields[2]) == group else { return nil }
            return Member(pid: pid, isZombie: fields[0] == "Z" || fields[0] == "X")
        }
    }
}
