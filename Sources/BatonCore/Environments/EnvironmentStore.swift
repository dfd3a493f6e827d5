import Foundation

/// The virtual environments of plans' requirement sets, under `<data-dir>/envs` (design §11).
///
/// `envs/<key>/` is the environment of one set for one interpreter (see
/// ``RequirementSet/key(for:)``); `envs/<key>.json` says what it holds and when it was used, and
/// is written only once the environment is complete — a directory without it (a build the
/// server did not live to finish) is removed and built again, never used. `envs/<key>.lock` is
/// held with `flock` while a build runs, so two processes never build one set at once; within a
/// server, plans that need a set being built wait for that one build.
///
/// Runs on a thread of its own: reading, walking and removing environments block.
public actor EnvironmentStore {
    public let directory: String
    private let executor: ThreadExecutor
    private var builds: [String: Task<Void, any Error>] = [:]
    /// Runs using each environment now: those are never pruned.
    private var users: [String: Int] = [:]

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    public init(directory: String) {
        self.directory = directory
        executor = ThreadExecutor(name: "baton.environments")
    }

    deinit {
        executor.shutdown()
    }

    /// An environment a run may use until it calls ``release(_:)``.
    public struct Lease: Sendable {
        public let key: String
        public let path: String
        /// The environment's interpreter.
        public var python: String { path + "/bin/python" }
        /// Whether this call built it (rather than finding it ready, or waiting for another
        /// plan's build).
        public let built: Bool
    }

    /// The ready environment of `set`, built first when there is none; `note` hears what
    /// happens, in lines for the plan's output, and `output` gets the build's own output.
    public func acquire(_ set: RequirementSet, interpreter: PythonInterpreter, builder: EnvironmentBuilder,
                        note: @escaping @Sendable (String) -> Void, output: @escaping @Sendable ([UInt8]) -> Void) async throws(EnvironmentError) -> Lease {
        let key = set.key(for: interpreter)
        var built = false
        while true {
            if var record = readRecord(key), FileManager.default.fileExists(atPath: path(of: key)) {
                record.lastUsedAt = Date()
                record.plans += 1
                try? write(record, key: key)
                users[key, default: 0] += 1
                return Lease(key: key, path: path(of: key), built: built)
            }
            if let build = builds[key] {
                note("waiting for environment \(key), which another plan is building")
                try await Self.outcome(of: build)
                continue
            }
            let build = Task { try await self.build(set, key: key, interpreter: interpreter, builder: builder, note: note, output: output) }
            builds[key] = build
            defer { builds[key] = nil }
            try await Self.outcome(of: build)
            built = true
        }
    }

    /// Waits for `build`; its error, as the environment error it is.
    private static func outcome(of build: Task<Void, any Error>) async throws(EnvironmentError) {
        do {
            try await build.value
        } catch let error as EnvironmentError {
            throw error
        } catch {
            throw .unavailable("\(error)")
        }
    }

    /// Ends a run's use of an environment.
    public func release(_ lease: Lease) {
        users[lease.key, default: 1] -= 1
        if users[lease.key] == 0 { users[lease.key] = nil }
    }

    /// Every complete environment, most recently used first.
    public func list() -> [EnvironmentInfo] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return entries.filter { $0.hasSuffix(".json") }.compactMap { name -> EnvironmentInfo? in
            let key = String(name.dropLast(".json".count))
            guard let record = readRecord(key) else { return nil }
            return EnvironmentInfo(key: key, record: record, sizeBytes: Self.size(of: path(of: key)), inUse: users[key] ?? 0)
        }.sorted { $0.lastUsedAt > $1.lastUsedAt }
    }

    /// Removes the environments last used before `cutoff` that no run is using or building, and
    /// what unfinished builds left; returns those removed.
    public func prune(unusedSince cutoff: Date) -> [EnvironmentInfo] {
        let removed = list().filter { $0.lastUsedAt < cutoff && $0.inUse == 0 && builds[$0.key] == nil }
        for environment in removed { remove(environment.key) }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for key in entries where !key.contains(".") && readRecord(key) == nil && builds[key] == nil {
            remove(key)
        }
        return removed
    }

    // MARK: Building

    private func build(_ set: RequirementSet, key: String, interpreter: PythonInterpreter, builder: EnvironmentBuilder,
                       note: @escaping @Sendable (String) -> Void, output: @escaping @Sendable ([UInt8]) -> Void) async throws(EnvironmentError) {
        let lock = try await lockFile(key, note: note)
        defer { close(lock) }
        // Another process may have finished it while this one waited for the lock.
        if readRecord(key) != nil { return }
        let target = path(of: key)
        if FileManager.default.fileExists(atPath: target) {
            note("removing environment \(key), whose build did not finish")
            try? FileManager.default.removeItem(atPath: target)
        }
        do {
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            if let user = builder.sandbox?.user, chown(target, user.uid, user.gid) != 0 {
                throw EnvironmentError.unavailable("cannot give \(target) to \(user.name): \(String(cString: strerror(errno)))")
            }
        } catch let error as EnvironmentError {
            throw error
        } catch {
            throw .unavailable("cannot create \(target): \(error)")
        }
        note("building environment \(key): \(set.requirements.joined(separator: " "))")
        let started = ContinuousClock.now
        do {
            try await builder.build(set, at: target, interpreter: interpreter, key: key, output: output)
        } catch {
            try? FileManager.default.removeItem(atPath: target)
            throw error
        }
        let now = Date()
        let record = EnvironmentRecord(requirements: set.requirements, python: interpreter.path, pythonVersion: interpreter.version,
                                       createdAt: now, lastUsedAt: now, plans: 0,
                                       buildMs: (ContinuousClock.now - started).wholeMilliseconds)
        do {
            try write(record, key: key)
        } catch {
            try? FileManager.default.removeItem(atPath: target)
            throw .unavailable("cannot record environment \(key): \(error)")
        }
    }

    /// `envs/<key>.lock`, held; waits, without blocking the thread, while another process holds it.
    private func lockFile(_ key: String, note: @Sendable (String) -> Void) async throws(EnvironmentError) -> Int32 {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw .unavailable("cannot create \(directory): \(error)")
        }
        let path = directory + "/" + key + ".lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .unavailable("cannot open \(path): \(String(cString: strerror(errno)))") }
        var noted = false
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                close(descriptor)
                throw .unavailable("cannot lock \(path): \(String(cString: strerror(errno)))")
            }
            if !noted {
                note("waiting for environment \(key), which another process is building")
                noted = true
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return descriptor
    }

    // MARK: Records

    private func path(of key: String) -> String { directory + "/" + key }

    private func readRecord(_ key: String) -> EnvironmentRecord? {
        guard let data = FileManager.default.contents(atPath: directory + "/" + key + ".json") else { return nil }
        return try? EnvironmentRecord.decoder.decode(EnvironmentRecord.self, from: data)
    }

    /// Writes the record whole or not at all: a new file renamed over the old.
    private func write(_ record: EnvironmentRecord, key: String) throws {
        let data = try EnvironmentRecord.encoder.encode(record)
        try data.write(to: URL(fileURLWithPath: directory + "/" + key + ".json"), options: .atomic)
    }

    private func remove(_ key: String) {
        // The record first: a directory left without one is never used.
        try? FileManager.default.removeItem(atPath: directory + "/" + key + ".json")
        try? FileManager.default.removeItem(atPath: path(of: key))
        try? FileManager.default.removeItem(atPath: directory + "/" + key + ".lock")
    }

    private static func size(of directory: String) -> Int64 {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return 0 }
        var total: Int64 = 0
        for case let relative as String in walker {
            var status = stat()
            if lstat(directory + "/" + relative, &status) == 0, status.st_mode & S_IFMT == S_IFREG { total += Int64(status.st_blocks) * 512 }
        }
        return total
    }
}

/// What `envs/<key>.json` holds.
struct EnvironmentRecord: Codable {
    var requirements: [String]
    var python: String
    var pythonVersion: String
    var createdAt: Date
    var lastUsedAt: Date
    /// Runs that have used it.
    var plans: Int
    var buildMs: Int64

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()
}

/// One environment, as `baton envs list` shows it.
public struct EnvironmentInfo: Sendable, Hashable {
    public let key: String
    public let requirements: [String]
    public let python: String
    public let pythonVersion: String
    public let sizeBytes: Int64
    public let createdAt: Date
    public let lastUsedAt: Date
    /// Runs that have used it.
    public let plans: Int
    /// Runs using it now.
    public let inUse: Int
    public let buildMs: Int64

    init(key: String, record: EnvironmentRecord, sizeBytes: Int64, inUse: Int) {
        self.key = key
        requirements = record.requirements
        python = record.python
        pythonVersion = record.pythonVersion
        self.sizeBytes = sizeBytes
        createdAt = record.createdAt
        lastUsedAt = record.lastUsedAt
        plans = record.plans
        self.inUse = inUse
        buildMs = record.buildMs
    }
}
