import Foundation
import VigilThreads
import GRDB
import GRDBSQLite
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
    let shapes: Locked<ShapeTable>

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
        shapes = Locked(try pool.read(Self.loadShapes))
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
