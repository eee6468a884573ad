import Foundation
import GRDB
import GRDBSQLite

/// Why a batch was not applied, sorted by what to do with it: a batch the same input would fail again
/// (`rejected`: quarantined — spool file to `rejected/`, HTTP 422) or a failure of the machine (`transient`:
/// I/O, a full disk, a busy or read-only database — the spool file stays, HTTP 503 with `Retry-After`, and
/// it is tried again). A restart never decides: nothing counts attempts, so a `kill -9` quarantines nothing.
public enum IngestFailure: Error, CustomStringConvertible, Sendable {
    case rejected(String)
    case transient(String)

    public var isTransient: Bool {
        if case .transient = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case let .rejected(reason), let .transient(reason): reason
        }
    }

    /// SQLite's primary result codes that say the machine, not the batch, failed.
    private static let transientCodes: Set<Int32> = [
        SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_READONLY,
        SQLITE_NOMEM, SQLITE_PROTOCOL, SQLITE_INTERRUPT, SQLITE_ABORT, SQLITE_NOLFS, SQLITE_AUTH, SQLITE_CORRUPT,
        SQLITE_NOTADB,
    ]

    /// Sorts an error out of a commit. Errors vigil does not know (not SQLite's) count as transient: retrying
    /// a batch costs a log line, quarantining a good one loses it from monitoring.
    public static func classify(_ error: Error) -> IngestFailure {
        if let failure = error as? IngestFailure { return failure }
        let code: Int32?
        if let e = error as? DatabaseError { code = e.resultCode.primaryResultCode.rawValue }
        else if let e = error as? StateError { code = e.code.map { $0 & 0xff } }
        else { code = nil }
        guard let code else { return .transient("\(error)") }
        return transientCodes.contains(code) ? .transient("\(error)") : .rejected("the state database refused the batch: \(error)")
    }
}
