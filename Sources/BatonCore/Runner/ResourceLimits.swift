/// How much of the machine one sandboxed plan may use (design §11): memory and processes through
/// its own cgroup, open files through an rlimit.
public struct ResourceLimits: Sendable, Hashable {
    /// Memory, page cache and its private `/tmp` included (`--plan-memory`).
    public var memoryBytes: Int64
    /// Processes and threads at once (`--plan-processes`).
    public var processes: Int
    /// Open file descriptors per process.
    public var openFiles: Int

    public static let defaultMemoryBytes: Int64 = 2 << 30
    public static let defaultProcesses = 512
    public static let defaultOpenFiles = 4096

    public init(memoryBytes: Int64 = defaultMemoryBytes, processes: Int = defaultProcesses, openFiles: Int = defaultOpenFiles) {
        self.memoryBytes = memoryBytes
        self.processes = processes
        self.openFiles = openFiles
    }

    /// These limits, lowered where a plan asks for less (`limits` in its spec); a plan never gets
    /// more than the server allows.
    public func lowered(to requested: PlanResourceRequest?) -> ResourceLimits {
        guard let requested else { return self }
        var limits = self
        if let megabytes = requested.memoryMB { limits.memoryBytes = min(memoryBytes, Int64(megabytes) << 20) }
        if let processes = requested.processes { limits.processes = min(self.processes, processes) }
        return limits
    }
}

/// A limit a plan broke, as its failure names it.
public enum LimitBreach: Sendable, Hashable {
    case memory(bytes: Int64)
    case processes(Int)

    public var message: String {
        switch self {
        case .memory(let bytes):
            "the plan ran out of memory: it needed more than its limit of \(bytes >> 20) MiB (--plan-memory, or limits.memory_mb), and the kernel killed it"
        case .processes(let count):
            "the plan hit its limit of \(count) processes (--plan-processes, or limits.processes): starting another one failed"
        }
    }
}
