import Foundation
import Logging
import Synchronization

/// Writes one run's live output to the store in batches, and records its process group.
///
/// Output events arrive on the runner's reading tasks and must never wait for the database:
/// they are buffered here and written every `interval` by one task, in order. Only the first
/// `liveLimit` bytes of each stream are kept live (the store keeps no more while a run is
/// going); the run's whole head-and-tail capture is saved when it ends. The process group is
/// written at once, and retried: recovery needs it to make sure a lost run is dead. `finish()`
/// writes what is left and returns when everything is written.
final class RunOutputWriter: Sendable {
    private struct Batch {
        var chunks: [(stream: StandardStream, bytes: [UInt8])] = []
        /// Everything kept live so far (flushed or not), for readers joining mid-run.
        var kept: [StandardStream: [UInt8]] = [:]
        var seen: [StandardStream: Int64] = [:]
        var finished = false
    }

    private final class Buffer: Sendable {
        let batch = Mutex(Batch())
    }

    private let buffer = Buffer()
    private let liveLimit: Int
    private let writer: Task<Void, Never>
    private let groupWriter = Mutex<Task<Void, Never>?>(nil)
    private let store: any PlanStore
    private let attempt: AttemptRef
    private let now: @Sendable () -> Date
    private let logger: Logger

    init(store: any PlanStore, attempt: AttemptRef, interval: Duration, liveLimit: Int,
         now: @escaping @Sendable () -> Date, logger: Logger) {
        self.liveLimit = liveLimit
        self.store = store
        self.attempt = attempt
        self.now = now
        self.logger = logger
        let buffer = buffer
        writer = Task {
            while true {
                let batch = buffer.batch.withLock { batch in
                    defer { batch.chunks = [] }
                    return batch
                }
                do {
                    for (stream, bytes) in Self.merged(batch.chunks) {
                        try await store.appendOutput(bytes, stream: stream, for: attempt)
                    }
                } catch {
                    // The run no longer holds its plan, or the store failed; the run's final
                    // output is saved (or refused) when it ends.
                    logger.debug("could not write live output", metadata: ["error": "\(error)"])
                }
                if batch.finished { return }
                // Cancelled by finish(): the sleep ends at once and the rest is written.
                try? await Task.sleep(for: interval)
            }
        }
    }

    func recordStart(processGroup: Int32) {
        let (store, attempt, now, logger) = (store, attempt, now, logger)
        groupWriter.withLock { writer in
            writer = Task {
                var delay = Duration.milliseconds(50)
                for _ in 0..<8 {
                    do {
                        try await store.recordProcessGroup(processGroup, for: attempt, now: now())
                        return
                    } catch let error as PlanStoreError where error.code == .attemptNotHeld || error.code == .planNotFound {
                        return  // the run has ended or lost its plan: nothing to protect
                    } catch {
                        logger.warning("cannot record a run's process group yet; trying again",
                                       metadata: ["plan.id": "\(attempt.planID)", "error": "\(error)"])
                        await sleepEvenIfCancelled(for: delay)
                        delay = min(delay * 2, .seconds(2))
                    }
                }
                logger.error("cannot record a run's process group; if this node dies, recovery cannot stop the run before it runs again",
                             metadata: ["plan.id": "\(attempt.planID)", "process.group": "\(processGroup)"])
            }
        }
    }

    /// Records how the run's setup went, as a `setup` event; a run that lost its plan meanwhile
    /// has nothing to record.
    func recordSetup(_ detail: String) {
        let (store, attempt, now, logger) = (store, attempt, now, logger)
        Task {
            do {
                try await store.recordSetup(detail, for: attempt, now: now())
            } catch let error as PlanStoreError where error.code == .attemptNotHeld || error.code == .planNotFound {
                return
            } catch {
                logger.warning("cannot record a run's setup", metadata: ["plan.id": "\(attempt.planID)", "error": "\(error)"])
            }
        }
    }

    /// Buffers a chunk for the store; returns how many bytes of `stream` came before it.
    func append(_ bytes: [UInt8], stream: StandardStream) -> Int64 {
        buffer.batch.withLock { batch in
            let offset = batch.seen[stream, default: 0]
            batch.seen[stream] = offset + Int64(bytes.count)
            let room = liveLimit - batch.kept[stream, default: []].count
            if room > 0 {
                let kept = bytes.count <= room ? bytes : Array(bytes.prefix(room))
                batch.kept[stream, default: []] += kept
                batch.chunks.append((stream, kept))
            }
            return offset
        }
    }

    /// The output kept live so far, from its start, whether or not it has reached the store yet.
    /// Together with the offsets of later chunks, a reader joining mid-run misses nothing.
    func snapshot() -> [StandardStream: [UInt8]] {
        buffer.batch.withLock { $0.kept }
    }

    /// Writes what is buffered and stops; returns once everything is written.
    func finish() async {
        buffer.batch.withLock { $0.finished = true }
        writer.cancel()
        await writer.value
        await groupWriter.withLock { $0 }?.value
    }

    /// Consecutive chunks of one stream joined, so a batch is a few writes, not hundreds.
    private static func merged(_ chunks: [(stream: StandardStream, bytes: [UInt8])]) -> [(StandardStream, [UInt8])] {
        var merged: [(StandardStream, [UInt8])] = []
        for (stream, bytes) in chunks {
            if let last = merged.last, last.0 == stream {
                merged[merged.count - 1].1 += bytes
            } else {
                merged.append((stream, bytes))
            }
        }
        return merged
    }
}
