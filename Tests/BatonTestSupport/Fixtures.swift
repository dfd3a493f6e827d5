@testable import BatonCore
import Foundation
import Logging
import Testing

/// A directory under the system temp directory, removed when the test ends.
public struct TemporaryDirectory: ~Copyable, Sendable {
    public let path: String

    public init() throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("baton-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func file(_ name: String) -> String { path + "/" + name }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// A logger that drops everything, so test output shows only test results.
public let quietLogger = Logger(label: "baton.tests") { _ in SwiftLogNoOpLogHandler() }

/// A fixed instant tests count from, so every time in a test is explicit.
public let t0 = Date(timeIntervalSince1970: 1_800_000_000)

extension Date {
    public func adding(seconds: Double) -> Date { addingTimeInterval(seconds) }
}

/// A valid spec running `script`; tweak fields with `configure`.
public func spec(_ script: String = "tests/run.py", priority: Int = 5, _ configure: (inout PlanSpec) -> Void = { _ in }) -> PlanSpec {
    var spec = PlanSpec(entryPoint: .script(script), priority: priority)
    configure(&spec)
    return spec
}

extension PlanStore {
    /// Enqueues and returns the stored plan.
    @discardableResult
    public func add(_ spec: PlanSpec, at now: Date = t0) async throws -> Plan {
        try await enqueue(spec, now: now).plan
    }

    /// Recovers expired leases, ignoring the lost runs' process groups (tests that care pass
    /// their own `stopLostRun`).
    public func recoverExpiredLeases(now: Date) async throws -> [Recovery] {
        try await recoverExpiredLeases(now: now) { _, _ in }
    }

    /// Claims one plan for `owner` and fails the test if none was claimed.
    public func claimOne(owner: String = "node-a", at now: Date = t0) async throws -> Plan {
        try #require(try await claim(limit: 1, owner: owner, leaseDuration: .seconds(60), now: now).first)
    }
}

/// The error `body` throws, which must be a `PlanStoreError` with `code`.
public func expectStoreError(_ code: PlanStoreError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void) async {
    do {
        try await body()
        Issue.record("expected a \(code) error, but nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as PlanStoreError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected a \(code) error, got \(error)", sourceLocation: sourceLocation)
    }
}

/// A value shared with `@Sendable` closures in tests.
public final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    public func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
