import Foundation

/// Reads a feed's column mapping (README "Feeds with their own column names"):
///
///     measure: CLABSI            # for exports without a measure column
///     columns:                   # source column: SPEC field
///       orgID: facility_id
///       summaryYM: period
public enum ColumnMappingParser {
    static let fields = RecordReader.aggregateFields.union(RecordReader.patientFields).sorted()

    public static func load(path: String) throws -> ColumnMapping {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigErrors(problems: [ConfigProblem(file: path, line: 0, column: 0, message: "cannot read the file")])
        }
        let diagnostics = Diagnostics(file: path)
        var mapping = ColumnMapping()
        if let root = YAMLValue.root(text, file: path, diagnostics: diagnostics), let m = root.mapping(allowed: ["measure", "columns"]) {
            mapping.measure = m["measure"]?.string()
            if let c = m["columns"], let entries = c.entries {
                var targets: [String: String] = [:]
                for (source, value) in entries {
                    guard let field = value.string() else { continue }
                    if !fields.contains(field) {
                        value.report("\"\(field)\" is not a record field (\(fields.joined(separator: ", ")); other columns are covariates under their own names)")
                    } else if let other = targets[field] {
                        value.report("\(other) is already mapped to \(field)")
                    }
                    targets[field] = source
                    mapping.columns[source] = field
                }
            }
        }
        if !diagnostics.problems.isEmpty { throw ConfigErrors(problems: diagnostics.problems) }
        return mapping
    }
}
