import Foundation

/// Wide files (a group of columns per quarter, one row per facility) made into one record per period by a
/// mapping's `wide:`: each row and period becomes one row of the usual layout (the row's other columns, then
/// `period` and that period's fields), so renames, filters, withheld values and checks apply as to any file.
extension RecordReader {
    func readWide(reader: inout CSVReader, wide: ColumnMapping.Wide, accept: (Record) -> Void, reject: (RowError) -> Void) {
        let source = reader.source
        let header: (names: [String], line: Int)
        switch csvHeader(reader: &reader) {
        case let .success(h): header = h
        case let .failure(error): reject(error); return
        }
        // Each period's columns by position; a column the header lacks is the file's one error.
        var absent: [String] = []
        let periods: [(period: String, columns: [String: Int])] = wide.periods.map { entry in
            var columns: [String: Int] = [:]
            for (field, name) in entry.fields {
                if let c = Layout.columnIndex(name, in: header.names) { columns[field] = c } else { absent.append(name) }
            }
            return (entry.period, columns)
        }
        guard absent.isEmpty else {
            reject(RowError(source: source, line: header.line, field: nil,
                            reason: "wide: names column\(absent.count > 1 ? "s" : "") \(absent.joined(separator: ", ")) that the header does not have"))
            return
        }
        let used = Set(periods.flatMap { $0.columns.values })
        let kept = header.names.indices.filter { !used.contains($0) }
        let fields = Array(Set(wide.periods.flatMap { $0.fields.map(\.field) })).sorted()
        guard let layout = reshapedLayout(kept.map { header.names[$0] } + ["period"] + fields, source: source, line: header.line,
                                          reject: reject) else { return }
        var row = CSVRow()
        var cache = RepeatCache()
        while Self.nextRow(&reader, into: &row, columns: header.names.count, reject: reject) {
            let base = kept.map { row.string($0) }
            for (period, columns) in periods {
                var flatRow = CSVRow()
                for value in base + [period] + fields.map({ columns[$0].map { row.string($0) } ?? "" }) { flatRow.append(field: value.utf8) }
                let covariates = Covariates(names: layout.covariateNames, values: flatRow.withFields { layout.covariateValues($0) })
                switch layout.record(origin: RecordOrigin(source: source, line: row.line), covariates: covariates, row: flatRow, cache: &cache) {
                case let .success(record)?: accept(record)
                case let .failure(error)?: reject(error)
                case nil: break
                }
            }
        }
    }
}
