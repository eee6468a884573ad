import Foundation
import GRDB
import Testing
import VigilCore
@testable import VigilDaemon

/// The state database's records table (SPEC §4): what is stored reads back as the same records, a key is
/// replaced, and a state written by the first layout (v1, canonical NDJSON lines) is migrated.
@Suite struct StateStoreTests {
    static let feed = """
        {"facility_id":"F1","measure":"CLABSI","period":"2024-03","events":2,"exposure":1200.5,"covariates":{"beds":"55","size":"small"}}
        {"facility_id":"F1","measure":"CLABSI","period":"2024-04","events":0,"exposure":980,"covariates":{"beds":"","size":"small"}}
        {"facility_id":"F2 \\"north\\"","measure":"CDI","period":"2024-W07","events":1,"covariates":{"note":"ünïcode, a tab\\t and \(String(repeating: "x", count: 300))"}}
        {"facility_id":"F3","measure":"CAUTI","period":"2024-Q2","events":4,"exposure":3000}
        {"facility_id":"F5","measure":"FALLS","period":"2024-06","events":3,"trials":88}
        {"facility_id":"F4","measure":"SSI","time":"2024-05-02T10:30:00-05:00","outcome":1,"episode_id":"e-1","covariates":{"age":"71"}}
        {"facility_id":"F4","measure":"SSI","time":"2024-05-03","outcome":0,"covariates":{"age":"64","asa":"3"}}
        {"facility_id":"F4","measure":"SSI","time":"2024-05-03","outcome":0,"covariates":{"age":"65","asa":"3"}}
        """

    static func records(_ text: String) -> [VigilCore.Record] {
        let batch = IngestBatch(source: "feed", bytes: Array(text.utf8), format: .ndjson, mapping: ColumnMapping())
        #expect(batch.rejected.isEmpty, "\(batch.rejected)")
        return batch.records
    }

    /// Everything the engine reads of a record, as text.
    static func describe(_ record: VigilCore.Record) -> String {
        let covariates = zip(record.covariates.names.names, record.covariates.values).map { "\($0)=\($1)" }.joined(separator: ";")
        switch record {
        case let .aggregate(r):
            return "a \(r.facility) \(r.measure) \(r.period.unit) \(r.period) \(r.events) \(r.exposure.map { "\($0)" } ?? "-") "
                + "\(r.trials.map { "n=\($0)" } ?? "-") \(covariates)"
        case let .patient(r):
            return "p \(r.facility) \(r.measure) \(r.time.text) \(r.time.instant) \(r.outcome) \(r.episode ?? "-") \(covariates)"
        }
    }

    static func stored(_ store: StateStore) throws -> [VigilCore.Record] {
        var out: [VigilCore.Record] = []
        let problems = try store.forEachRecordChunk(size: 3) { out += $0 }
        #expect(problems.isEmpty)
        return out
    }

    static func temporaryDirectory() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-state-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func recordsReadBackAsWritten() throws {
        let dir = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let written = Self.records(Self.feed)
        do {
            let store = try StateStore(directory: dir)
            _ = try store.commit(records: written.map(StoredRecord.init), events: [], sinks: [], now: Date())
        }
        // A new store (as after a restart) reads the shapes and records from the file.
        let store = try StateStore(directory: dir)
        let back = try Self.stored(store)
        #expect(back.map(Self.describe).sorted() == written.map(Self.describe).sorted())
        // The duplicate check's hashes agree between a record as sent and as read back.
        let sent = Dictionary(uniqueKeysWithValues: written.map(StoredRecord.init).map { ($0.keyHash, $0.contentHash) })
        for record in back.map(StoredRecord.init) { #expect(sent[record.keyHash] == record.contentHash) }
        #expect(try store.recordCount() == 8)
        #expect(try store.pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM shapes") } == 5)
    }

    @Test func aKeyIsReplacedAndAPatientWithoutEpisodeIsItsWholeRecord() throws {
        let dir = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try StateStore(directory: dir)
        _ = try store.commit(records: Self.records(Self.feed).map(StoredRecord.init), events: [], sinks: [], now: Date())
        let revision = Self.records("""
            {"facility_id":"F1","measure":"CLABSI","period":"2024-03","events":5,"exposure":1200.5,"covariates":{"beds":"56","size":"small"}}
            {"facility_id":"F4","measure":"SSI","time":"2024-05-02","outcome":0,"episode_id":"e-1","covariates":{"age":"71"}}
            {"facility_id":"F4","measure":"SSI","time":"2024-05-03","outcome":0,"covariates":{"age":"64","asa":"3"}}
            """)
        _ = try store.commit(records: revision.map(StoredRecord.init), events: [], sinks: [], now: Date())
        let back = try Self.stored(store).map(Self.describe)
        #expect(try store.recordCount() == 8)
        #expect(back.contains("a F1 CLABSI month 2024-03 5 1200.5 - beds=56;size=small"))
        #expect(!back.contains { $0.hasPrefix("a F1 CLABSI month 2024-03 2 ") })
        #expect(back.contains { $0.hasPrefix("p F4 SSI 2024-05-02 ") && $0.contains(" false e-1 ") })
        #expect(back.filter { $0.hasPrefix("p F4 SSI 2024-05-03 ") }.count == 2)
    }

    /// A commit whose events are refused is rolled back whole — records and covariate name sets — and a
    /// later commit of the same records writes them (their name set again) and reads back.
    @Test func aRolledBackCommitLeavesNothing() throws {
        let dir = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try StateStore(directory: dir)
        let rows = Self.records(Self.feed).map(StoredRecord.init)
        #expect(throws: StateStore.RolledBack.self) {
            try store.commit(records: rows, sinks: [], now: Date()) { nil }
        }
        #expect(try store.recordCount() == 0)
        #expect(try store.pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM shapes") } == 0)
        _ = try store.commit(records: rows, sinks: [], now: Date()) { [] }
        #expect(try Self.stored(StateStore(directory: dir)).map(Self.describe).sorted() == rows.map { Self.describe($0.record) }.sorted())
    }

    @Test func aVersionOneStateIsMigrated() throws {
        let dir = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lines = Self.feed.split(separator: "\n").map(String.init)
        do {
            let queue = try DatabaseQueue(path: dir + "/vigil.sqlite")
            try StateStore.migrator.migrate(queue, upTo: "v1")
            try queue.write { db in
                for (i, line) in lines.enumerated() {
                    // The v1 key column: what made a record replace another.
                    try db.execute(sql: "INSERT INTO records(key, line, received_at) VALUES (?, ?, ?)",
                                   arguments: ["k\(i)", line, 1_700_000_000.25 + Double(i)])
                }
            }
        }
        let store = try StateStore(directory: dir)
        let back = try Self.stored(store).map(Self.describe).sorted()
        #expect(back == Self.records(Self.feed).map(Self.describe).sorted())
        let received = try store.pool.read { try Int.fetchAll($0, sql: "SELECT received_at FROM records ORDER BY received_at") }
        #expect(received == (0..<lines.count).map { 1_700_000_000_250 + $0 * 1000 })
        let applied = try store.pool.read { try StateStore.migrator.appliedMigrations($0) }
        #expect(applied == ["v1", "v2", "v3", "v4", "v5"])
    }

    /// A v2 state written before records had `trials` gains the column (v3) and keeps its records.
    @Test func aVersionTwoStateWithoutTrialsGainsTheColumn() throws {
        let dir = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let old = Self.records(Self.feed).filter { if case let .aggregate(r) = $0 { return r.trials == nil }; return true }
        do {
            let queue = try DatabaseQueue(path: dir + "/vigil.sqlite")
            try StateStore.migrator.migrate(queue, upTo: "v2")
            try queue.write { db in try db.execute(sql: "ALTER TABLE records DROP COLUMN trials") }
        }
        do {
            let store = try StateStore(directory: dir)
            _ = try store.commit(records: old.map(StoredRecord.init), events: [], sinks: [], now: Date())
        }
        let store = try StateStore(directory: dir)
        _ = try store.commit(records: Self.records(Self.feed).map(StoredRecord.init), events: [], sinks: [], now: Date())
        let back = try Self.stored(store).map(Self.describe).sorted()
        #expect(back == Self.records(Self.feed).map(Self.describe).sorted())
        #expect(back.contains("a F5 FALLS month 2024-06 3 - n=88 "))
    }

    @Test func anUnreadableVersionOneLineStopsTheMigrationNamingIt() throws {
        let dir = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let queue = try DatabaseQueue(path: dir + "/vigil.sqlite")
            try StateStore.migrator.migrate(queue, upTo: "v1")
            try queue.write { db in
                try db.execute(sql: "INSERT INTO records(key, line, received_at) VALUES ('a', ?, 0)", arguments: [String(Self.feed.split(separator: "\n")[0])])
                try db.execute(sql: "INSERT INTO records(key, line, received_at) VALUES ('b', '{\"facility_id\":\"F9\"}', 0)")
            }
        }
        #expect { try StateStore(directory: dir) } throws: { "\($0)".contains("stored record seq 2 cannot be read") }
        // Nothing was half-applied: the state is still v1 with both lines.
        let queue = try DatabaseQueue(path: dir + "/vigil.sqlite")
        #expect(try queue.read { try StateStore.migrator.appliedMigrations($0) } == ["v1"])
        #expect(try queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM records") } == 2)
    }

    /// A model's `alert.sinks` routes its events: outbox rows only for those sinks; other models' events go to
    /// every sink.
    @Test func eventsGoOnlyToTheirModelsSinks() throws {
        let dir = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try StateStore(directory: dir)
        let retry = DaemonDefaults.retry
        let sinks: [any AlertSink] = [FileSink(name: "all", path: dir + "/a.jsonl", retry: retry),
                                      FileSink(name: "icu-team", path: dir + "/b.jsonl", retry: retry)]
        let routed = try ModelConfigParser.parse(data: Array("""
            model: routed
            measure: CLABSI
            expected: { kind: rate, rate: 0.001 }
            detectors: [{ id: c, type: poisson_cusum, ratio: 2, h: 4 }]
            alert: { sinks: [icu-team] }

            """.utf8), file: "routed.yaml").get()
        func alert(_ model: String) -> Alert {
            Alert(id: Alert.id(model: model, detector: "c", facility: "F", measure: "CLABSI", period: "2024-03"), status: .firing,
                  model: model, modelVersion: "v", detector: "c", detectorType: "poisson_cusum", facility: "F", measure: "CLABSI",
                  period: "2024-03", signalStart: "2024-03", observed: 3, expected: 1, statistic: 5, threshold: 4,
                  severity: .warning, raisedAt: Date(), patients: nil)
        }
        _ = try store.commit(records: [], events: [alert("routed"), alert("other")], sinks: sinks,
                             routing: SinkRouting(models: [routed], matchers: [:]), now: Date())
        let rows = try store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT sink, alert_id FROM outbox ORDER BY seq").map { "\($0["sink"] as String) \($0["alert_id"] as String)" }
        }
        let routedID = alert("routed").id, otherID = alert("other").id
        #expect(rows == ["icu-team \(routedID)", "all \(otherID)", "icu-team \(otherID)"])
    }
}
