import Testing
import VigilThreads

/// `Locked`, the lock every shared value of vigil lives behind: writes from all cores, none lost.
struct LockedTests {
    @Test func writesFromEveryCoreAreAllKept() {
        let counts = Locked<[Int: Int]>([:])
        _ = Parallel.map(Array(0..<8)) { worker in
            for i in 0..<20_000 { counts.withLock { $0[i % 64, default: 0] += worker + 1 } }
        }
        let all = counts.withLock { $0 }
        #expect(all.count == 64)
        // Each key gets 20,000 / 64 = 312.5 writes from each worker: 312 or 313, times 1 + 2 + … + 8.
        #expect(all.values.reduce(0, +) == 20_000 * 36)
        #expect(all.values.allSatisfy { $0 == 312 * 36 || $0 == 313 * 36 })
    }
}
