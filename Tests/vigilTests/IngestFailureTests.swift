import Foundation
import GRDB
import GRDBSQLite
import Logging
import Testing
import VigilCore
@testable import VigilDaemon

/// Failures sorted by cause, on a real SQLite state: a full database is the machine's failure (retried,
/// never quarantined); a batch SQLite refuses for its content fails the same way every time (quarantined).
@Suite struct IngestFailureTests {
    static func batch(_ csv: String, source: String = "feed.csv") -> IngestBatch {
        IngestBatch(source: source, bytes: Array(csv.utf8), format: .csv, mapping: ColumnMapping())
    }

    static func rows(_ n: Int, facility: String, note: String = "x") -> String {
        var text = "facility_id,measure,period,events,note\n"
        for i in 0..<n { text += "\(facility)\(i),CLABSI,2024-\(String(format: "%02d", i % 12 + 1)),\(i % 3),\(note)\n" }
        return text
    }

    static func withIngestor(log: LogLines? = nil, _ body: (StateStore, Ingestor) async throws -> Void) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-failure-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try StateStore(directory: dir)
        let model = try ModelConfigParser.parse(data: Array("""
            model: clabsi
            measure: CLABSI
            expected: { kind: mean, mean: 1 }
            detectors: [{ id: c, type: poisson_cusum, ratio: 2, h: 3 }]

            """.utf8), file: "m.yaml").get()
        let logger = log.map { lines in Logger(label: "test") { _ in lines } } ?? Logger(label: "test")
        let ingestor = Ingestor(store: store, models: [model], sinks: [], logger: logger)
        try await ingestor.start()
        try await body(store, ingestor)
        await ingestor.drain()
    }

    /// SQLITE_FULL (`PRAGMA max_page_count`): every batch refused as transient while it lasts, the state not
    /// writable (what `/readyz` reports) and logged once, not per batch; then the same batch goes through.
    @Test func fullDatabaseIsTransientAndRetrySucceeds() async throws {
        let log = LogLines()
        try await Self.withIngestor(log: log) { store, ingestor in
            let pages = try await store.pool.write { db in try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0 }
            try await store.pool.write { db in try db.execute(sql: "PRAGMA max_page_count = \(pages + 2)") }
            let big = Self.batch(Self.rows(5000, facility: "F"))
            for _ in 0..<3 {
                await #expect {
                    try await ingestor.submit(big)
                } throws: { error in
                    (error as? IngestFailure)?.isTransient == true && "\(error)".contains("full")
                }
            }
            #expect(ingestor.storageProblem?.contains("full") == true)
            #expect(log.messages.filter { $0.contains("cannot be written") }.count == 1, "\(log.messages)")
            #expect((try store.recordCount()) == 0)
            try await store.pool.write { db in try db.execute(sql: "PRAGMA max_page_count = 1073741823") }
            let result = try await ingestor.submit(big)
            let stored = try store.recordCount()
            #expect(result.accepted == 5000 && stored == 5000)
            #expect(ingestor.storageProblem == nil)
            #expect(log.messages.filter { $0.contains("writable again") }.count == 1, "\(log.messages)")
        }
    }

    @Test func batchSQLiteRefusesIsRejectedAndOthersGoOn() async throws {
        try await Self.withIngestor { store, ingestor in
            try await store.pool.write { db in _ = sqlite3_limit(db.sqliteConnection, SQLITE_LIMIT_LENGTH, 4000) }
            let tooBig = Self.batch(Self.rows(3, facility: "B", note: String(repeating: "n", count: 5000)))
            await #expect {
                try await ingestor.submit(tooBig)
            } throws: { error in
                (error as? IngestFailure).map { !$0.isTransient } == true
            }
            let good = try await ingestor.submit(Self.batch(Self.rows(10, facility: "G")))
            let stored = try store.recordCount()
            #expect(good.accepted == 10 && stored == 10)
        }
    }

    @Test func classificationBySQLiteCode() {
        #expect(IngestFailure.classify(StateError("disk I/O error", code: SQLITE_IOERR | (3 << 8))).isTransient)
        #expect(IngestFailure.classify(StateError("database or disk is full", code: SQLITE_FULL)).isTransient)
        #expect(IngestFailure.classify(StateError("database is locked", code: SQLITE_BUSY)).isTransient)
        #expect(!IngestFailure.classify(StateError("string or blob too big", code: SQLITE_TOOBIG)).isTransient)
        #expect(!IngestFailure.classify(StateError("constraint", code: SQLITE_CONSTRAINT | (8 << 8))).isTransient)
        #expect(IngestFailure.classify(StateError("the state database is closed")).isTransient)
    }
}

/// A log handler that keeps every message, for tests that count what was logged.
final class LogLines: LogHandler, @unchecked Sendable {
    // `lines` is touched only under `lock`; the handler's own settings are set before use.
    private let lock = NSLock()
    private var lines: [String] = []
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String,
             function: String, line: UInt) {
        lock.lock()
        lines.append("\(level) \(message)")
        lock.unlock()
    }

    var messages: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }
}
