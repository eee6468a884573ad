import Foundation
import Yams

/// Reads a feed's column mapping (README "Feeds with their own column names"):
///
///     measure: CLABSI                      # for exports without a measure column
///     where:                               # rows taken only when every test holds
///       - { column: locationType, not_in: [NICU] }
///     columns:
///       summaryYM: period                  # source column: SPEC field
///       facility_id: [orgID, locCDC]       # SPEC field: source columns joined with ":"
///       exposure: { product: [rate, discharges], divide: 100 }
///     missing: ["Not Available", "N/A"]   # withheld values: the row is suppressed (default: README)
public enum ColumnMappingParser {
    static let fields = RecordReader.aggregateFields.union(RecordReader.patientFields).sorted()
    /// Fields that may be computed (numbers) and joined (text).
    static let numericFields: Set<String> = ["events", "exposure", "trials"]
    static let textFields: Set<String> = ["facility_id", "measure", "episode_id"]

    public static func load(path: String) throws -> ColumnMapping {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigErrors(problems: [ConfigProblem(file: path, line: 0, column: 0, message: "cannot read the file")])
        }
        return try parse(data: [UInt8](data), file: path).get()
    }

    public static func parse(data: [UInt8], file path: String) -> Result<ColumnMapping, ConfigErrors> {
        guard let text = String(validating: data, as: UTF8.self) else {
            return .failure(ConfigErrors(problems: [ConfigProblem(file: path, line: 1, column: 1, message: "not valid UTF-8")]))
        }
        let diagnostics = Diagnostics(file: path)
        var mapping = ColumnMapping(missing: ColumnMapping.defaultMissing)
        if let root = YAMLValue.root(text, file: path, diagnostics: diagnostics),
           let m = root.mapping(allowed: ["measure", "columns", "where", "missing", "pivot", "wide"]) {
            mapping.measure = m["measure"]?.string()
            if let p = m["pivot"] {
                mapping.pivot = pivot(p)
                if m["measure"] != nil { m["measure"]?.report("a pivot's measures come from its measure IDs: give no measure") }
            }
            if let w = m["wide"] {
                mapping.wide = wide(w)
                if m["pivot"] != nil { w.report("a mapping has pivot: or wide:, not both") }
            }
            if let c = m["columns"], let entries = c.entries { readColumns(entries, into: &mapping) }
            if mapping.wide != nil {
                for (source, field) in mapping.columns where field == "period" || pivotFields.contains(field) {
                    root.report("columns: \(source) cannot be mapped to \(field): wide: makes it for each period")
                }
            }
            if mapping.pivot != nil {
                for (source, field) in mapping.columns where pivotFields.contains(field) {
                    root.report("columns: \(source) cannot be mapped to \(field): the pivot makes it from the measure IDs")
                }
            }
            if let w = m["where"], let items = w.items { mapping.filters = items.compactMap(filter) }
            if let missing = m["missing"]?.strings() { mapping.missing = missing }
        }
        if !diagnostics.problems.isEmpty {
            return .failure(ConfigErrors(problems: diagnostics.problems.sorted { ($0.line, $0.column) < ($1.line, $1.column) }))
        }
        return .success(mapping)
    }

    private static func readColumns(_ entries: [(key: String, value: YAMLValue)], into mapping: inout ColumnMapping) {
        var made: [String: String] = [:]   // field → how (for "already made by" messages)
        func claim(_ field: String, by how: String, at value: YAMLValue) -> Bool {
            if let other = made[field] {
                value.report("\(field) is already made by \(other)")
                return false
            }
            made[field] = how
            return true
        }
        for (key, value) in entries {
            if value.scalarText != nil {
                guard let field = value.string() else { continue }
                guard fields.contains(field) else {
                    value.report("\"\(field)\" is not a record field (\(fields.joined(separator: ", ")); other columns are covariates under their own names)")
                    continue
                }
                if claim(field, by: key, at: value) { mapping.columns[key] = field }
            } else if isSequence(value) || isMapping(value) {
                if isMapping(value) {
                    // A computed number is a field (events, exposure) or a covariate of a new name.
                    guard numericFields.contains(key) || !fields.contains(key) else {
                        value.report("\(key) cannot be computed (fields that can: \(numericFields.sorted().joined(separator: ", ")); other names make covariates)")
                        continue
                    }
                    guard let c = value.mapping(allowed: ["product", "divide"]) else { continue }
                    guard let product = c["product"]?.strings(), !product.isEmpty else {
                        if c["product"] == nil { value.missing("product") }
                        continue
                    }
                    var divisor = 1.0
                    if let d = c["divide"]?.number() {
                        guard d != 0 else { c["divide"]?.report("must not be 0"); continue }
                        divisor = d
                    }
                    if claim(key, by: "a computation", at: value) {
                        mapping.computed[key] = ColumnMapping.Computation(product: product, divisor: divisor)
                    }
                } else if let sources = value.strings() {
                    guard fields.contains(key) else {
                        value.report("\"\(key)\" is not a record field: a list joins columns into a field (\(textFields.sorted().joined(separator: ", ")))")
                        continue
                    }
                    guard textFields.contains(key) else { value.report("only \(textFields.sorted().joined(separator: ", ")) can be joined from columns"); continue }
                    guard !sources.isEmpty else { value.report("must name at least one column"); continue }
                    if claim(key, by: "joining \(sources.joined(separator: ", "))", at: value) { mapping.joined[key] = sources }
                }
            }
        }
    }

    /// Fields a pivot makes from measure IDs.
    static let pivotFields: Set<String> = ["events", "exposure", "trials"]

    private static func pivot(_ value: YAMLValue) -> ColumnMapping.Pivot? {
        guard let m = value.mapping(allowed: ["column", "value", "measures"]) else { return nil }
        for key in ["column", "value", "measures"] where m[key] == nil { value.missing(key) }
        guard let column = m["column"]?.string(), let valueColumn = m["value"]?.string(),
              let entries = m["measures"]?.entries else { return nil }
        var measures: [(measure: String, fields: [(field: String, id: String)])] = []
        var ids: Set<String> = []
        for (measure, spec) in entries {
            guard let list = madeFields(spec, used: &ids, maker: "a pivot makes", naming: "measure ID") else { continue }
            measures.append((measure, list.map { (field: $0.field, id: $0.name) }))
        }
        return ColumnMapping.Pivot(column: column, value: valueColumn, measures: measures)
    }

    private static func wide(_ value: YAMLValue) -> ColumnMapping.Wide? {
        guard let entries = value.entries else { return nil }
        if entries.isEmpty { value.report("must list at least one period") }
        var periods: [(period: String, fields: [(field: String, column: String)])] = []
        var columns: Set<String> = []
        for (period, spec) in entries {
            if Period.parse(Substring(period)) == nil {
                spec.report("\(period) is not a period (YYYY-MM, YYYY-Qn, YYYYQn, YYYY-MM-DD, …)")
                continue
            }
            guard let list = madeFields(spec, used: &columns, maker: "a period's columns make", naming: "column") else { continue }
            periods.append((period, list.map { (field: $0.field, column: $0.name) }))
        }
        return ColumnMapping.Wide(periods: periods)
    }

    /// The fields (events, exposure, trials) and covariates one pivot measure or wide period makes, each from
    /// a name (a measure ID, a column) used once in the whole mapping; `events` required.
    private static func madeFields(_ spec: YAMLValue, used: inout Set<String>, maker: String,
                                   naming kind: String) -> [(field: String, name: String)]? {
        guard let entries = spec.entries else { return nil }
        var list: [(field: String, name: String)] = []
        for (field, nameValue) in entries {
            // A name other than a field is a covariate (CMS's predicted cases for `supplied`).
            guard pivotFields.contains(field) || !fields.contains(field) else {
                nameValue.report("\(maker) \(pivotFields.sorted().joined(separator: ", ")) or covariates, not \(field)")
                continue
            }
            guard let name = nameValue.string() else { continue }
            if !used.insert(name.lowercased()).inserted { nameValue.report("\(kind) \(name) is already used") }
            list.append((field, name))
        }
        if !list.contains(where: { $0.field == "events" }) { spec.missing("events") }
        return list
    }

    private static func isMapping(_ value: YAMLValue) -> Bool {
        if case .mapping = value.node { return true }
        return false
    }

    private static func isSequence(_ value: YAMLValue) -> Bool {
        if case .sequence = value.node { return true }
        return false
    }

    private static func filter(_ item: YAMLValue) -> ColumnMapping.Filter? {
        guard let m = item.mapping(allowed: ["column", "equals", "in", "not_in"]) else { return nil }
        guard let column = m["column"]?.string() else {
            if m["column"] == nil { item.missing("column") }
            return nil
        }
        let tests = ["equals", "in", "not_in"].filter { m[$0] != nil }
        guard tests.count == 1, let name = tests.first, let test = ColumnMapping.Filter.Test(rawValue: name) else {
            item.report("give one of equals, in, not_in")
            return nil
        }
        let values: [String]?
        if test == .equals { values = m[name]?.string().map { [$0] } } else { values = m[name]?.strings() }
        guard let values else { return nil }
        return ColumnMapping.Filter(column: column, test: test, values: values.map { $0.trimmingCharacters(in: .whitespaces) })
    }
}
