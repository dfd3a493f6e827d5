import Foundation

/// Where a plan runs walled off from the server (design §11), built by `baton-confine`, the
/// project's own launcher in C (`Sources/baton-confine`).
///
/// A sandboxed plan gets a PID namespace of its own — when its first process ends, the kernel
/// kills everything left in it, daemons that called `setsid` included — and a mount namespace in
/// which the whole file system is read-only but the workspace, `/tmp` is an empty directory of
/// its own (its `HOME` is in there), `/dev` holds only the harmless devices, `/proc` shows only
/// its own processes, and the server's home, data directory, database and configuration are out
/// of sight. It runs as an unprivileged user with no capabilities, within its ``ResourceLimits``.
///
/// One process does it all — joins the run's cgroups, sets the open-file limit, creates the
/// namespaces and mounts, becomes the ``PlanUser`` — and then execs Python: bubblewrap and
/// `setpriv` did the same in three execs, which cost every plan several milliseconds more.
public struct Sandbox: Sendable, Hashable {
    /// The `baton-confine` executable.
    public let confine: String
    /// Directories no plan may see (the data directory): each is covered by an empty one, over
    /// anything else mounted there.
    public var hiddenDirectories: [String]
    /// Files no plan may see (a database or configuration file outside the data directory):
    /// each is covered by a device node that cannot be opened.
    public var hiddenFiles: [String]
    /// The server user's home (its credentials, caches, tokens of other tools): covered by an
    /// empty directory, with what plans need from under it — the interpreter, the workspace —
    /// mounted back on top.
    public var serverHome: String?
    /// Who plans run as when the server is root; `nil` when it is not, and plans run as the
    /// server's user inside a user namespace.
    public var user: PlanUser?
    /// The most a plan may use; a plan's own `limits` can only lower these.
    public var limits: ResourceLimits
    /// Where memory and process limits are enforced, or why they are not on this machine.
    public var cgroups: Result<PlanCgroups, CgroupsUnavailable>

    /// The plan's `HOME` inside the sandbox, in its private `/tmp`.
    public static let home = "/tmp/home"

    public init(confine: String, hiddenDirectories: [String] = [], hiddenFiles: [String] = [], serverHome: String? = nil,
                user: PlanUser? = nil, limits: ResourceLimits = ResourceLimits(),
                cgroups: Result<PlanCgroups, CgroupsUnavailable> = .failure(CgroupsUnavailable("not asked for"))) {
        self.confine = confine
        self.hiddenDirectories = hiddenDirectories
        self.hiddenFiles = hiddenFiles
        self.serverHome = serverHome
        self.user = user
        self.limits = limits
        self.cgroups = cgroups
    }

    /// The whole command line that runs `command` in the sandbox, in `workspace` (writable),
    /// with `readable` (the interpreter's installation, inline code, the helper module) mounted
    /// read-only where they are, inside `cgroups` when given.
    func commandLine(running command: [String], workspace: String, readable: [String], network: Bool = true,
                     limits: ResourceLimits, cgroups: RunCgroups?) -> [String] {
        var line = [confine]
        for directory in cgroups?.directories ?? [] { line += ["--cgroup", directory] }
        line += ["--open-files", "\(limits.openFiles)", "--sandbox", "--chdir", workspace]
        if let user { line += ["--user", "\(user.uid)", "\(user.gid)"] }
        if !network { line.append("--no-network") }
        for mount in mounts(workspace: workspace, readable: readable) { line += mount.arguments }
        return line + ["--"] + command
    }

    /// New cgroups for one run (`plan-<id>-<attempt>`, `env-<key>`), with `limits` set; `nil`
    /// where cgroups are not available.
    func runCgroups(named name: String, limits: ResourceLimits) throws(CgroupsUnavailable) -> RunCgroups? {
        guard case .success(let cgroups) = cgroups else { return nil }
        return try cgroups.create(for: name, limits: limits)
    }

    /// One mount of the sandbox's file system.
    private enum Mount {
        case tmpfs(String, permissions: String)
        case directory(String, permissions: String)
        case writable(String)
        case readOnly(String)
        /// A file covered by a device node that cannot be opened.
        case blank(String)

        var path: String {
            switch self {
            case .tmpfs(let path, _), .directory(let path, _), .writable(let path), .readOnly(let path), .blank(let path): path
            }
        }

        var arguments: [String] {
            switch self {
            case .tmpfs(let path, let permissions): ["--tmpfs", path, permissions]
            case .directory(let path, let permissions): ["--dir", path, permissions]
            case .writable(let path): ["--bind", path]
            case .readOnly(let path): ["--ro-bind", path]
            case .blank(let path): ["--blank", path]
            }
        }
    }

    /// Every mount over the read-only root, shallowest first: a later mount covers an earlier
    /// one, so what lies inside a covered or hidden directory (a workspace in `/tmp`, an
    /// interpreter under the home, an environment in the data directory) shows through it, and
    /// a hidden directory inside the workspace stays hidden.
    private func mounts(workspace: String, readable: [String]) -> [Mount] {
        let shown = readable.filter { FileManager.default.fileExists(atPath: $0) }
        let covers = ["/tmp", serverHome].compactMap { $0 } + hiddenDirectories
        var mounts: [Mount] = [.tmpfs("/tmp", permissions: "1777"), .tmpfs("/dev/shm", permissions: "1777")]
        if let serverHome { mounts.append(.tmpfs(serverHome, permissions: "0755")) }
        mounts += hiddenDirectories.map { .tmpfs($0, permissions: "0755") }
        mounts += hiddenFiles.filter { file in
            FileManager.default.fileExists(atPath: file) && !hiddenDirectories.contains(where: { file.hasPrefix($0 + "/") })
        }.map(Mount.blank)
        mounts.append(.directory(Self.home, permissions: "0777"))
        // Directories leading to what shows through a cover, open to every user.
        mounts += Self.leadingDirectories(to: [workspace] + shown, under: covers).map { .directory($0, permissions: "0755") }
        mounts.append(.writable(workspace))
        mounts += shown.map(Mount.readOnly)
        return mounts.enumerated().sorted { ($0.element.path.depth, $0.offset) < ($1.element.path.depth, $1.offset) }.map(\.element)
    }
}

private extension String {
    /// The number of components of an absolute path: `/` 0, `/tmp` 1, `/tmp/a` 2.
    var depth: Int { split(separator: "/").count }
}

extension Sandbox {
    /// The directories strictly between a covered directory and each of `paths` below it,
    /// parents first: `<home>/a/b/c` under `<home>` gives `<home>/a`, `<home>/a/b`.
    static func leadingDirectories(to paths: [String], under covered: [String]) -> [String] {
        var directories: [String] = []
        for path in paths {
            guard let root = covered.filter({ path.hasPrefix($0 + "/") }).max(by: { $0.count < $1.count }) else { continue }
            var current = root
            for component in path.dropFirst(root.count + 1).split(separator: "/").dropLast() {
                current += "/" + component
                if !directories.contains(current) { directories.append(current) }
            }
        }
        return directories
    }

    /// Whether plans run sandboxed (`--sandbox`).
    public enum Mode: String, Sendable, CaseIterable {
        /// Sandboxed where this machine allows it; unsandboxed, with a warning, where not.
        case auto
        /// Sandboxed, or the server does not start.
        case on
        /// Unsandboxed, as the server's own user.
        case off
    }

    /// What a server decided at start: the sandbox, or why plans run without one.
    public enum Decision: Sendable, Hashable {
        case on(Sandbox)
        case off(reason: String)

        public var sandbox: Sandbox? {
            if case .on(let sandbox) = self { sandbox } else { nil }
        }
    }

    /// What the server asks of the sandbox.
    public struct Options: Sendable {
        /// The data directory.
        public var hiddenDirectories: [String]
        /// The database and configuration file, where they lie outside the data directory.
        public var hiddenFiles: [String]
        /// `--plan-user`; `nil` takes ``PlanUser/defaultName`` when the server is root.
        public var planUser: String?
        public var limits: ResourceLimits
        /// `baton-confine`; `nil` looks beside this executable, then on the search path.
        public var confine: String?

        public init(hiddenDirectories: [String] = [], hiddenFiles: [String] = [], planUser: String? = nil,
                    limits: ResourceLimits = ResourceLimits(), confine: String? = nil) {
            self.hiddenDirectories = hiddenDirectories
            self.hiddenFiles = hiddenFiles
            self.planUser = planUser
            self.limits = limits
            self.confine = confine
        }
    }

    /// What the health report and `baton doctor` say about a sandbox that is on.
    public var summary: String {
        let who = user.map { "as \($0.name)" } ?? "as the server's user in a user namespace"
        let limited = switch cgroups {
        case .success: "memory \(limits.memoryBytes >> 20) MiB, \(limits.processes) processes, \(limits.openFiles) open files"
        case .failure(let reason): "\(limits.openFiles) open files; no memory or process limits (\(reason))"
        }
        return "\(who); \(limited)"
    }
}
