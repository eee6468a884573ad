import GRDB
import GRDBSQLite

/// A statement prepared on SQLite's C interface, on a connection GRDB opened and inside GRDB's transaction:
/// the hot paths of a commit (a million record rows, thousands of alert events) without GRDB's per-statement
/// bookkeeping. Used by one thread, within the `Database` access it was made in.
final class SQLStatement {
    private let connection: OpaquePointer
    private let pointer: OpaquePointer
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    init(_ db: Database, _ sql: String) throws {
        guard let connection = db.sqliteConnection else { throw StateError("the state database is closed") }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(connection, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw StateError("prepare \(sql): \(String(cString: sqlite3_errmsg(connection)))", code: sqlite3_extended_errcode(connection))
        }
        self.connection = connection
        self.pointer = statement
    }

    deinit { sqlite3_finalize(pointer) }

    func bind(_ i: Int32, _ value: String?) {
        if let value { sqlite3_bind_text(pointer, i, value, -1, Self.transient) } else { sqlite3_bind_null(pointer, i) }
    }

    /// Binds without a copy: the text must stay where it is until the statement has run (`withText`).
    func bind(_ i: Int32, text: UnsafePointer<CChar>) {
        sqlite3_bind_text(pointer, i, text, -1, nil)
    }

    func bind(_ i: Int32, _ value: Int) { sqlite3_bind_int64(pointer, i, Int64(value)) }

    func bind(_ i: Int32, _ value: Int?) {
        if let value { sqlite3_bind_int64(pointer, i, Int64(value)) } else { sqlite3_bind_null(pointer, i) }
    }

    func bind(_ i: Int32, _ value: Double?) {
        if let value { sqlite3_bind_double(pointer, i, value) } else { sqlite3_bind_null(pointer, i) }
    }

    func bind(_ i: Int32, bytes: [UInt8]) {
        bytes.withUnsafeBytes { b in
            // A zero-length blob still needs a non-null pointer, or SQLite stores NULL.
            _ = sqlite3_bind_blob(pointer, i, b.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(b.count), Self.transient)
        }
    }

    /// Runs a statement that returns no rows, then makes it ready for the next bindings.
    func run() throws {
        defer { sqlite3_reset(pointer) }
        guard sqlite3_step(pointer) == SQLITE_DONE else { throw error() }
    }

    /// Steps to the next row: true when there is one, false at the end (the statement is then reset).
    func next() throws -> Bool {
        switch sqlite3_step(pointer) {
        case SQLITE_ROW: return true
        case SQLITE_DONE:
            sqlite3_reset(pointer)
            return false
        default:
            let e = error()
            sqlite3_reset(pointer)
            throw e
        }
    }

    func reset() { sqlite3_reset(pointer) }

    func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(pointer, column)) }

    func optionalInt(_ column: Int32) -> Int? {
        sqlite3_column_type(pointer, column) == SQLITE_NULL ? nil : int(column)
    }

    func double(_ column: Int32) -> Double? {
        sqlite3_column_type(pointer, column) == SQLITE_NULL ? nil : sqlite3_column_double(pointer, column)
    }

    func string(_ column: Int32) -> String? {
        guard let text = sqlite3_column_text(pointer, column) else { return nil }
        let count = Int(sqlite3_column_bytes(pointer, column))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    /// The column's bytes, valid until the next step.
    func bytes(_ column: Int32) -> UnsafeBufferPointer<UInt8> {
        let blob = sqlite3_column_blob(pointer, column)
        let count = Int(sqlite3_column_bytes(pointer, column))
        guard let blob, count > 0 else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: blob.assumingMemoryBound(to: UInt8.self), count: count)
    }

    var lastInsertedRow: Int { Int(sqlite3_last_insert_rowid(connection)) }

    private func error() -> StateError {
        StateError(String(cString: sqlite3_errmsg(connection)), code: sqlite3_extended_errcode(connection))
    }
}
