import Foundation

/// A serial executor that runs every job on one dedicated thread.
///
/// SQLite calls block, and so do file-system walks. An actor whose `unownedExecutor` is a
/// `ThreadExecutor` runs all of its methods on this thread, so those blocking calls never occupy
/// the Swift cooperative pool or an event loop, while callers simply `await` the actor.
public final class ThreadExecutor: SerialExecutor, @unchecked Sendable {
    // `jobs` and `stopping` are guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopping = false
    private var finalWork: (@Sendable () -> Void)?

    /// Starts the thread, marked with `name` (see ``currentName``).
    public init(name: String) {
        let thread = Thread { [self] in
            Thread.current.threadDictionary[Self.nameKey] = name
            runJobs()
        }
        thread.name = name
        thread.start()
    }

    private static let nameKey = "baton.executor"

    /// The name of the executor whose thread is running the caller, or `nil` on any other thread
    /// (the cooperative pool above all).
    public static var currentName: String? {
        Thread.current.threadDictionary[nameKey] as? String
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// Lets the thread end once the jobs already enqueued have run, running `finally` last on it.
    ///
    /// Call only when nothing can enqueue more work (an actor's `deinit`): jobs enqueued after
    /// the thread has ended would never run.
    public func shutdown(finally: (@Sendable () -> Void)? = nil) {
        condition.lock()
        stopping = true
        finalWork = finally
        condition.signal()
        condition.unlock()
    }

    private func runJobs() {
        var batch: [UnownedJob] = []
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping {
                condition.wait()
            }
            if jobs.isEmpty {
                let work = finalWork
                condition.unlock()
                work?()
                return
            }
            swap(&batch, &jobs)
            condition.unlock()
            for job in batch {
                job.runSynchronously(on: asUnownedSerialExecutor())
            }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
