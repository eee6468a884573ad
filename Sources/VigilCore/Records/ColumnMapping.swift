import Foundation

/// How a feed's own columns make SPEC §1's fields (README "Feeds with their own column names"): NHSN
/// exports say `orgID`, `summaryYM`, `infCount`, `numcldays`, carry location rows to drop and build a
/// location's key from two columns; CMS files write `Not Available` for a suppressed count. Header names are
/// matched ignoring case.
public struct ColumnMapping: Sendable, Equatable {
    /// Source column → SPEC field (`facility_id`, `period`, `events`, `exposure`, …).
    public var columns: [String: String]
    /// The measure of every record whose file has no `measure` column.
    public var measure: String?
    /// SPEC field → source columns whose values, joined with `:`, make it (`facility_id: [orgID, locCDC]`).
    public var joined: [String: [String]]
    /// SPEC field → a number computed from source columns.
    public var computed: [String: Computation]
    /// Rows are taken only when every filter holds.
    public var filters: [Filter]
    /// Values (compared ignoring case and surrounding spaces) that mark a number as withheld: the row is
    /// suppressed, not rejected. Empty for files read without a mapping.
    public var missing: [String]

    /// A long file (one row per facility, period and measure ID, as CMS publishes) turned into records.
    public var pivot: Pivot?

    /// `pivot:` — the rows of one facility and period whose `column` holds a measure's IDs give one record of
    /// that measure, each ID's `value` becoming a field (`events: HAI_1_NUMERATOR, exposure: HAI_1_DOPC`) or,
    /// under another name, a covariate (`predicted: HAI_1_ELIGCASES`).
    /// Rows with other IDs (`HAI_1_SIR`, …) are not read.
    public struct Pivot: Sendable, Equatable {
        public var column: String
        public var value: String
        /// Measure → field → measure ID, in file order of the measures.
        public var measures: [(measure: String, fields: [(field: String, id: String)])]

        public init(column: String, value: String, measures: [(measure: String, fields: [(field: String, id: String)])]) {
            self.column = column
            self.value = value
            self.measures = measures
        }

        public static func == (a: Pivot, b: Pivot) -> Bool {
            a.column == b.column && a.value == b.value && a.measures.count == b.measures.count
                && zip(a.measures, b.measures).allSatisfy { x, y in
                    x.measure == y.measure && x.fields.map(\.field) == y.fields.map(\.field) && x.fields.map(\.id) == y.fields.map(\.id)
                }
        }
    }

    /// A wide file (one row per facility, a group of columns per quarter) turned into one record per period.
    public var wide: Wide?

    /// `wide:` — each period's columns: `2024Q1: { events: CDI_2024Q1, trials: RES_2024Q1 }`. Every row gives
    /// one record per period listed, its other columns shared by them; a name other than a field is a
    /// covariate of that period's record.
    public struct Wide: Sendable, Equatable {
        /// Period (as written in the mapping) → field → column, in file order.
        public var periods: [(period: String, fields: [(field: String, column: String)])]

        public init(periods: [(period: String, fields: [(field: String, column: String)])]) {
            self.periods = periods
        }

        public static func == (a: Wide, b: Wide) -> Bool {
            a.periods.count == b.periods.count && zip(a.periods, b.periods).allSatisfy { x, y in
                x.period == y.period && x.fields.map(\.field) == y.fields.map(\.field) && x.fields.map(\.column) == y.fields.map(\.column)
            }
        }
    }

    /// What a mapping file gets when it names no `missing:` tokens.
    public static let defaultMissing = ["Not Available", "N/A", "NA", "Too Few to Report", ""]

    public init(columns: [String: String] = [:], measure: String? = nil, joined: [String: [String]] = [:],
                computed: [String: Computation] = [:], filters: [Filter] = [], missing: [String] = []) {
        self.columns = columns
        self.measure = measure
        self.joined = joined
        self.computed = computed
        self.filters = filters
        self.missing = missing
    }

    /// The product of columns divided by a constant (`expected = rate × discharges / 100`).
    public struct Computation: Sendable, Equatable {
        public var product: [String]
        public var divisor: Double

        public init(product: [String], divisor: Double = 1) {
            self.product = product
            self.divisor = divisor
        }
    }

    /// `where:` — a column's value equal to one value, in a set, or not in it (surrounding spaces and case
    /// ignored: exports write `CC` and `cc`).
    public struct Filter: Sendable, Equatable {
        public enum Test: String, Sendable { case equals, `in`, notIn = "not_in" }
        public let column: String
        public let test: Test
        public let values: [String]
        private let folded: Set<String>

        public init(column: String, test: Test, values: [String]) {
            self.column = column
            self.test = test
            self.values = values
            self.folded = Set(values.map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
        }

        func holds(_ value: String) -> Bool {
            folded.contains(value.lowercased()) != (test == .notIn)
        }
    }
}
