import Foundation
import VigilThreads
import GRDB
import GRDBSQLite
import Synchronization
import VigilStats
import VigilCore

/// The stored records: read back in chunks to rebuild the engine, written with their covariate shapes.
extension StateStore {

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
    static func record(_ row: SQLStatement, origin: RecordOrigin, shapes: [Int: CovariateNames]) -> VigilCore.Record? {
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
    static func insert(_ records: [StoredRecord], receivedAt: (Int) -> Int, known: [[String]: Int],
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
            // The key's texts bound in place for this step only (each row binds them again), not copied.
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

    static func loadShapes(_ db: Database) throws -> ShapeTable {
        var table = ShapeTable()
        let rows = try SQLStatement(db, "SELECT id, names FROM shapes")
        while try rows.next() {
            guard let names = StoredRecord.values(rows.bytes(1)) else { throw StateError("shapes row \(rows.int(0)) is malformed") }
            table.ids[names] = rows.int(0)
            table.names[rows.int(0)] = CovariateNames(names)
        }
        return table
    }
}
