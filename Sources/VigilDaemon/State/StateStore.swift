import Foundation
import VigilThreads
import GRDB
import GRDBSQLite
import Synchronization
import VigilStats
import VigilCore

/// The daemon's durable state (SPEC §4): one SQLite database in `state_dir`, in WAL mode with
/// `synchronous=FULL`, so a committed transaction survives `kill -9` and power loss.
///
/// - `records`: the latest record per key (`StoredRecord`), with when it arrived; `shapes`: the sets of
///   covariate names the records' values belong to. The engine's state — detector statistics per series,
///   firing alerts — is a pure function of these records and the models, and is rebuilt from them at start.
/// - `alerts`: every alert raised, its status and how many `firing`/`resolved` events it has had.
/// - `outbox`: one row per (sink, event), pending until the sink confirms it, dead after the retry budget.
///
/// A batch's records, its alert changes and their outbox rows are written in one transaction.
public final class StateStore: Sendable {
    public let path: String
    let pool: DatabasePool
    /// The committed rows of `shapes`.
    private let shapes: Mutex<ShapeTable>

    struct ShapeTable {
        var ids: [[String]: Int] = [:]
        var names: [Int: CovariateNames] = [:]
    }

    public init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = (directory as NSString).appendingPathComponent("vigil.sqlite")
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA cache_size = -65536")
            // Checkpoints run beside the writer (`CheckpointService`), not inside a commit.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
            try db.execute(sql: "PRAGMA journal_size_limit = 67108864")
        }
        pool = try DatabasePool(path: path, configuration: config)
        try Self.migrator.migrate(pool)
        shapes = Mutex(try pool.read(Self.loadShapes))
    }

    /// A connection of its own for the background checkpoints (`CheckpointService`).
    func checkpointConnection() throws -> OpaquePointer {
        var connection: OpaquePointer?
        guard sqlite3_open_v2(path, &connection, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK,
              let connection else {
            throw StateError("cannot open \(path) for checkpoints")
        }
        sqlite3_busy_timeout(connection, 1000)
        // Opening is lazy: reading the schema makes the connection see the database's WAL mode.
        guard sqlite3_exec(connection, "SELECT count(*) FROM sqlite_master", nil, nil, nil) == SQLITE_OK else {
            let message = String(cString: sqlite3_errmsg(connection))
            sqlite3_close(connection)
            throw StateError("cannot read \(path) for checkpoints: \(message)")
        }
        return connection
    }

    /// A passive checkpoint on the writer's connection, between batches: it copies what the background
    /// checkpoints left (little), and once the whole log is copied the next commit writes it from the start.
    func finishCheckpoint() {
        pool.writeWithoutTransaction { db in
            guard let connection = db.sqliteConnection else { return }
            _ = sqlite3_wal_checkpoint_v2(connection, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
        }
    }

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
        return migrator
    }

    /// v1's lines, read back with the feeds' reader, into v2's rows, in chunks; each keeps its arrival time.
    private static func convertV1Records(_ db: Database) throws {
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

    // MARK: Records

    /// Every stored record, in key order, in chunks (the start of the daemon reads them back). Returns the
    /// rows that could not be read back, described.
    public func forEachRecordChunk(size: Int = 50_000, _ body: ([VigilCore.Record]) throws -> Void) throws -> [String] {
        let shapes = shapes.withLock { $0.names }
        return try pool.read { db in
            let rows = try SQLStatement(db, """
                SELECT kind, facility_id, measure, ident, value, exposure, time, shape, covariates, trials FROM records
                """)
            var chunk: [VigilCore.Record] = []
            chunk.reserveCapacity(size)
            var problems: [String] = []
            var n = 0
            while try rows.next() {
                n += 1
                guard let record = Self.record(rows, origin: RecordOrigin(source: "state", line: n), shapes: shapes) else {
                    problems.append("records row \(n) (\(rows.string(1) ?? "?"), \(rows.string(2) ?? "?"), \(rows.string(3) ?? "?")) is malformed")
                    continue
                }
                chunk.append(record)
                if chunk.count == size {
                    try body(chunk)
                    chunk.removeAll(keepingCapacity: true)
                }
            }
            if !chunk.isEmpty { try body(chunk) }
            return problems
        }
    }

    /// The record of the current row of a `SELECT kind, facility_id, measure, ident, value, exposure, time,
    /// shape, covariates, trials`, or nil when the row is not one `insert` wrote.
    private static func record(_ row: SQLStatement, origin: RecordOrigin, shapes: [Int: CovariateNames]) -> VigilCore.Record? {
        guard let kind = row.string(0).flatMap(StoredRecord.Kind.init(rawValue:)),
              let facility = row.string(1), let measure = row.string(2), let ident = row.string(3),
              let names = shapes[row.int(7)], let values = StoredRecord.values(row.bytes(8)),
              values.count == names.names.count else { return nil }
        let covariates = Covariates(names: names, values: values)
        switch kind {
        case .aggregate:
            guard let period = Period.parse(ident[...]) else { return nil }
            return .aggregate(AggregateRecord(facility: facility, measure: measure, period: period, events: row.int(4),
                                              exposure: row.double(5), trials: row.optionalInt(9),
                                              covariates: covariates, origin: origin))
        case .episode, .patient:
            guard let time = row.string(6).flatMap(Timestamp.parse) else { return nil }
            return .patient(PatientRecord(facility: facility, measure: measure, time: time, outcome: row.int(4) != 0,
                                          episode: kind == .episode ? ident : nil, covariates: covariates, origin: origin))
        }
    }

    /// Throws when the database cannot be read (the health check).
    func ping() throws {
        _ = try pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM shapes") }
    }

    public func recordCount() throws -> Int {
        try pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM records") ?? 0 }
    }

    /// Writes records (a key already stored is replaced) and the covariate name sets not yet in `shapes`;
    /// returns those sets with their new ids.
    private static func insert(_ records: [StoredRecord], receivedAt: (Int) -> Int, known: [[String]: Int],
                               into table: String = "records", db: Database) throws -> [[String]: Int] {
        let row = try SQLStatement(db, """
            INSERT OR REPLACE INTO \(table)(kind, facility_id, measure, ident, value, exposure, time, shape, covariates, received_at, trials)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let newShape = try SQLStatement(db, "INSERT INTO shapes(names) VALUES (?)")
        var added: [[String]: Int] = [:]
        // The records of one file share their names object: one dictionary lookup of the names per file.
        var seen: [ObjectIdentifier: Int] = [:]
        for (i, r) in records.enumerated() {
            let names = r.record.covariates.names
            let shape: Int
            if let id = seen[ObjectIdentifier(names)] {
                shape = id
            } else {
                if let id = known[names.names] ?? added[names.names] {
                    shape = id
                } else {
                    newShape.bind(1, bytes: StoredRecord.encode(names.names))
                    try newShape.run()
                    shape = newShape.lastInsertedRow
                    added[names.names] = shape
                }
                seen[ObjectIdentifier(names)] = shape
            }
            row.bind(5, r.value)
            row.bind(6, r.exposure)
            row.bind(7, r.time)
            row.bind(8, shape)
            row.bind(9, bytes: r.covariates)
            row.bind(10, receivedAt(i))
            row.bind(11, r.trials)
            // The key's texts bound in place for this step only (each row binds them again): copying them
            // was a sixth of these inserts (1.81 → 1.51 s for a million rows).
            try r.kind.rawValue.withCString { kind in
                try r.record.facility.withCString { facility in
                    try r.record.measure.withCString { measure in
                        try r.ident.withCString { ident in
                            row.bind(1, text: kind)
                            row.bind(2, text: facility)
                            row.bind(3, text: measure)
                            row.bind(4, text: ident)
                            do { try row.run() } catch let error as StateError {
                                throw StateError("storing a record: \(error)", code: error.code)
                            }
                        }
                    }
                }
            }
        }
        return added
    }

    private static func loadShapes(_ db: Database) throws -> ShapeTable {
        var table = ShapeTable()
        let rows = try SQLStatement(db, "SELECT id, names FROM shapes")
        while try rows.next() {
            guard let names = StoredRecord.values(rows.bytes(1)) else { throw StateError("shapes row \(rows.int(0)) is malformed") }
            table.ids[names] = rows.int(0)
            table.names[rows.int(0)] = CovariateNames(names)
        }
        return table
    }

    // MARK: Commit

    /// Writes a batch in one transaction: its records (a key already stored is replaced), its alert events,
    /// and one outbox row per sink and event. Returns the events' ids.
    func commit(records: [StoredRecord], events: [Alert], sinks: [any AlertSink], routing: SinkRouting = .all,
                now: Date) throws -> [String] {
        try commit(records: records, sinks: sinks, routing: routing, now: now) { events }
    }

    /// The commit's decision was to roll back (`commit(records:sinks:now:events:)`).
    struct RolledBack: Error {}

    /// Writes the records, then asks `events` — which may wait for them to be known — for the batch's alert
    /// events, writes those and commits; when `events` returns nil, rolls everything back and throws
    /// `RolledBack`. So the records can be written while the engine evaluates them.
    func commit(records: [StoredRecord], sinks: [any AlertSink], routing: SinkRouting = .all, now: Date,
                events: () -> [Alert]?) throws -> [String] {
        let received = Int((now.timeIntervalSince1970 * 1000).rounded())
        let known = shapes.withLock { $0.ids }
        let (ids, added) = try pool.write { db in
            let added = records.isEmpty ? [:] : try Self.insert(records, receivedAt: { _ in received }, known: known, db: db)
            guard let events = events() else { throw RolledBack() }
            return (try Self.write(events, sinks: sinks, routing: routing, now: now, db: db), added)
        }
        if !added.isEmpty {
            shapes.withLock { table in
                for (names, id) in added {
                    table.ids[names] = id
                    table.names[id] = CovariateNames(names)
                }
            }
        }
        return ids
    }

    /// The alert rows of events, and their outbox rows (one per sink its model routes it to). An event's id
    /// needs the alert's count of earlier events, so the counts are read first; the objects and payloads are
    /// then made on all cores.
    private static func write(_ events: [Alert], sinks: [any AlertSink], routing: SinkRouting, now: Date,
                              db: Database) throws -> [String] {
        guard !events.isEmpty else { return [] }
        let time = now.timeIntervalSince1970
        let counts = try SQLStatement(db, "SELECT fired, resolved FROM alerts WHERE id = ?")
        var tally: [String: (fired: Int, resolved: Int)] = [:]
        var ids: [String] = []
        var totals: [(fired: Int, resolved: Int)] = []
        for alert in events {
            var c = tally[alert.id] ?? (0, 0)
            if tally[alert.id] == nil {
                counts.bind(1, alert.id)
                if try counts.next() { c = (counts.int(0), counts.int(1)) }
                counts.reset()
            }
            let ordinal: Int
            switch alert.status {
            case .firing: c.fired += 1; ordinal = c.fired
            case .resolved: c.resolved += 1; ordinal = c.resolved
            }
            tally[alert.id] = c
            totals.append(c)
            ids.append(EventID.make(alert: alert.id, status: alert.status, ordinal: ordinal))
        }
        let stamp = now.formatted(Alert.timestampFormat)
        let eventIDs = ids
        // Per sink, the payload of each event routed to it (nil: not routed).
        let objects = Parallel.map(count: events.count, chunk: 64) { i -> (body: String, payloads: [[UInt8]?]) in
            let json = events[i].json
            return (json.serialized(), sinks.map { sink in
                routing.allows(sink.name, model: events[i].model)
                    ? sink.payload(alert: events[i], json: json, eventID: eventIDs[i], time: stamp) : nil
            })
        }
        let alertRow = try SQLStatement(db, """
            INSERT INTO alerts(id, status, model, facility_id, measure, period, body, raised_at, updated_at, fired, resolved)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET status = excluded.status, body = excluded.body,
                raised_at = CASE WHEN excluded.status = 'firing' THEN excluded.raised_at ELSE alerts.raised_at END,
                updated_at = excluded.updated_at, fired = excluded.fired, resolved = excluded.resolved
            """)
        let outboxRow = try SQLStatement(db, """
            INSERT OR IGNORE INTO outbox(sink, event_id, alert_id, payload, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?)
            """)
        for (i, alert) in events.enumerated() {
            alertRow.bind(1, alert.id)
            alertRow.bind(2, alert.status.rawValue)
            alertRow.bind(3, alert.model)
            alertRow.bind(4, alert.facility)
            alertRow.bind(5, alert.measure)
            alertRow.bind(6, alert.period)
            alertRow.bind(7, objects[i].body)
            alertRow.bind(8, alert.raisedAt.timeIntervalSince1970)
            alertRow.bind(9, time)
            alertRow.bind(10, totals[i].fired)
            alertRow.bind(11, totals[i].resolved)
            try alertRow.run()
            for (sink, routed) in zip(sinks, objects[i].payloads) {
                guard let payload = routed else { continue }
                outboxRow.bind(1, sink.name)
                outboxRow.bind(2, ids[i])
                outboxRow.bind(3, alert.id)
                outboxRow.bind(4, bytes: payload)
                outboxRow.bind(5, time)
                outboxRow.bind(6, time)
                try outboxRow.run()
            }
        }
        return ids
    }

    // MARK: Alerts

    /// Alerts as their JSON objects, newest change first; `status` nil for all.
    public func alerts(status: Alert.Status?, limit: Int = 1000) throws -> [String] {
        try pool.read { db in
            if let status {
                return try String.fetchAll(db, sql: "SELECT body FROM alerts WHERE status = ? ORDER BY updated_at DESC, id LIMIT ?",
                                           arguments: [status.rawValue, limit])
            }
            return try String.fetchAll(db, sql: "SELECT body FROM alerts ORDER BY updated_at DESC, id LIMIT ?", arguments: [limit])
        }
    }

    /// The firing alerts: id → (model, when raised).
    func firing() throws -> [String: (model: String, raisedAt: Date)] {
        try pool.read { db in
            var out: [String: (model: String, raisedAt: Date)] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, model, raised_at FROM alerts WHERE status = 'firing'") {
                out[row["id"]] = (row["model"], Date(timeIntervalSince1970: row["raised_at"]))
            }
            return out
        }
    }

    func alert(id: String) throws -> String? {
        try pool.read { try String.fetchOne($0, sql: "SELECT body FROM alerts WHERE id = ?", arguments: [id]) }
    }

    // MARK: Outbox

    /// The oldest undelivered event of a sink (per-sink order: a sink gets its events in commit order).
    func nextPending(sink: String) throws -> OutboxEntry? {
        try pool.read { db in
            try Row.fetchOne(db, sql: """
                SELECT seq, event_id, alert_id, payload, attempts, next_at FROM outbox
                WHERE sink = ? AND state = 0 ORDER BY seq LIMIT 1
                """, arguments: [sink]).map(OutboxEntry.init(row:))
        }
    }

    /// An outbox bookkeeping write without its own fsync (`synchronous=NORMAL` for this commit): lost in a
    /// power cut, it costs a redelivery of an event already delivered — at least once, as promised — and
    /// the next ingest commit's fsync makes it durable anyway. Spares the disk one fsync per delivery.
    private func relaxed(_ body: (Database) throws -> Void) throws {
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            defer { try? db.execute(sql: "PRAGMA synchronous = FULL") }
            try db.inTransaction {
                try body(db)
                return .commit
            }
        }
    }

    func pendingCount(sink: String) throws -> Int {
        try pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM outbox WHERE sink = ? AND state = 0", arguments: [sink]) ?? 0 }
    }

    func markDelivered(_ seq: Int64, attempts: Int, now: Date) throws {
        try relaxed { db in
            try db.execute(sql: "UPDATE outbox SET state = 1, attempts = ?, delivered_at = ?, last_error = NULL WHERE seq = ?",
                           arguments: [attempts, now.timeIntervalSince1970, seq])
        }
    }

    func markRetry(_ seq: Int64, attempts: Int, nextAt: Date, error: String) throws {
        try relaxed { db in
            try db.execute(sql: "UPDATE outbox SET attempts = ?, next_at = ?, last_error = ? WHERE seq = ?",
                           arguments: [attempts, nextAt.timeIntervalSince1970, error, seq])
        }
    }

    func markDead(_ seq: Int64, attempts: Int, error: String) throws {
        try relaxed { db in
            try db.execute(sql: "UPDATE outbox SET state = 2, attempts = ?, last_error = ? WHERE seq = ?",
                           arguments: [attempts, error, seq])
        }
    }

    /// Outbox rows by sink and state (pending, delivered, dead).
    public func outboxCounts() throws -> [(sink: String, state: OutboxState, count: Int)] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT sink, state, count(*) AS n FROM outbox GROUP BY sink, state ORDER BY sink, state")
                .map { (sink: $0["sink"], state: OutboxState(rawValue: $0["state"]) ?? .pending, count: $0["n"]) }
        }
    }

    /// Dead deliveries, oldest first.
    public func deadDeliveries() throws -> [DeadDelivery] {
        try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT seq, sink, event_id, attempts, created_at, last_error FROM outbox WHERE state = 2 ORDER BY seq
                """).map {
                DeadDelivery(seq: $0["seq"], sink: $0["sink"], eventID: $0["event_id"], attempts: $0["attempts"],
                             createdAt: Date(timeIntervalSince1970: $0["created_at"]), lastError: $0["last_error"] ?? "")
            }
        }
    }

    /// Puts dead deliveries back in their sinks' queues with a fresh retry budget: those listed, or all when
    /// `seqs` is nil. Returns how many. A running daemon picks them up within a second.
    public func redeliver(seqs: [Int64]?, now: Date = Date()) throws -> Int {
        try pool.write { db in
            let time = now.timeIntervalSince1970
            if let seqs {
                var n = 0
                for seq in seqs {
                    try db.execute(sql: "UPDATE outbox SET state = 0, attempts = 0, next_at = ? WHERE seq = ? AND state = 2",
                                   arguments: [time, seq])
                    n += db.changesCount
                }
                return n
            }
            try db.execute(sql: "UPDATE outbox SET state = 0, attempts = 0, next_at = ? WHERE state = 2", arguments: [time])
            return db.changesCount
        }
    }
}

struct StateError: Error, CustomStringConvertible {
    let description: String
    /// SQLite's (extended) result code, when SQLite raised it.
    let code: Int32?
    init(_ description: String, code: Int32? = nil) {
        self.description = description
        self.code = code
    }
}

public enum OutboxState: Int, Sendable {
    case pending = 0, delivered = 1, dead = 2

    public var name: String {
        switch self {
        case .pending: "pending"
        case .delivered: "delivered"
        case .dead: "dead"
        }
    }
}

/// One undelivered event of a sink.
struct OutboxEntry: Sendable {
    let seq: Int64
    let eventID: String
    let alertID: String
    let payload: [UInt8]
    let attempts: Int
    let nextAt: Date

    init(row: Row) {
        seq = row["seq"]
        eventID = row["event_id"]
        alertID = row["alert_id"]
        payload = [UInt8]((row["payload"] as Data?) ?? Data())
        attempts = row["attempts"]
        nextAt = Date(timeIntervalSince1970: row["next_at"])
    }
}

public struct DeadDelivery: Sendable {
    public let seq: Int64
    public let sink: String
    public let eventID: String
    public let attempts: Int
    public let createdAt: Date
    public let lastError: String
}

/// Event ids (SPEC §3 webhook sink): `<alert id>.<status>`, the same on every retry of that event. An alert
/// that fires again after it was resolved gets `<alert id>.firing.2`, so each event keeps an id of its own.
enum EventID {
    static func make(alert: String, status: Alert.Status, ordinal: Int) -> String {
        ordinal <= 1 ? "\(alert).\(status.rawValue)" : "\(alert).\(status.rawValue).\(ordinal)"
    }
}
