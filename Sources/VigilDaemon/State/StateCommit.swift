import Foundation
import VigilThreads
import GRDB
import GRDBSQLite
import Synchronization
import VigilStats
import VigilCore

/// One transaction per group of batches: records, alert changes and their outbox rows together.
extension StateStore {

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

    /// The alert rows of events, and their outbox rows (one per sink its model routes it to) — unless a
    /// silence or an inhibition holds the event (`StateHolds`); then the held events nothing holds any more are
    /// released. An event's id needs the alert's count of earlier events, so the counts are read first; the
    /// objects are then made on all cores.
    static func write(_ events: [Alert], sinks: [any AlertSink], routing: SinkRouting, now: Date,
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
            case .firing, .stale: c.fired += 1; ordinal = c.fired
            case .resolved: c.resolved += 1; ordinal = c.resolved
            }
            tally[alert.id] = c
            totals.append(c)
            ids.append(EventID.make(alert: alert.id, status: alert.status, ordinal: ordinal))
        }
        let objects = Parallel.map(count: events.count, chunk: 64) { i -> (json: JSON, body: String) in
            let json = events[i].json
            return (json, json.serialized())
        }
        let alertRow = try SQLStatement(db, """
            INSERT INTO alerts(id, status, model, facility_id, measure, period, body, raised_at, updated_at, fired, resolved)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET status = excluded.status, body = excluded.body,
                raised_at = CASE WHEN excluded.status IN ('firing', 'stale') THEN excluded.raised_at ELSE alerts.raised_at END,
                updated_at = excluded.updated_at, fired = excluded.fired, resolved = excluded.resolved
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
        }
        // Decided once every alert row is written, so an inhibiting alert of the same batch counts.
        var gate = try DeliveryGate(db: db, now: now, routing: routing)
        let outgoing = events.indices.map { (alert: events[$0], json: objects[$0].json, eventID: ids[$0]) }
        let free = try hold(outgoing, bodies: objects.map(\.body), gate: &gate, now: now, db: db)
        try enqueue(free, sinks: sinks, routing: routing, now: now, db: db)
        _ = try releaseHeld(gate: gate, sinks: sinks, now: now, db: db)
        return ids
    }
}
