import Foundation
import GRDB
import VigilCore

/// What operators tell vigil about alerts: silences and resolutions. Both are rows any process with the state
/// may write (the daemon's API, the `vigil silence` and `vigil resolve` commands); the daemon's ingest thread
/// acts on them within a second (`Ingestor.housekeeping`).
extension StateStore {

    // MARK: Silences

    public func addSilence(_ silence: Silence) throws {
        try pool.write { db in
            try db.execute(sql: """
                INSERT INTO silences(id, matchers, starts_at, ends_at, author, comment, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [silence.id, silence.matcher.json.serialized(), silence.startsAt.timeIntervalSince1970,
                                 silence.endsAt.timeIntervalSince1970, silence.author, silence.comment,
                                 silence.createdAt.timeIntervalSince1970])
        }
    }

    /// Silences not yet ended (pending or active), or, with `all`, every one ever made; newest first.
    public func silences(all: Bool, now: Date = Date()) throws -> [Silence] {
        try pool.read { try Self.silences(db: $0, all: all, now: now) }
    }

    static func silences(db: Database, all: Bool, now: Date) throws -> [Silence] {
        let t = now.timeIntervalSince1970
        let rows = all
            ? try Row.fetchAll(db, sql: "SELECT * FROM silences ORDER BY created_at DESC, id")
            : try Row.fetchAll(db, sql: """
                SELECT * FROM silences WHERE ends_at > ? AND (expired_at IS NULL OR expired_at > ?) ORDER BY created_at DESC, id
                """, arguments: [t, t])
        return rows.compactMap { row in
            guard let matcher = AlertMatcher(json: row["matchers"]) else { return nil }
            var s = Silence(id: row["id"], matcher: matcher, startsAt: Date(timeIntervalSince1970: row["starts_at"]),
                            endsAt: Date(timeIntervalSince1970: row["ends_at"]), author: row["author"], comment: row["comment"],
                            createdAt: Date(timeIntervalSince1970: row["created_at"]))
            s.expiredAt = (row["expired_at"] as Double?).map(Date.init(timeIntervalSince1970:))
            s.expiredBy = row["expired_by"]
            return s
        }
    }

    public enum Expiry: Sendable { case expired(Silence), alreadyEnded, unknown }

    /// Ends a silence now (kept for the audit, with who ended it); its held events are released by the daemon.
    public func expireSilence(id: String, by author: String, now: Date = Date()) throws -> Expiry {
        try pool.write { db in
            guard let silence = try Self.silences(db: db, all: true, now: now).first(where: { $0.id == id }) else { return .unknown }
            guard silence.effectiveEnd > now else { return .alreadyEnded }
            try db.execute(sql: "UPDATE silences SET expired_at = ?, expired_by = ? WHERE id = ?",
                           arguments: [now.timeIntervalSince1970, author, id])
            var ended = silence
            ended.expiredAt = now
            ended.expiredBy = author
            return .expired(ended)
        }
    }

    /// The events held now (`GET /v1/silences` shows them with the silences): event id, alert id, reason, when.
    public func heldEvents() throws -> [(eventID: String, alertID: String, reason: String, heldAt: Date)] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT event_id, alert_id, reason, held_at FROM held WHERE outcome = 'held' ORDER BY rowid")
                .map { ($0["event_id"], $0["alert_id"], $0["reason"], Date(timeIntervalSince1970: $0["held_at"])) }
        }
    }

    /// Every held event and what became of it (held, released, dropped), oldest first: the audit.
    public func heldHistory() throws -> [(eventID: String, reason: String, outcome: String, heldAt: Date, settledAt: Date?)] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT event_id, reason, outcome, held_at, settled_at FROM held ORDER BY rowid").map {
                ($0["event_id"], $0["reason"], $0["outcome"], Date(timeIntervalSince1970: $0["held_at"]),
                 ($0["settled_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
            }
        }
    }

    /// What the workbench page shows of the state: the firing and stale alerts, their acknowledgements
    /// ("by: note") and holds, and the silences not ended.
    func operatorView(now: Date) throws -> (alerts: [Alert], acknowledged: [String: String], held: [String: String], silences: [Silence]) {
        try pool.read { db in
            var alerts: [Alert] = []
            var acknowledged: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT a.body, k.author, k.note FROM alerts a LEFT JOIN acks k ON k.alert_id = a.id
                WHERE a.status IN ('firing', 'stale') ORDER BY a.id
                """) {
                guard let alert = Alert(json: row["body"]) else { continue }
                alerts.append(alert)
                if let by: String = row["author"] {
                    let note: String = row["note"] ?? ""
                    acknowledged[alert.id] = note.isEmpty ? by : "\(by): \(note)"
                }
            }
            var held: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT alert_id, reason FROM held WHERE outcome = 'held'") { held[row["alert_id"]] = row["reason"] }
            return (alerts, acknowledged, held, try Self.silences(db: db, all: false, now: now))
        }
    }

    // MARK: Resolutions

    public enum ResolutionRequest: Sendable, Equatable { case recorded, notFiring(status: String), unknown }

    /// An operator resolves a firing (or stale) alert: recorded here, then the daemon delivers
    /// `<alert id>.resolved` with `resolved_by` and `note`, and the run never fires again.
    public func requestResolution(alert id: String, author: String, note: String, at: Date) throws -> ResolutionRequest {
        try pool.write { db in
            guard let body = try String.fetchOne(db, sql: "SELECT body FROM alerts WHERE id = ?", arguments: [id]),
                  let alert = Alert(json: body) else { return .unknown }
            guard alert.status != .resolved else { return .notFiring(status: alert.status.rawValue) }
            try db.execute(sql: """
                INSERT OR IGNORE INTO resolutions(alert_id, run, author, note, at) VALUES (?, ?, ?, ?, ?)
                """, arguments: [id, alert.run, author, note, at.timeIntervalSince1970])
            return .recorded
        }
    }

    /// The runs operators closed (an alert of one of them raises no event again).
    func closedRuns() throws -> Set<String> {
        try pool.read { Set(try String.fetchAll($0, sql: "SELECT run FROM resolutions")) }
    }

    /// Whether anything waits for the ingest thread: a resolution to apply, a held event, a digest due.
    func needsSettling(now: Date) throws -> Bool {
        try pool.read { db in
            try Bool.fetchOne(db, sql: """
                SELECT EXISTS(SELECT 1 FROM resolutions WHERE applied = 0)
                    OR EXISTS(SELECT 1 FROM held WHERE outcome = 'held')
                    OR EXISTS(SELECT 1 FROM digest_items WHERE interval_end <= ?)
                """, arguments: [now.timeIntervalSince1970]) ?? false
        }
    }

    /// Applies what waits, in one transaction: the pending resolutions (their `resolved` events), the held
    /// events nothing holds now, the digests due. Returns the events written and the ids of what was queued
    /// besides (released events, digests), and the runs the resolutions closed.
    func settle(sinks: [any AlertSink], routing: SinkRouting, now: Date) throws
        -> (events: [(id: String, alert: Alert)], queued: [String], closed: [String]) {
        try pool.write { db in
            var resolved: [Alert] = []
            var closed: [String] = []
            for row in try Row.fetchAll(db, sql: """
                SELECT r.alert_id, r.run, r.author, r.note, a.body FROM resolutions r LEFT JOIN alerts a ON a.id = r.alert_id
                WHERE r.applied = 0 ORDER BY r.at
                """) {
                closed.append(row["run"])
                try db.execute(sql: "UPDATE resolutions SET applied = 1 WHERE alert_id = ?", arguments: [row["alert_id"] as String])
                guard let body: String = row["body"], var alert = Alert(json: body), alert.status != .resolved else { continue }
                alert.status = .resolved
                alert.resolution = Alert.Resolution(by: row["author"], note: row["note"])
                resolved.append(alert)
            }
            let ids = try Self.write(resolved, sinks: sinks, routing: routing, now: now, db: db)
            let gate = try DeliveryGate(db: db, now: now, routing: routing)
            let released = try Self.releaseHeld(gate: gate, sinks: sinks, now: now, db: db)
            let digests = try Self.flushDigests(sinks: sinks, routing: routing, now: now, db: db)
            return (Array(zip(ids, resolved)).map { (id: $0.0, alert: $0.1) }, released + digests, closed)
        }
    }
}
