import Foundation
import GRDB
import GRDBSQLite
import VigilStats
import VigilCore

/// The daemon's durable state (SPEC §4): one SQLite database in `state_dir`, in WAL mode with
/// `synchronous=FULL`, so a committed transaction survives `kill -9` and power loss.
///
/// - `records`: the latest record per key, as canonical NDJSON lines in arrival order (`seq`). The
///   engine's state — detector statistics per series, firing alerts — is a pure function of these lines and
///   the models, and is rebuilt from them at start.
/// - `alerts`: every alert raised, its status and how many `firing`/`resolved` events it has had.
/// - `outbox`: one row per (sink, event), pending until the sink confirms it, dead after the retry budget.
///
/// A batch's records, its alert changes and their outbox rows are written in one transaction.
public final class StateStore: Sendable {
    public let path: String
    let pool: DatabasePool

    public init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = (directory as NSString).appendingPathComponent("vigil.sqlite")
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA cache_size = -65536")
            // Checkpoints run beside the writer (`startCheckpointing`), not inside a commit.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
            try db.execute(sql: "PRAGMA journal_size_limit = 67108864")
        }
        pool = try DatabasePool(path: path, configuration: config)
        try Self.migrator.migrate(pool)
    }

    /// Copies the write-ahead log into the database once a second on a connection and thread of its own
    /// (a passive checkpoint: it never waits for, nor blocks, the writer). Under steady writes such a
    /// checkpoint never reaches the log's end, so the log would never start over: the ingest thread ends
    /// that with `finishCheckpoint` after it has answered a batch. SQLite's automatic checkpoint
    /// would run inside the commit that crosses its threshold — 1.5 s of a million-record spool file's
    /// commit, with the file's acknowledgement waiting on it. The daemon starts this; commands do not.
    func startCheckpointing(every seconds: Double = 1) throws {
        var connection: OpaquePointer?
        guard sqlite3_open_v2(path, &connection, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK,
              let connection else {
            throw StateError("cannot open \(path) for checkpoints")
        }
        sqlite3_busy_timeout(connection, 1000)
        // Opening is lazy: reading the schema makes the connection see the database's WAL mode.
        guard sqlite3_exec(connection, "SELECT count(*) FROM sqlite_master", nil, nil, nil) == SQLITE_OK else {
            throw StateError("cannot read \(path) for checkpoints: \(String(cString: sqlite3_errmsg(connection)))")
        }
        let box = UncheckedConnection(connection)
        let thread = Thread {
            while true {
                Thread.sleep(forTimeInterval: seconds)
                var frames: Int32 = 0, copied: Int32 = 0
                _ = sqlite3_wal_checkpoint_v2(box.pointer, nil, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied)
            }
        }
        thread.name = "vigil-checkpoint"
        thread.start()
    }

    /// A passive checkpoint on the writer's connection, between batches: it copies what the background
    /// checkpoints left (little), and once the whole log is copied the next commit writes it from the start.
    func finishCheckpoint() {
        try? pool.writeWithoutTransaction { db in
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
        return migrator
    }

    // MARK: Records

    /// Every stored record line in arrival order, in chunks (the start of the daemon reads them back).
    public func forEachRecordChunk(size: Int = 50_000, _ body: ([(key: String, line: String)]) throws -> Void) throws {
        var after: Int64 = 0
        while true {
            let rows = try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT seq, key, line FROM records WHERE seq > ? ORDER BY seq LIMIT ?",
                                 arguments: [after, size])
            }
            if rows.isEmpty { return }
            after = rows.last!["seq"]
            try body(rows.map { (key: $0["key"], line: $0["line"]) })
        }
    }

    public func recordCount() throws -> Int {
        try pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM records") ?? 0 }
    }

    // MARK: Commit

    /// Writes a batch in one transaction: its records (a key already stored is replaced and moves to the end
    /// of the arrival order), its alert events, and one outbox row per sink and event. Returns the events with
    /// the ids they were given.
    func commit(records: [StoredRecord], events: [Alert], sinks: [any AlertSink], now: Date) throws -> [String] {
        let time = now.timeIntervalSince1970
        // Each event's object outside the transaction and on all cores (its SIR interval is a root search),
        // once for every sink.
        let objects = Parallel.map(count: events.count, chunk: 256) { i -> (JSON, String) in
            let json = events[i].json
            return (json, json.serialized())
        }
        return try pool.write { db in
            if !records.isEmpty { try Self.insert(records, time: time, db: db) }
            var ids: [String] = []
            for (alert, (json, body)) in zip(events, objects) {
                let counts = try Row.fetchOne(db, sql: "SELECT fired, resolved, raised_at FROM alerts WHERE id = ?",
                                              arguments: [alert.id])
                var fired: Int = counts?["fired"] ?? 0
                var resolved: Int = counts?["resolved"] ?? 0
                let ordinal: Int
                switch alert.status {
                case .firing: fired += 1; ordinal = fired
                case .resolved: resolved += 1; ordinal = resolved
                }
                let eventID = EventID.make(alert: alert.id, status: alert.status, ordinal: ordinal)
                try db.execute(sql: """
                    INSERT INTO alerts(id, status, model, facility_id, measure, period, body, raised_at, updated_at, fired, resolved)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET status = excluded.status, body = excluded.body,
                        raised_at = CASE WHEN excluded.status = 'firing' THEN excluded.raised_at ELSE alerts.raised_at END,
                        updated_at = excluded.updated_at, fired = excluded.fired, resolved = excluded.resolved
                    """, arguments: [alert.id, alert.status.rawValue, alert.model, alert.facility, alert.measure,
                                     alert.period, body, alert.raisedAt.timeIntervalSince1970, time,
                                     fired, resolved])
                let outbox = try db.cachedStatement(sql: """
                    INSERT OR IGNORE INTO outbox(sink, event_id, alert_id, payload, next_at, created_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """)
                for sink in sinks {
                    let payload = sink.payload(alert: alert, json: json, eventID: eventID, time: now)
                    try outbox.execute(arguments: [sink.name, eventID, alert.id, Data(payload), time, time])
                }
                ids.append(eventID)
            }
            return ids
        }
    }

    /// Records through SQLite's C interface, inside GRDB's transaction, without GRDB's per-statement
    /// bookkeeping: a million-record spool file's transaction took 9.5 s with GRDB's statements and 7.3 s
    /// this way (of which these inserts 2.4 s; BENCHMARKS.md).
    private static func insert(_ records: [StoredRecord], time: Double, db: Database) throws {
        guard let connection = db.sqliteConnection else { throw StateError("the state database is closed") }
        var statement: OpaquePointer?
        let sql = "INSERT OR REPLACE INTO records(key, line, received_at) VALUES (?, ?, ?)"
        guard sqlite3_prepare_v2(connection, sql, -1, &statement, nil) == SQLITE_OK else {
            throw StateError("prepare: \(String(cString: sqlite3_errmsg(connection)))")
        }
        defer { sqlite3_finalize(statement) }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for r in records {
            sqlite3_bind_text(statement, 1, r.key, -1, transient)
            sqlite3_bind_text(statement, 2, r.line, -1, transient)
            sqlite3_bind_double(statement, 3, time)
            guard sqlite3_step(statement) == SQLITE_DONE else {
                throw StateError("storing a record: \(String(cString: sqlite3_errmsg(connection)))")
            }
            sqlite3_reset(statement)
        }
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

/// The checkpoint thread's connection, used by that thread alone.
private struct UncheckedConnection: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
}

struct StateError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
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
