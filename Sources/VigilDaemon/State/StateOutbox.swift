import Foundation
import VigilThreads
import GRDB
import GRDBSQLite
import Synchronization
import VigilStats
import VigilCore

/// The alerts as stored, and the outbox the deliverer works through, one row per (sink, event).
extension StateStore {

    /// Alerts as their JSON objects, newest change first; `status` nil for all.
    /// The stored alert objects, newest first, each with its acknowledgement when it has one
    /// (`"acknowledged": {"by", "note", "at"}`, shown by the API only: sinks never see it).
    public func alerts(status: Alert.Status?, limit: Int = 1000) throws -> [String] {
        try pool.read { db in
            let select = "SELECT a.body, k.author, k.note, k.at FROM alerts a LEFT JOIN acks k ON k.alert_id = a.id"
            let rows = if let status {
                try Row.fetchAll(db, sql: "\(select) WHERE a.status = ? ORDER BY a.updated_at DESC, a.id LIMIT ?",
                                 arguments: [status.rawValue, limit])
            } else {
                try Row.fetchAll(db, sql: "\(select) ORDER BY a.updated_at DESC, a.id LIMIT ?", arguments: [limit])
            }
            return rows.map { row in
                let body: String = row[0]
                guard let author: String = row[1], let note: String = row[2], let at: Double = row[3], body.hasSuffix("}") else { return body }
                let ack = JSON.object([("by", .string(author)), ("note", .string(note)),
                                       ("at", .string(Alert.timestamp(Date(timeIntervalSince1970: at))))])
                return String(body.dropLast()) + ",\"acknowledged\":" + ack.serialized() + "}"
            }
        }
    }

    /// Records an operator's acknowledgement of an alert (nothing is delivered); false when there is no such alert.
    public func acknowledge(alert id: String, author: String, note: String, at: Date) throws -> Bool {
        try pool.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM alerts WHERE id = ?", arguments: [id]) != nil else { return false }
            try db.execute(sql: "INSERT OR REPLACE INTO acks(alert_id, author, note, at) VALUES (?, ?, ?, ?)",
                           arguments: [id, author, note, at.timeIntervalSince1970])
            return true
        }
    }

    /// The firing alerts: id → (model, when raised).
    func firing() throws -> [String: (model: String, raisedAt: Date)] {
        try pool.read { db in
            var out: [String: (model: String, raisedAt: Date)] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, model, raised_at FROM alerts WHERE status IN ('firing', 'stale')") {
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
    func relaxed(_ body: (Database) throws -> Void) throws {
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
