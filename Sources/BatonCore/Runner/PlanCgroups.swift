import Foundation

/// Memory and process limits through the cgroup v1 `memory` and `pids` controllers.
///
/// The server makes a directory `baton-<pid>` under its own cgroup in each hierarchy, and each
/// run a cgroup of its own inside it; `baton-confine` moves itself into the run's cgroups before
/// it builds the sandbox, so everything of the plan is counted from its first instruction. The
/// kernel then refuses a fork past `pids.max` and kills the plan's processes when it needs more
/// memory than `memory.limit_in_bytes`; both leave a count behind, which is how a limit breach is
/// told from any other failure.
///
/// Where the controllers cannot be written (an unprivileged server, cgroup v2 without a
/// delegated subtree), ``prepare(server:)`` says why and plans run without these two limits.
public struct PlanCgroups: Sendable, Hashable {
    /// `baton-<pid>` in the memory hierarchy.
    let memoryBase: String
    /// `baton-<pid>` in the pids hierarchy.
    let pidsBase: String

    /// Creates this server's directories, after removing those of servers that are gone; the
    /// reason when it cannot.
    public static func prepare(server processID: pid_t = getpid()) -> Result<PlanCgroups, CgroupsUnavailable> {
        let fileManager = FileManager.default
        var bases: [String: String] = [:]
        for controller in ["memory", "pids"] {
            guard let own = ownCgroup(controller: controller) else {
                return .failure(CgroupsUnavailable("no cgroup v1 \(controller) controller is mounted"))
            }
            removeStaleBases(in: own)
            let base = own + "/baton-\(processID)"
            guard mkdir(base, 0o755) == 0 || errno == EEXIST else {
                return .failure(CgroupsUnavailable("cannot create \(base): \(String(cString: strerror(errno)))"))
            }
            guard fileManager.isWritableFile(atPath: base + "/cgroup.procs") else {
                return .failure(CgroupsUnavailable("\(base) is not writable"))
            }
            bases[controller] = base
        }
        return .success(PlanCgroups(memoryBase: bases["memory"]!, pidsBase: bases["pids"]!))
    }

    /// A new pair of cgroups for one run, with `limits` set.
    func create(for run: String, limits: ResourceLimits) throws(CgroupsUnavailable) -> RunCgroups {
        let name = "\(run)-\(UInt32.random(in: 0...UInt32.max))"
        let cgroups = RunCgroups(memory: memoryBase + "/" + name, pids: pidsBase + "/" + name, limits: limits)
        do throws(CgroupsUnavailable) {
            for directory in cgroups.directories where mkdir(directory, 0o755) != 0 {
                throw CgroupsUnavailable("cannot create \(directory): \(String(cString: strerror(errno)))")
            }
            try Self.write("\(limits.memoryBytes)", to: cgroups.memory + "/memory.limit_in_bytes")
            // With swap, the limit covers memory and swap together; absent without swap accounting.
            try? Self.write("\(limits.memoryBytes)", to: cgroups.memory + "/memory.memsw.limit_in_bytes")
            try Self.write("\(limits.processes)", to: cgroups.pids + "/pids.max")
        } catch {
            cgroups.remove()
            throw error
        }
        return cgroups
    }

    static func write(_ value: String, to path: String) throws(CgroupsUnavailable) {
        let descriptor = open(path, O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw CgroupsUnavailable("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        let bytes = Array(value.utf8)
        guard Foundation.write(descriptor, bytes, bytes.count) == bytes.count else {
            throw CgroupsUnavailable("cannot write \(value) to \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// The directory of this process's cgroup in the v1 hierarchy of `controller`, from
    /// `/proc/self/cgroup` and where that hierarchy is mounted.
    static func ownCgroup(controller: String) -> String? {
        guard let membership = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8),
              let mounts = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        // "4:memory:/path/of/the/cgroup"
        guard let path = membership.split(separator: "\n").lazy.map({ $0.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false) })
            .first(where: { $0.count == 3 && $0[1].split(separator: ",").contains(Substring(controller)) })?[2] else { return nil }
        // "32 31 0:29 <root> <mount point> <options> - cgroup cgroup rw,memory"
        for line in mounts.split(separator: "\n") {
            let halves = line.split(separator: " - ", maxSplits: 1)
            guard halves.count == 2 else { continue }
            let source = halves[1].split(separator: " ")
            let fields = halves[0].split(separator: " ")
            guard source.count >= 3, source[0] == "cgroup", source[2].split(separator: ",").contains(Substring(controller)),
                  fields.count >= 5 else { continue }
            let root = String(fields[3]), mountPoint = String(fields[4])
            guard path == root || path.hasPrefix(root == "/" ? "/" : root + "/") else { continue }
            let relative = root == "/" ? String(path) : String(path.dropFirst(root.count))
            return relative == "/" ? mountPoint : mountPoint + relative
        }
        return nil
    }

    /// Clears what servers that no longer run left in `directory`: the processes of their runs
    /// and builds (a server killed with `kill -9` leaves them running), then the run cgroups and
    /// their `baton-<pid>` directories.
    private static func removeStaleBases(in directory: String) {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for entry in entries where entry.hasPrefix("baton-") {
            guard let owner = pid_t(entry.dropFirst("baton-".count)), kill(owner, 0) != 0, errno == ESRCH else { continue }
            let base = directory + "/" + entry
            let runs = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).filter { !$0.contains(".") }.map { base + "/" + $0 }
            for run in runs {
                let members = (try? String(contentsOfFile: run + "/cgroup.procs", encoding: .utf8)) ?? ""
                for member in members.split(separator: "\n").compactMap({ pid_t($0) }) { kill(member, SIGKILL) }
            }
            RunCgroups.removeWhenEmpty(runs + [base])
        }
    }
}

/// The cgroups of one run.
struct RunCgroups: Sendable {
    let memory: String
    let pids: String
    let limits: ResourceLimits

    var directories: [String] { [memory, pids] }

    /// The limit the run broke, if it broke one: the kernel killed a process of it for want of
    /// memory, or refused it a fork.
    func breach() -> LimitBreach? {
        if Self.counter("oom_kill", in: memory + "/memory.oom_control") > 0 { return .memory(bytes: limits.memoryBytes) }
        if Self.counter("max", in: pids + "/pids.events") > 0 { return .processes(limits.processes) }
        return nil
    }

    /// Removes both cgroups once the last process in them is gone; a process still dying keeps
    /// them a little longer.
    func remove() {
        Self.removeWhenEmpty(directories)
    }

    /// Removes `directories` in order now, or — while a process in them is still dying — a
    /// little later.
    static func removeWhenEmpty(_ directories: [String]) {
        guard !directories.allSatisfy({ rmdir($0) == 0 || errno == ENOENT }) else { return }
        Task.detached {
            for _ in 0..<50 {
                try? await Task.sleep(for: .milliseconds(100))
                if directories.allSatisfy({ rmdir($0) == 0 || errno == ENOENT }) { return }
            }
        }
    }

    /// The value of `name` in a file of "name value" lines.
    private static func counter(_ name: String, in path: String) -> Int {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[0] == name { return Int(parts[1]) ?? 0 }
        }
        return 0
    }
}

/// Why plans run without memory and process limits on this machine.
public struct CgroupsUnavailable: Error, CustomStringConvertible, Sendable, Hashable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
