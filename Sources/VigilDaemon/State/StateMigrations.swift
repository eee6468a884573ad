import Foundation
import VigilThreads
import GRDB
import GRDBSQLite
import VigilStats
import VigilCore

/// The schema and its migrations, applied at open; each version converts what the one before left.
extension StateStore {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE records (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    key TEXT NOT NULL UNIQUE,
                    line TEXT NOT NULL,
                    received_at REAL NOT NULL);
                CREATE TABLE alerts (
                    id TEXT PRIMARY KEY,
                    status TEXT NOT NULL,
                    model TEXT NOT NULL,
                    facility_id TEXT NOT NULL,
                    measure TEXT NOT NULL,
                    period TEXT NOT NULL,
                    body TEXT NOT NULL,
                    raised_at REAL NOT NULL,
                    updated_at REAL NOT NULL,
                    fired INTEGER NOT NULL DEFAULT 0,
                    resolved INTEGER NOT NULL DEFAULT 0);
                CREATE INDEX alerts_status ON alerts(status, id);
                CREATE TABLE outbox (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    sink TEXT NOT NULL,
                    event_id TEXT NOT NULL,
                    alert_id TEXT NOT NULL,
                    payload BLOB NOT NULL,
                    state INTEGER NOT NULL DEFAULT 0,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_at REAL NOT NULL,
                    created_at REAL NOT NULL,
                    delivered_at REAL,
                    last_error TEXT,
                    UNIQUE(sink, event_id));
                CREATE INDEX outbox_queue ON outbox(sink, state, seq);
                """)
        }
        // v1 kept each record as its canonical NDJSON line (376 bytes a record in the benchmark); v2 keeps
        // its fields, keyed by what makes a record replace another, and covariate names once per set.
        migrator.registerMigration("v2") { db in
            try db.execute(sql: """
                CREATE TABLE shapes (
                    id INTEGER PRIMARY KEY,
                    names BLOB NOT NULL UNIQUE);
                CREATE TABLE records_v2 (
                    kind TEXT NOT NULL,
                    facility_id TEXT NOT NULL,
                    measure TEXT NOT NULL,
                    ident TEXT NOT NULL,
                    value INTEGER NOT NULL,
                    exposure REAL,
                    trials INTEGER,
                    time TEXT,
                    shape INTEGER NOT NULL,
                    covariates BLOB NOT NULL,
                    received_at INTEGER NOT NULL,
                    PRIMARY KEY (kind, facility_id, measure, ident)) WITHOUT ROWID;
                """)
            try convertV1Records(db)
            try db.execute(sql: "DROP TABLE records; ALTER TABLE records_v2 RENAME TO records")
        }
        // Records gain `trials` (proportions); v2 databases made before this column lack it.
        migrator.registerMigration("v3") { db in
            let columns = try String.fetchAll(db, sql: "SELECT name FROM pragma_table_info('records')")
            if !columns.contains("trials") { try db.execute(sql: "ALTER TABLE records ADD COLUMN trials INTEGER") }
        }
        // Operators acknowledge alerts (who, why, when); the latest acknowledgement of an alert is kept.
        migrator.registerMigration("v4") { db in
            try db.execute(sql: """
                CREATE TABLE acks (
                    alert_id TEXT PRIMARY KEY,
                    author TEXT NOT NULL,
                    note TEXT NOT NULL,
                    at REAL NOT NULL)
                """)
        }
        // Silences, the events they and inhibition hold, operators' resolutions, and digests being gathered.
        migrator.registerMigration("v5") { db in
            try db.execute(sql: """
                CREATE TABLE silences (
                    id TEXT PRIMARY KEY,
                    matchers TEXT NOT NULL,
                    starts_at REAL NOT NULL,
                    ends_at REAL NOT NULL,
                    author TEXT NOT NULL,
                    comment TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    expired_at REAL,
                    expired_by TEXT);
                CREATE TABLE held (
                    event_id TEXT PRIMARY KEY,
                    alert_id TEXT NOT NULL,
                    body TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    held_at REAL NOT NULL,
                    outcome TEXT NOT NULL DEFAULT 'held',
                    settled_at REAL);
                CREATE INDEX held_open ON held(outcome, alert_id);
                CREATE TABLE resolutions (
                    alert_id TEXT PRIMARY KEY,
                    run TEXT NOT NULL,
                    author TEXT NOT NULL,
                    note TEXT NOT NULL,
                    at REAL NOT NULL,
                    applied INTEGER NOT NULL DEFAULT 0);
                CREATE TABLE digest_items (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    sink TEXT NOT NULL,
                    interval_start REAL NOT NULL,
                    interval_end REAL NOT NULL,
                    event_id TEXT NOT NULL,
                    status TEXT NOT NULL,
                    body TEXT NOT NULL,
                    UNIQUE(sink, event_id));
                CREATE INDEX digest_due ON digest_items(interval_end, sink);
                """)
        }
        return migrator
    }

    /// v1's lines, read back with the feeds' reader, into v2's rows, in chunks; each keeps its arrival time.
    static func convertV1Records(_ db: Database) throws {
        let old = try SQLStatement(db, "SELECT seq, line, received_at FROM records ORDER BY seq")
        let reader = RecordReader()
        var known: [[String]: Int] = [:]
        var text: [UInt8] = []
        var seqs: [Int] = []
        var times: [Int] = []
        func flush() throws {
            var records: [StoredRecord] = []
            var arrived: [Int] = []
            var problem: RowError?
            reader.read(source: "records", bytes: text, format: .ndjson, accept: {
                records.append(StoredRecord($0))
                arrived.append(times[$0.origin.line - 1])
            }, reject: { problem = problem ?? $0 })
            if let problem {
                throw StateError("migrating the state to v2: stored record seq \(seqs[problem.line - 1]) cannot be read: \(problem.reason)")
            }
            for (names, id) in try insert(records, receivedAt: { arrived[$0] }, known: known, into: "records_v2", db: db) { known[names] = id }
            text.removeAll(keepingCapacity: true)
            seqs.removeAll(keepingCapacity: true)
            times.removeAll(keepingCapacity: true)
        }
        while try old.next() {
            guard let line = old.string(1) else { continue }
            text.append(contentsOf: line.utf8)
            text.append(0x0A)
            seqs.append(old.int(0))
            times.append(Int(((old.double(2) ?? 0) * 1000).rounded()))
            if seqs.count == 50_000 { try flush() }
        }
        if !seqs.isEmpty { try flush() }
    }
}
