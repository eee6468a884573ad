/// A rejected row: where it is and what was wrong (SPEC §1 "Bad input"):
/// `clabsi-2025-03.csv:17: events: "-2" is not a count >= 0`.
public struct RowError: Error, Sendable, Equatable, CustomStringConvertible {
    public let source: String
    public let line: Int
    /// The field at fault, nil when the whole row (or file) is.
    public let field: String?
    public let reason: String
    /// The row carries a withheld value (a mapping's `missing:` token): counted apart, not a defect of the feed.
    public let suppressed: Bool

    public init(source: String, line: Int, field: String?, reason: String, suppressed: Bool = false) {
        self.source = source
        self.line = line
        self.field = field
        self.reason = reason
        self.suppressed = suppressed
    }

    public var description: String {
        field.map { "\(source):\(line): \($0): \(reason)" } ?? "\(source):\(line): \(reason)"
    }
}

/// Names of a file's covariate columns, shared by all its records (one array of values per record).
public final class CovariateNames: Sendable {
    public let names: [String]
    private let index: [String: Int]

    /// The same index by lower-cased name: headers are matched ignoring case (a model's `alos` finds `ALOS`).
    private let folded: [String: Int]

    public init(_ names: [String]) {
        self.names = names
        var index: [String: Int] = [:], folded: [String: Int] = [:]
        for (i, n) in names.enumerated() {
            if index[n] == nil { index[n] = i }
            let f = n.lowercased()
            if folded[f] == nil { folded[f] = i }
        }
        self.index = index
        self.folded = folded
    }

    public func position(of name: String) -> Int? { index[name] ?? folded[name.lowercased()] }
}

/// The covariates of one record; an empty value counts as missing.
public struct Covariates: Sendable {
    public let names: CovariateNames
    public let values: [String]

    public init(names: CovariateNames, values: [String]) {
        self.names = names
        self.values = values
    }

    public static let none = Covariates(names: CovariateNames([]), values: [])

    public subscript(name: String) -> String? {
        guard let i = names.position(of: name), i < values.count, !values[i].isEmpty else { return nil }
        return values[i]
    }
}

/// Where a record came from, for its error messages and for file order.
public struct RecordOrigin: Sendable, Hashable {
    public let source: String
    public let line: Int
    public init(source: String, line: Int) {
        self.source = source
        self.line = line
    }
}

/// Counts of one facility, measure and period (SPEC §1, aggregate records). Immutable; a class so that
/// handing a record from the parsing threads to the engine costs one reference count, not one per field.
public final class AggregateRecord: Sendable {
    public let facility: String
    public let measure: String
    /// The period as written, in its own unit (a date stays a day until a model buckets it).
    public let period: Period
    public let events: Int
    public let exposure: Double?
    /// The n that `events` are out of (residents, discharges), for proportions; nil when the feed has none.
    public let trials: Int?
    public let covariates: Covariates
    public let origin: RecordOrigin

    public init(facility: String, measure: String, period: Period, events: Int, exposure: Double?, trials: Int? = nil,
                covariates: Covariates, origin: RecordOrigin) {
        self.facility = facility
        self.measure = measure
        self.period = period
        self.events = events
        self.exposure = exposure
        self.trials = trials
        self.covariates = covariates
        self.origin = origin
    }
}

/// One patient episode's outcome (SPEC §1, patient-level records). Immutable, a class as `AggregateRecord`.
public final class PatientRecord: Sendable {
    public let facility: String
    public let measure: String
    public let time: Timestamp
    public let outcome: Bool
    public let episode: String?
    public let covariates: Covariates
    public let origin: RecordOrigin

    public init(facility: String, measure: String, time: Timestamp, outcome: Bool, episode: String?,
                covariates: Covariates, origin: RecordOrigin) {
        self.facility = facility
        self.measure = measure
        self.time = time
        self.outcome = outcome
        self.episode = episode
        self.covariates = covariates
        self.origin = origin
    }
}

public enum Record: Sendable {
    case aggregate(AggregateRecord)
    case patient(PatientRecord)

    public var facility: String {
        switch self {
        case let .aggregate(r): r.facility
        case let .patient(r): r.facility
        }
    }

    public var measure: String {
        switch self {
        case let .aggregate(r): r.measure
        case let .patient(r): r.measure
        }
    }

    public var covariates: Covariates {
        switch self {
        case let .aggregate(r): r.covariates
        case let .patient(r): r.covariates
        }
    }

    public var origin: RecordOrigin {
        switch self {
        case let .aggregate(r): r.origin
        case let .patient(r): r.origin
        }
    }
}

/// A patient record's `time`: a date, or an RFC 3339 date-time. Ordered by the instant; its calendar day
/// (as written, before any UTC offset) places it in baseline windows and months.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Seconds since 1970-01-01T00:00:00Z (a date alone is its midnight UTC).
    public let instant: Double
    /// Day ordinal of the written date.
    public let day: Int
    public let text: String

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.instant < b.instant }
    public var description: String { text }

    /// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` (a space may stand for `T`).
    public static func parse(_ text: String) -> Timestamp? {
        let u = Array(text.utf8)
        guard u.count >= 10, let date = Period.parse(text.prefix(10)), date.unit == .day else { return nil }
        if u.count == 10 { return Timestamp(instant: Double(date.ordinal) * 86400, day: date.ordinal, text: text) }
        func two(_ i: Int) -> Int? {
            guard i + 1 < u.count, (48...57).contains(u[i]), (48...57).contains(u[i + 1]) else { return nil }
            return Int(u[i] - 48) * 10 + Int(u[i + 1] - 48)
        }
        guard u[10] == UInt8(ascii: "T") || u[10] == UInt8(ascii: "t") || u[10] == UInt8(ascii: " "),
              let hh = two(11), u.count > 13, u[13] == UInt8(ascii: ":"), let mm = two(14),
              u.count > 16, u[16] == UInt8(ascii: ":"), let ss = two(17),
              hh < 24, mm < 60, ss < 61 else { return nil }
        var i = 19
        var fraction = 0.0
        if i < u.count, u[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            let start = i
            while i < u.count, (48...57).contains(u[i]) { fraction += Double(u[i] - 48) * scale; scale /= 10; i += 1 }
            guard i > start else { return nil }
        }
        guard i < u.count else { return nil }
        var offset = 0
        switch u[i] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            guard i + 1 == u.count else { return nil }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard i + 6 == u.count, let oh = two(i + 1), u[i + 3] == UInt8(ascii: ":"), let om = two(i + 4),
                  oh < 24, om < 60 else { return nil }
            offset = (oh * 3600 + om * 60) * (u[i] == UInt8(ascii: "+") ? 1 : -1)
        default:
            return nil
        }
        let seconds = Double(date.ordinal * 86400 + hh * 3600 + mm * 60 + ss - offset) + fraction
        return Timestamp(instant: seconds, day: date.ordinal, text: text)
    }
}
