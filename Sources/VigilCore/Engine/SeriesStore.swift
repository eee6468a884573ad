import Foundation

/// Covariate value sets interned to small ids: a facility writes the same covariates period after period, so
/// the engine stores one id per record and evaluates a model's expectation once per distinct set.
final class CovariateTable {
    // Unchecked for exclusivity at run time, as the engine's intake state that owns it.
    @exclusivity(unchecked) private(set) var tuples: [Covariates] = []
    @exclusivity(unchecked) private var index: [Key: Int32] = [:]
    @exclusivity(unchecked) private var namesIDs: [[String]: Int32] = [:]
    @exclusivity(unchecked) private var lastNames: (names: CovariateNames, id: Int32)?

    private struct Key: Hashable {
        let names: Int32
        let values: [String]
    }

    var count: Int { tuples.count }
    subscript(id: Int32) -> Covariates { tuples[Int(id)] }

    /// The id of these covariates; `hint` (the id of the series' previous record, usually the same set) is
    /// checked first, so most records cost one comparison instead of a hash.
    func id(of covariates: Covariates, hint: Int32?) -> Int32 {
        if let hint {
            let held = tuples[Int(hint)]
            if (held.names === covariates.names || held.names.names == covariates.names.names) && held.values == covariates.values {
                return hint
            }
        }
        let key = Key(names: namesID(covariates.names), values: covariates.values)
        if let id = index[key] { return id }
        let id = Int32(tuples.count)
        tuples.append(covariates)
        index[key] = id
        return id
    }

    private func namesID(_ names: CovariateNames) -> Int32 {
        if let last = lastNames, last.names === names { return last.id }
        let id: Int32
        if let known = namesIDs[names.names] { id = known } else {
            id = Int32(namesIDs.count)
            namesIDs[names.names] = id
        }
        lastNames = (names, id)
        return id
    }
}

/// One aggregate record as the engine keeps it. `exposure` is NaN and `trials` −1 when the record has none
/// (trials in 32 bits: the record stays 40 bytes).
struct StoredCount {
    var period: Period
    var events: Int
    var exposure: Double
    var tuple: Int32
    var trials: Int32 = -1
}

/// A facility's records of one measure, sorted by period (written periods of mixed units by first day,
/// so the records of one model period are adjacent), one per written period.
struct CountSeries {
    var records: [StoredCount] = []

    /// Adds a record, replacing the one of the same written period.
    mutating func put(_ record: StoredCount) {
        if let last = records.last, last.period == record.period {
            records[records.count - 1] = record
            return
        }
        if records.isEmpty || Self.precedes(records[records.count - 1].period, record.period) {
            records.append(record)   // in order: the usual case
            return
        }
        var lo = 0, hi = records.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if Self.precedes(records[mid].period, record.period) { lo = mid + 1 } else { hi = mid }
        }
        if lo < records.count && records[lo].period == record.period {
            records[lo] = record
        } else {
            records.insert(record, at: lo)
        }
    }

    static func precedes(_ a: Period, _ b: Period) -> Bool {
        if a.unit == b.unit { return a.ordinal < b.ordinal }
        let (da, db) = (a.firstDay, b.firstDay)
        return da != db ? da < db : a.unit.rank < b.unit.rank
    }
}

/// The series of one measure, by facility, each facility given a slot number in order of arrival.
final class SeriesStore<Series> {
    // Unchecked for exclusivity at run time, as the engine's intake state that owns it.
    @exclusivity(unchecked) private(set) var facilities: [String] = []
    @exclusivity(unchecked) var series: [Series] = []
    @exclusivity(unchecked) private var index: [String: Int] = [:]
    @exclusivity(unchecked) private var last = -1
    private let empty: Series

    init(empty: Series) { self.empty = empty }

    func slot(_ facility: String) -> Int {
        if last >= 0 && facilities[last] == facility { return last }
        if let i = index[facility] {
            last = i
            return i
        }
        let i = facilities.count
        facilities.append(facility)
        series.append(empty)
        index[facility] = i
        last = i
        return i
    }

    func slot(of facility: String) -> Int? { index[facility] }

    /// Slots in byte order of their facility ids (the trace's order).
    var slotsInFacilityOrder: [Int] { Self.facilityOrder(facilities) }

    /// Slots in byte order of their facility ids (the trace's order).
    static func facilityOrder(_ facilities: [String]) -> [Int] {
        facilities.indices.sorted { facilities[$0].utf8.lexicographicallyPrecedes(facilities[$1].utf8) }
    }
}

extension SeriesStore where Series: Sendable {
    /// The store's series as a value, for a `SeriesView`.
    var stored: StoredSeries<Series> { StoredSeries(facilities: facilities, series: series) }
}

/// A store's facilities and series as values.
struct StoredSeries<Series: Sendable>: Sendable {
    let facilities: [String]
    let series: [Series]

    var slotsInFacilityOrder: [Int] { SeriesStore<Series>.facilityOrder(facilities) }
}

/// What a model makes of each interned covariate set, computed once per set: whether `select` takes it,
/// the first needed covariate it lacks, and the expectation per unit of exposure (NaN when the current
/// expectation cannot be computed from it, or there is none yet).
struct TupleFacts {
    private(set) var selected: [Bool] = []
    private(set) var missing: [String?] = []
    private(set) var factor: [Double] = []

    /// Sets with facts so far (those of the current expectation may lag until `extend`).
    var count: Int { min(selected.count, factor.count) }

    /// Brings the facts up to every set in `table`.
    mutating func extend(_ model: ModelRuntime, _ table: CovariateTable) {
        while selected.count < table.count {
            let covariates = table.tuples[selected.count]
            selected.append(model.config.selects(covariates))
            missing.append(model.missingCovariate(covariates))
        }
        while factor.count < table.count {
            let covariates = table.tuples[factor.count]
            factor.append((try? model.expectation?.factor(covariates: covariates).get()) ?? .nan)
        }
    }

    /// The expectation changed (a refit): factors are computed again.
    mutating func expectationChanged() { factor.removeAll(keepingCapacity: true) }
}
