import Foundation
import VigilThreads
import ServiceLifecycle
import GRDBSQLite

/// Copies the write-ahead log into the database once a second on a connection and thread of its own (a
/// passive checkpoint: it never waits for, nor blocks, the writer). Under steady writes such a checkpoint
/// never reaches the log's end, so the log would never start over: the ingest thread ends that with
/// `StateStore.finishCheckpoint` after it has answered a batch. SQLite's automatic checkpoint would run
/// inside the commit that crosses its threshold, with that batch's acknowledgement waiting on it. A service of the daemon's group: it stops, and closes its
/// connection, when the group shuts down.
final class CheckpointService: Service, @unchecked Sendable {
    // @unchecked: `connection` is used by the checkpoint thread alone, and closed after that thread ended.
    private let connection: OpaquePointer
    private let interval: Double
    private let stopping = NSCondition()
    private var stop = false
    private let ended = Locked<CheckedContinuation<Void, Never>?>(nil)

    init(store: StateStore, every seconds: Double = 1) throws {
        connection = try store.checkpointConnection()
        interval = seconds
    }

    func run() async throws {
        async let finished: Void = withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            ended.withLock { $0 = done }
            Parallel.thread(named: "vigil-checkpoint", stackSize: 1 << 20) { [self] in checkpointUntilStopped() }
        }
        try? await gracefulShutdown()
        requestStop()
        await finished
    }

    private func checkpointUntilStopped() {
        stopping.lock()
        while !stop {
            // Waits the interval, or less when shutdown comes.
            if stopping.wait(until: Date().addingTimeInterval(interval)) { continue }
            var frames: Int32 = 0, copied: Int32 = 0
            _ = sqlite3_wal_checkpoint_v2(connection, nil, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied)
        }
        stopping.unlock()
        sqlite3_close(connection)
        ended.withLock { $0?.resume(); $0 = nil }
    }

    private func requestStop() {
        stopping.lock()
        stop = true
        stopping.signal()
        stopping.unlock()
    }
}
