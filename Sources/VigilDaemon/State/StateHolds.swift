import Foundation
import VigilThreads
import GRDB
import GRDBSQLite
import VigilCore

/// What happens to an event between the engine and the outbox: held by a silence or an inhibition (recorded,
/// not delivered; released when nothing holds it and the alert still fires, dropped when it resolves first),
/// gathered into a digest, or queued for its sinks.
extension StateStore {

    /// Decides, inside a commit, whether an alert's event waits: an active silence matching it, or a firing
    /// alert of an inhibiting detector on its series. Loaded once per commit (silences are few).
    struct DeliveryGate {
        let silences: [Silence]
        let routing: SinkRouting
        /// Alerts with a held event not yet released or dropped.
        var openHeld: Set<String>

        init(db: Database, now: Date, routing: SinkRouting) throws {
            silences = try StateStore.silences(db: db, all: false, now: now).filter { $0.isActive(at: now) }
            self.routing = routing
            openHeld = Set(try String.fetchAll(db, sql: "SELECT DISTINCT alert_id FROM held WHERE outcome = 'held'"))
        }

        /// Why the alert's firing event waits now, or nil.
        func reason(_ alert: Alert, db: Database) throws -> String? {
            if let silence = silences.first(where: { $0.matcher.matches(alert) }) { return "silence \(silence.id)" }
            let inhibitors = routing.inhibitors(of: alert)
            guard !inhibitors.isEmpty else { return nil }
            for row in try Row.fetchAll(db, sql: """
                SELECT id, json_extract(body, '$.detector') AS detector FROM alerts
                WHERE model = ? AND facility_id = ? AND measure = ? AND status = 'firing'
                """, arguments: [alert.model, alert.facility, alert.measure]) {
                if let detector: String = row["detector"], inhibitors.contains(detector) {
                    return "inhibited by \(detector) alert \(row["id"] as String)"
                }
            }
            return nil
        }
    }

    /// An event on its way to the sinks: the alert, its JSON, its event id.
    typealias Outgoing = (alert: Alert, json: JSON, eventID: String)

    /// Sorts a commit's events: a firing (or stale) event something holds is kept in `held`; a resolved event of
    /// an alert whose firing event is held drops both (the alert came and went unseen, as the silence asked);
    /// the rest are returned, to be queued.
    static func hold(_ events: [Outgoing], bodies: [String], gate: inout DeliveryGate, now: Date, db: Database) throws -> [Outgoing] {
        var out: [Outgoing] = []
        out.reserveCapacity(events.count)
        let time = now.timeIntervalSince1970
        for (i, event) in events.enumerated() {
            let alert = event.alert
            if alert.status == .resolved {
                guard gate.openHeld.contains(alert.id) else { out.append(event); continue }
                let reason = try String.fetchOne(db, sql: "SELECT reason FROM held WHERE alert_id = ? AND outcome = 'held'",
                                                 arguments: [alert.id]) ?? ""
                try db.execute(sql: "UPDATE held SET outcome = 'dropped', settled_at = ? WHERE alert_id = ? AND outcome = 'held'",
                               arguments: [time, alert.id])
                try db.execute(sql: """
                    INSERT OR REPLACE INTO held(event_id, alert_id, body, reason, held_at, outcome, settled_at)
                    VALUES (?, ?, ?, ?, ?, 'dropped', ?)
                    """, arguments: [event.eventID, alert.id, bodies[i], reason, time, time])
                gate.openHeld.remove(alert.id)
                continue
            }
            guard let reason = try gate.reason(alert, db: db) else { out.append(event); continue }
            try db.execute(sql: "INSERT OR REPLACE INTO held(event_id, alert_id, body, reason, held_at) VALUES (?, ?, ?, ?, ?)",
                           arguments: [event.eventID, alert.id, bodies[i], reason, time])
            gate.openHeld.insert(alert.id)
        }
        return out
    }

    /// Queues events for their sinks: an outbox row per routed sink, or, for a digest sink, an item of the
    /// digest of the interval `now` falls in. Payloads are made on all cores.
    static func enqueue(_ events: [Outgoing], sinks: [any AlertSink], routing: SinkRouting, now: Date, db: Database) throws {
        guard !events.isEmpty else { return }
        let time = now.timeIntervalSince1970
        let stamp = Alert.timestamp(now)
        // Per sink, the payload of each event routed to it (nil: not routed, or gathered into a digest).
        let payloads = Parallel.map(count: events.count, chunk: 64) { i -> [[UInt8]?] in
            let e = events[i]
            return sinks.map { sink in
                routing.allows(sink.name, alert: e.alert) && routing.digests[sink.name] == nil
                    ? sink.payload(alert: e.alert, json: e.json, eventID: e.eventID, time: stamp) : nil
            }
        }
        let outboxRow = try SQLStatement(db, """
            INSERT OR IGNORE INTO outbox(sink, event_id, alert_id, payload, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?)
            """)
        for (i, event) in events.enumerated() {
            for (s, sink) in sinks.enumerated() {
                if let payload = payloads[i][s] {
                    outboxRow.bind(1, sink.name)
                    outboxRow.bind(2, event.eventID)
                    outboxRow.bind(3, event.alert.id)
                    outboxRow.bind(4, bytes: payload)
                    outboxRow.bind(5, time)
                    outboxRow.bind(6, time)
                    try outboxRow.run()
                } else if let schedule = routing.digests[sink.name], routing.allows(sink.name, alert: event.alert) {
                    let interval = schedule.interval(containing: now)
                    try db.execute(sql: """
                        INSERT OR IGNORE INTO digest_items(sink, interval_start, interval_end, event_id, status, body)
                        VALUES (?, ?, ?, ?, ?, ?)
                        """, arguments: [sink.name, interval.start.timeIntervalSince1970, interval.end.timeIntervalSince1970,
                                         event.eventID, event.alert.status.rawValue, event.json.serialized()])
                }
            }
        }
    }

    /// Delivers the held events nothing holds any more whose alert still fires (with the event id they were
    /// held under), and drops those whose alert no longer fires. Returns the released events' ids.
    static func releaseHeld(gate: DeliveryGate, sinks: [any AlertSink], now: Date, db: Database) throws -> [String] {
        guard !gate.openHeld.isEmpty else { return [] }
        let time = now.timeIntervalSince1970
        var released: [Outgoing] = []
        for row in try Row.fetchAll(db, sql: """
            SELECT h.event_id, h.alert_id, h.body, a.status FROM held h JOIN alerts a ON a.id = h.alert_id
            WHERE h.outcome = 'held' ORDER BY h.rowid
            """) {
            let eventID: String = row["event_id"], status: String = row["status"]
            guard status == Alert.Status.firing.rawValue || status == Alert.Status.stale.rawValue else {
                try db.execute(sql: "UPDATE held SET outcome = 'dropped', settled_at = ? WHERE event_id = ?", arguments: [time, eventID])
                continue
            }
            guard let alert = Alert(json: row["body"]), try gate.reason(alert, db: db) == nil else { continue }
            try db.execute(sql: "UPDATE held SET outcome = 'released', settled_at = ? WHERE event_id = ?", arguments: [time, eventID])
            released.append((alert, alert.json, eventID))
        }
        try enqueue(released, sinks: sinks, routing: gate.routing, now: now, db: db)
        return released.map(\.eventID)
    }

    /// Turns each digest sink's finished intervals into one outbox row each, `digest:<sink>:<interval start>`:
    /// the events of the interval (fired, stale, resolved), in the order they came. Returns the digests' ids.
    static func flushDigests(sinks: [any AlertSink], routing: SinkRouting, now: Date, db: Database) throws -> [String] {
        let due = try Row.fetchAll(db, sql: """
            SELECT DISTINCT sink, interval_start, interval_end FROM digest_items WHERE interval_end <= ? ORDER BY interval_start, sink
            """, arguments: [now.timeIntervalSince1970])
        guard !due.isEmpty else { return [] }
        let stamp = Alert.timestamp(now)
        var ids: [String] = []
        for row in due {
            let sinkName: String = row["sink"], start: Double = row["interval_start"], end: Double = row["interval_end"]
            let items = try Row.fetchAll(db, sql: """
                SELECT event_id, status, body FROM digest_items WHERE sink = ? AND interval_start = ? ORDER BY seq
                """, arguments: [sinkName, start])
            try db.execute(sql: "DELETE FROM digest_items WHERE sink = ? AND interval_start = ?", arguments: [sinkName, start])
            // A sink removed from the config since: its gathered events have nowhere to go.
            guard let sink = sinks.first(where: { $0.name == sinkName }) else { continue }
            let schedule = routing.digests[sinkName]
            func label(_ t: Double) -> String {
                let date = Date(timeIntervalSince1970: t)
                return schedule?.label(date) ?? Alert.timestamp(date)
            }
            let id = "digest:\(sinkName):\(label(start))"
            var lists: [String: [JSON]] = ["firing": [], "stale": [], "resolved": []]
            for item in items {
                let status: String = item["status"], body: String = item["body"]
                lists[status, default: []].append(.raw(body))
            }
            let digest = JSON.object([
                ("schema", .string("vigil.digest/v1")), ("id", .string(id)), ("sink", .string(sinkName)),
                ("interval_start", .string(label(start))), ("interval_end", .string(label(end))),
                ("counts", .object([("fired", .integer(lists["firing"]?.count ?? 0)), ("stale", .integer(lists["stale"]?.count ?? 0)),
                                    ("resolved", .integer(lists["resolved"]?.count ?? 0))])),
                ("fired", .array(lists["firing"] ?? [])), ("stale", .array(lists["stale"] ?? [])),
                ("resolved", .array(lists["resolved"] ?? [])),
            ])
            try db.execute(sql: """
                INSERT OR IGNORE INTO outbox(sink, event_id, alert_id, payload, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [sinkName, id, id, Data(sink.payload(digest: digest, eventID: id, time: stamp)),
                                 now.timeIntervalSince1970, now.timeIntervalSince1970])
            ids.append(id)
        }
        return ids
    }
}
