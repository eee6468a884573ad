import Foundation

/// Long files (CMS Provider Data: one row per facility, measure ID and window) made into records by a
/// mapping's `pivot:`. The whole file is read first — such files are small — and the rows of one facility,
/// period and measure become one row of the wide layout (the file's other columns, then `measure` and the
/// pivoted fields), which the usual layout turns into a record: renames, filters, withheld values and the
/// period formats apply as to any file.
extension RecordReader {
    func readPivot(reader: inout CSVReader, pivot: ColumnMapping.Pivot, accept: (Record) -> Void, reject: (RowError) -> Void) {
        let source = reader.source
        let header: (names: [String], line: Int)
        switch csvHeader(reader: &reader) {
        case let .success(h): header = h
        case let .failure(error): reject(error); return
        }
        func column(_ name: String) -> Int? { Layout.columnIndex(name, in: header.names) }
        guard let idColumn = column(pivot.column), let valueColumn = column(pivot.value) else {
            let absent = [pivot.column, pivot.value].filter { column($0) == nil }
            reject(RowError(source: source, line: header.line, field: nil,
                            reason: "the pivot names column\(absent.count > 1 ? "s" : "") \(absent.joined(separator: ", ")) that the header does not have"))
            return
        }
        // Measure ID → (measure, field).
        var byID: [String: (measure: Int, field: String)] = [:]
        for (m, entry) in pivot.measures.enumerated() {
            for (field, id) in entry.fields { byID[id.lowercased()] = (m, field) }
        }
        // Every name the pivot fills, in one order: events and exposure become fields, others covariates.
        let fields = Array(Set(pivot.measures.flatMap { $0.fields.map(\.field) })).sorted()
        let kept = header.names.indices.filter { $0 != idColumn && $0 != valueColumn }
        guard let layout = reshapedLayout(kept.map { header.names[$0] } + ["measure"] + fields, source: source, line: header.line,
                                          reject: reject) else { return }

        struct Group {
            let line: Int
            let measure: Int
            var base: [String]
            var values: [String: String] = [:]
        }
        var groups: [Group] = []
        var index: [[String]: Int] = [:]
        // What names a facility and period in the wide row: the layout's own columns.
        let keyColumns = (layout.joinedFacility ?? [layout.facility]) + [layout.period]
        var row = CSVRow()
        while Self.nextRow(&reader, into: &row, columns: header.names.count, reject: reject) {
            let id = row.string(idColumn).trimmingSpaces
            guard let (measure, field) = byID[id.lowercased()] else { continue }
            let base = kept.map { row.string($0) }
            // (A key made from a pivoted name is not known yet: it groups as empty.)
            let key = keyColumns.map { $0 < base.count ? base[$0].trimmingSpaces : "" } + [String(measure)]
            let g: Int
            if let known = index[key] {
                g = known
            } else {
                g = groups.count
                index[key] = g
                groups.append(Group(line: row.line, measure: measure, base: base))
            }
            guard groups[g].values[field] == nil else {
                reject(RowError(source: source, line: row.line, field: nil,
                                reason: "\(pivot.column) \(id) again for the same facility and period (first on line \(groups[g].line))"))
                continue
            }
            groups[g].values[field] = row.string(valueColumn)
        }

        var cache = RepeatCache()
        for group in groups {
            let measure = pivot.measures[group.measure]
            guard group.values["events"] != nil else {
                let id = measure.fields.first { $0.field == "events" }?.id ?? "events"
                reject(RowError(source: source, line: group.line, field: "events", reason: "no \(pivot.column) \(id) row for this facility and period"))
                continue
            }
            var wide = CSVRow()
            for value in group.base + [measure.measure] + fields.map({ group.values[$0] ?? "" }) { wide.append(field: value.utf8) }
            let covariates = Covariates(names: layout.covariateNames, values: wide.withFields { layout.covariateValues($0) })
            switch layout.record(origin: RecordOrigin(source: source, line: group.line), covariates: covariates, row: wide, cache: &cache) {
            case let .success(record)?: accept(record)
            case let .failure(error)?: reject(error)
            case nil: break
            }
        }
    }
}

extension RecordReader {
    /// The usual layout of the rows a long or wide file is rebuilt into (its kept columns, then the names the
    /// reshaping fills), read with the mapping's renames, filters and withheld values; nil (rejected) when the
    /// header cannot give one.
    func reshapedLayout(_ names: [String], source: String, line: Int, reject: (RowError) -> Void) -> Layout? {
        var flat = mapping
        flat.pivot = nil
        flat.wide = nil
        switch Layout.make(names: names, mapping: flat, holder: "header") {
        case let .success(layout): return layout
        case let .failure(failure):
            reject(RowError(source: source, line: line, field: nil, reason: failure.reason))
            return nil
        }
    }
}
