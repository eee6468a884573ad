import Foundation
import VigilThreads

/// The two wire formats of SPEC §1, chosen by file extension or HTTP Content-Type.
public enum RecordFormat: String, Sendable {
    case csv, ndjson

    public init?(path: String) {
        switch (path as NSString).pathExtension.lowercased() {
        case "csv": self = .csv
        case "ndjson", "jsonl": self = .ndjson
        default: return nil
        }
    }

    public init?(contentType: String) {
        let media = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        switch media {
        case "text/csv": self = .csv
        case "application/x-ndjson", "application/jsonl", "application/ndjson": self = .ndjson
        default: return nil
        }
    }
}

/// Turns CSV or NDJSON rows into records, one row at a time: a good row goes to `accept`, a bad one to
/// `reject` with its line, field and reason, and reading goes on (SPEC §1).
public struct RecordReader: Sendable {
    public static let aggregateFields: Set<String> = ["facility_id", "measure", "period", "events", "exposure", "trials"]
    public static let patientFields: Set<String> = ["facility_id", "measure", "time", "outcome", "episode_id"]

    public let mapping: ColumnMapping

    public init(mapping: ColumnMapping = ColumnMapping()) {
        self.mapping = mapping
    }

    /// Reads a file; throws only when it cannot be opened or its format is unknown.
    public func read(path: String, format: RecordFormat? = nil, accept: (Record) -> Void,
                     reject: (RowError) -> Void) throws {
        guard let format = format ?? RecordFormat(path: path) else {
            throw RowError(source: path, line: 0, field: nil,
                           reason: "unknown format: name the file .csv, .ndjson or .jsonl")
        }
        let name = (path as NSString).lastPathComponent
        switch format {
        case .csv:
            var reader: CSVReader
            do {
                reader = try CSVReader(path: path, source: name)
            } catch {
                throw RowError(source: path, line: 0, field: nil, reason: "cannot open the file (missing or not readable)")
            }
            readCSV(reader: &reader, accept: accept, reject: reject)
        case .ndjson:
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw RowError(source: path, line: 0, field: nil, reason: "cannot open the file (missing or not readable)")
            }
            defer { try? handle.close() }
            // Whole lines at a time, so memory stays at one chunk plus the longest line.
            var pending: [UInt8] = []
            var line = 0
            while true {
                let chunk = handle.readData(ofLength: 1 << 20)
                if chunk.isEmpty { break }
                pending.append(contentsOf: chunk)
                guard let last = pending.lastIndex(of: 0x0A) else { continue }
                line = readNDJSON(source: name, bytes: pending[...last], firstLine: line, accept: accept, reject: reject)
                pending.removeFirst(last + 1)
            }
            if !pending.isEmpty { _ = readNDJSON(source: name, bytes: pending[...], firstLine: line, accept: accept, reject: reject) }
        }
    }

    /// Reads a body held in memory (an HTTP batch, a spool file).
    public func read(source: String, bytes: [UInt8], format: RecordFormat, accept: (Record) -> Void,
                     reject: (RowError) -> Void) {
        switch format {
        case .csv:
            var reader = CSVReader(source: source, contents: bytes)
            readCSV(reader: &reader, accept: accept, reject: reject)
        case .ndjson: _ = readNDJSON(source: source, bytes: bytes[...], firstLine: 0, accept: accept, reject: reject)
        }
    }

    /// `read(source:bytes:…)` on all cores for a plain CSV body (no pivot or wide mapping) longer than one
    /// part: cut at record boundaries as `CSVColumns` cuts a file, each part parsed by its own copy of the
    /// layout, and every row handed to `accept` or `reject` in file order, as the sequential read would.
    public func readInParts(source: String, bytes: [UInt8], format: RecordFormat, partSize: Int = 1 << 21,
                            accept: (Record) -> Void, reject: (RowError) -> Void) {
        guard format == .csv, mapping.pivot == nil, mapping.wide == nil, bytes.count > partSize else {
            read(source: source, bytes: bytes, format: format, accept: accept, reject: reject)
            return
        }
        var reader = CSVReader(source: source, contents: bytes)
        let layout: Layout
        switch csvLayout(reader: &reader) {
        case let .success(l): layout = l
        case let .failure(error): reject(error); return
        }
        let parts = CSVColumns.cut(bytes, from: reader.consumedBytes, firstLine: reader.nextLine, partSize: max(1, partSize))
        let parsed = Parallel.map(parts) { part -> [ReadAhead.Row] in
            // Each part its own copy of the name and layout (`independentCopy`).
            var csv = CSVReader(source: source.independentCopy, part: Array(bytes[part.range]),
                                firstLine: part.firstLine)
            return rows(&csv, layout: layout.independentCopy(), lines: part.lineCount)
        }
        for rows in parsed {
            for row in rows {
                switch row {
                case let .record(record): accept(record)
                case let .rejected(error): reject(error)
                }
            }
        }
    }

    /// The rows of a part of a CSV, records and rejections in file order (a worker's share of a file or body);
    /// `lines`: the part's line feeds, room for its rows at once.
    func rows(_ csv: inout CSVReader, layout: Layout, lines: Int) -> [ReadAhead.Row] {
        var rows: [ReadAhead.Row] = []
        rows.reserveCapacity(lines + 1)
        readCSVRows(reader: &csv, layout: layout, accept: { rows.append(.record($0)) }, reject: { rows.append(.rejected($0)) })
        return rows
    }

    // MARK: CSV

    private func readCSV(reader: inout CSVReader, accept: (Record) -> Void, reject: (RowError) -> Void) {
        if let pivot = mapping.pivot {
            readPivot(reader: &reader, pivot: pivot, accept: accept, reject: reject)
            return
        }
        if let wide = mapping.wide {
            readWide(reader: &reader, wide: wide, accept: accept, reject: reject)
            return
        }
        switch csvLayout(reader: &reader) {
        case let .success(layout): readCSVRows(reader: &reader, layout: layout, accept: accept, reject: reject)
        case let .failure(error): reject(error)
        }
    }

    /// Reads a CSV header and makes its layout; the error is the file's only row error when it fails.
    func csvLayout(reader: inout CSVReader) -> Result<Layout, RowError> {
        csvHeader(reader: &reader).flatMap { header in
            Layout.make(names: header.names, mapping: mapping, holder: "header")
                .mapError { RowError(source: reader.source, line: header.line, field: nil, reason: $0.reason) }
        }
    }

    /// The header's names (surrounding spaces trimmed) and line.
    func csvHeader(reader: inout CSVReader) -> Result<(names: [String], line: Int), RowError> {
        let source = reader.source
        do {
            guard let h = try reader.next() else {
                return .failure(RowError(source: source, line: 1, field: nil, reason: "the file is empty (no header row)"))
            }
            return .success((h.fields.map { $0.trimmingCharacters(in: .whitespaces) }, h.line))
        } catch let error as CSVError {
            return .failure(RowError(source: source, line: error.line, field: nil, reason: error.reason))
        } catch {
            return .failure(RowError(source: source, line: 1, field: nil, reason: "\(error)"))
        }
    }

    /// Reads the rows after the header: plain records in place (`CSVReader.readPlain`), any other by `nextRow`.
    func readCSVRows(reader: inout CSVReader, layout: Layout, accept: (Record) -> Void, reject: (RowError) -> Void) {
        let source = reader.source
        var row = CSVRow()
        var cache = RepeatCache()
        var starts: [Int] = [], ends: [Int] = []
        func take(_ fields: CSVRow.Fields, line: Int) {
            let origin = RecordOrigin(source: source, line: line)
            switch layout.record(origin: origin, covariates: cache.covariates(layout, fields), row: fields, cache: &cache) {
            case let .success(record)?: accept(record)
            case let .failure(error)?: reject(error)
            case nil: break
            }
        }
        while true {
            reader.readPlain(columns: layout.columnCount, starts: &starts, ends: &ends, take)
            guard Self.nextRow(&reader, into: &row, columns: layout.columnCount, reject: reject) else { return }
            row.withFields { take($0, line: row.line) }
        }
    }

    /// Reads the next row with `columns` fields into `row`, rejecting unreadable rows and rows of another
    /// width on the way and skipping blank ones; false at the end of the file.
    static func nextRow(_ reader: inout CSVReader, into row: inout CSVRow, columns: Int, reject: (RowError) -> Void) -> Bool {
        while true {
            do {
                guard try reader.next(into: &row) else { return false }
            } catch let error as CSVError {
                reject(RowError(source: reader.source, line: error.line, field: nil, reason: error.reason))
                continue
            } catch {
                continue
            }
            if row.isBlank { continue }
            guard row.count == columns else {
                reject(RowError(source: reader.source, line: row.line, field: nil, reason: "\(row.count) fields, the header has \(columns)"))
                continue
            }
            return true
        }
    }

    // MARK: NDJSON

    /// Reads whole lines after line `firstLine`; returns the number of the last line read.
    private func readNDJSON(source: String, bytes: ArraySlice<UInt8>, firstLine: Int, accept: (Record) -> Void,
                            reject: (RowError) -> Void) -> Int {
        var start = bytes.startIndex
        var line = firstLine
        var cache = RepeatCache()
        if firstLine == 0 && bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start += 3 }
        while start < bytes.endIndex {
            line += 1
            var end = start
            while end < bytes.endIndex, bytes[end] != 0x0A { end += 1 }
            let text = bytes[start..<end]
            start = end + 1
            if text.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            let members: [(String, JSONLine.Value)]
            do {
                members = try JSONLine.parseObject(text)
            } catch let failure as JSONLine.Failure {
                reject(RowError(source: source, line: line, field: nil, reason: "not a JSON object: \(failure.reason)"))
                continue
            } catch {
                continue
            }
            // Top-level members first (they may be fields), then the nested covariates (never fields).
            var names: [String] = [], values: [String] = []
            var nestedNames: [String] = [], nestedValues: [String] = []
            var conflict: String? = nil
            for (key, value) in members {
                switch value {
                case let .text(text):
                    names.append(key)
                    values.append(text)
                case let .object(inner) where key == "covariates":
                    for (k, v) in inner {
                        switch v {
                        case let .text(text): nestedNames.append(k); nestedValues.append(text)
                        case .object: conflict = conflict ?? "\(k): an object is not a value"
                        default: break
                        }
                    }
                case .object:
                    conflict = conflict ?? "\(key): an object is not a value"
                default:
                    break
                }
            }
            if let conflict {
                reject(RowError(source: source, line: line, field: nil, reason: conflict))
                continue
            }
            let layout: Layout
            switch Layout.make(names: names + nestedNames, mapping: mapping, holder: "object", fixedCovariates: names.count) {
            case let .success(l): layout = l
            case let .failure(failure):
                reject(RowError(source: source, line: line, field: nil, reason: failure.reason))
                continue
            }
            let all = values + nestedValues
            var row = CSVRow()
            for value in all { row.append(field: value.utf8) }
            let covariates = Covariates(names: layout.covariateNames, values: row.withFields { layout.covariateValues($0) })
            switch layout.record(origin: RecordOrigin(source: source, line: line), covariates: covariates, row: row, cache: &cache) {
            case let .success(record)?: accept(record)
            case let .failure(error)?: reject(error)
            case nil: break
            }
        }
        return line
    }
}

/// Where SPEC's fields sit in a header (or are made from columns by a mapping), and the checks that turn
/// field text into a record.
struct Layout: Sendable {
    enum Kind: Sendable { case aggregate, patient }
    /// A number made from columns: their product over a divisor.
    struct Computed: Sendable { let columns: [Int]; let divisor: Double }
    let kind: Kind
    let facility: Int, measure: Int?, constantMeasure: String?
    let period: Int, events: Int, exposure: Int?          // aggregate (time, outcome, episode for patient)
    var trials: Int? = nil
    let covariateNames: CovariateNames
    let covariateColumns: [Int]
    let columnCount: Int
    /// What a mapping adds: fields joined from columns, numbers computed, row filters, withheld values
    /// (lower-cased). Empty for files read without one.
    var joinedFacility: [Int]? = nil, joinedMeasure: [Int]? = nil, joinedEpisode: [Int]? = nil
    var computedEvents: Computed? = nil, computedExposure: Computed? = nil, computedTrials: Computed? = nil
    /// Covariates computed from columns (`expected_readmissions: { product: [...], divide: 100 }`), after the
    /// column covariates in `covariateNames`.
    var computedCovariates: [(name: String, how: Computed)] = []
    var filters: [(column: Int, filter: ColumnMapping.Filter)] = []
    var missing: Set<String> = []
    var names: [String] = []

    /// The same layout in new storage. Threads parsing parts of one file each take their own: reference
    /// counts of objects that several cores retain at once contend.
    func independentCopy() -> Layout {
        var copy = Layout(kind: kind, facility: facility, measure: measure, constantMeasure: constantMeasure.map(\.independentCopy),
                          period: period, events: events, exposure: exposure,
                          covariateNames: CovariateNames(covariateNames.names.map(\.independentCopy)),
                          covariateColumns: covariateColumns.map { $0 }, columnCount: columnCount)
        (copy.joinedFacility, copy.joinedMeasure, copy.joinedEpisode) = (joinedFacility, joinedMeasure, joinedEpisode)
        (copy.computedEvents, copy.computedExposure, copy.computedTrials) = (computedEvents, computedExposure, computedTrials)
        copy.trials = trials
        copy.computedCovariates = computedCovariates.map { ($0.name.independentCopy, $0.how) }
        copy.filters = filters
        copy.missing = missing
        copy.names = names
        return copy
    }

    /// The position of the column called `name` ignoring case (how every header name is matched).
    static func columnIndex(_ name: String, in names: some Collection<String>) -> Int? {
        let folded = name.lowercased()
        return names.enumerated().first { $0.element.lowercased() == folded }?.offset
    }

    /// `names`: the file's own column names; the mapping renames them (ignoring case), and SPEC's field names
    /// are found ignoring case too. `holder` names what lists the fields in messages: a CSV "header", an
    /// NDJSON "object". `fixedCovariates`: names after the first this many are covariates whatever they are
    /// called (NDJSON's nested `covariates`).
    static func make(names raw: [String], mapping: ColumnMapping, holder: String, fixedCovariates: Int? = nil) -> Result<Layout, LayoutFailure> {
        var seen: [String: String] = [:]
        for n in raw.prefix(fixedCovariates ?? raw.count) {
            let folded = n.lowercased()
            if let other = seen[folded], other != n {
                return .failure(LayoutFailure(reason: "columns \"\(other)\" and \"\(n)\" differ only in case: headers are matched ignoring case"))
            }
            seen[folded] = n
        }
        let renames = Dictionary(mapping.columns.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { a, _ in a })
        let canonical = Dictionary(uniqueKeysWithValues: ColumnMappingParser.fields.map { ($0.lowercased(), $0) })
        let made = Set(mapping.joined.keys).union(mapping.computed.keys)
        let fieldLimit = fixedCovariates ?? raw.count
        // Each column's name after the mapping's renames; the SPEC field it holds, if any (a column named like a
        // field the mapping makes is a covariate).
        let names = raw.map { renames[$0.lowercased()] ?? $0 }
        let fields: [String?] = names.enumerated().map { i, n in
            guard i < fieldLimit, let f = canonical[n.lowercased()], !made.contains(f) else { return nil }
            return f
        }
        func index(_ n: String) -> Int? { fields.firstIndex(of: n) }
        func column(_ n: String) -> Int? { columnIndex(n, in: raw.prefix(fieldLimit)) }
        func present(_ n: String) -> Bool { index(n) != nil || made.contains(n) }
        let kind: Kind
        if present("events") { kind = .aggregate }
        else if present("outcome") { kind = .patient }
        else {
            return .failure(LayoutFailure(reason: "the \(holder) has neither events (aggregate records) nor outcome (patient-level records); \(holder): \(raw.joined(separator: ", "))"))
        }
        let required = kind == .aggregate ? ["facility_id", "period", "events"] : ["facility_id", "time", "outcome"]
        var missing = required.filter { !present($0) }
        if !present("measure") && mapping.measure == nil { missing.append("measure") }
        guard missing.isEmpty else {
            return .failure(LayoutFailure(reason: "missing column\(missing.count > 1 ? "s" : "") \(missing.joined(separator: ", ")) (the \(holder) has \(raw.joined(separator: ", ")))"))
        }
        // The mapping's columns, found ignoring case.
        var absent: [String] = []
        func columns(_ list: [String]) -> [Int] {
            list.compactMap { n in
                guard let c = column(n) else { absent.append(n); return nil }
                return c
            }
        }
        let joined = mapping.joined.mapValues(columns)
        let computed = mapping.computed.mapValues { Computed(columns: columns($0.product), divisor: $0.divisor) }
        let filters = mapping.filters.compactMap { f in column(f.column).map { (column: $0, filter: f) } ?? { absent.append(f.column); return nil }() }
        guard absent.isEmpty else {
            return .failure(LayoutFailure(reason: "the mapping names column\(absent.count > 1 ? "s" : "") \(absent.joined(separator: ", ")) that the \(holder) does not have (it has \(raw.joined(separator: ", ")))"))
        }
        let known = kind == .aggregate ? RecordReader.aggregateFields : RecordReader.patientFields
        let covariateColumns = fields.indices.filter { fields[$0].map { !known.contains($0) } ?? true }
        // A made field has no column of its own: its index points at its first source column.
        func at(_ field: String) -> Int? { index(field) ?? joined[field]?.first ?? computed[field]?.columns.first }
        guard let facility = at("facility_id"), let period = at(kind == .aggregate ? "period" : "time"),
              let events = at(kind == .aggregate ? "events" : "outcome") else {
            return .failure(LayoutFailure(reason: "the mapping makes a required field from no column"))
        }
        let computedCovariates = computed.filter { !ColumnMappingParser.numericFields.contains($0.key) }
            .sorted { $0.key < $1.key }.map { (name: $0.key, how: $0.value) }
        if let clash = computedCovariates.first(where: { columnIndex($0.name, in: raw) != nil }) {
            return .failure(LayoutFailure(reason: "the mapping computes \(clash.name), which the \(holder) already has as a column"))
        }
        var layout = Layout(
            kind: kind, facility: facility, measure: at("measure"), constantMeasure: mapping.measure,
            period: period, events: events, exposure: at(kind == .aggregate ? "exposure" : "episode_id"),
            covariateNames: CovariateNames(covariateColumns.map { names[$0] } + computedCovariates.map(\.name)),
            covariateColumns: covariateColumns, columnCount: names.count)
        (layout.joinedFacility, layout.joinedMeasure, layout.joinedEpisode) = (joined["facility_id"], joined["measure"], joined["episode_id"])
        (layout.computedEvents, layout.computedExposure, layout.computedTrials) = (computed["events"], computed["exposure"], computed["trials"])
        if kind == .aggregate { layout.trials = at("trials") }
        layout.computedCovariates = computedCovariates
        layout.filters = filters
        layout.missing = Set(mapping.missing.map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
        layout.names = raw
        return .success(layout)
    }

    /// The row's record, its error, or nil when the mapping's `where:` leaves the row out.
    func record(origin: RecordOrigin, covariates: Covariates, row: CSVRow, cache: inout RepeatCache) -> Result<Record, RowError>? {
        row.withFields { record(origin: origin, covariates: covariates, row: $0, cache: &cache) }
    }

    func record(origin: RecordOrigin, covariates: Covariates, row: CSVRow.Fields, cache: inout RepeatCache) -> Result<Record, RowError>? {
        func fail(_ f: String?, _ reason: String) -> Result<Record, RowError> {
            .failure(RowError(source: origin.source, line: origin.line, field: f, reason: reason))
        }
        func text(_ i: Int) -> Bytes { Self.trimmed(row.field(i)) }
        func string(_ bytes: Bytes) -> String { String(decoding: bytes, as: UTF8.self) }
        for (column, filter) in filters where !filter.holds(string(text(column))) { return nil }
        /// A withheld value (`missing:`) in a column a number is read from: the row is suppressed.
        func withheld(_ field: String, _ column: Int) -> Result<Record, RowError>? {
            guard !missing.isEmpty else { return nil }
            let value = string(text(column))
            guard missing.contains(value.lowercased()) else { return nil }
            return .failure(RowError(source: origin.source, line: origin.line, field: field,
                                     reason: "suppressed (\(value.isEmpty ? "empty" : value))", suppressed: true))
        }
        func withheld(_ field: String, _ how: Computed) -> Result<Record, RowError>? {
            for c in how.columns { if let suppressed = withheld(field, c) { return suppressed } }
            return nil
        }
        /// A field joined from columns with ":"; empty when all of them are.
        func joinedText(_ columns: [Int]?) -> String? {
            guard let columns else { return nil }
            let parts = columns.map { string(text($0)) }
            return parts.allSatisfy(\.isEmpty) ? "" : parts.joined(separator: ":")
        }
        /// A computed number, or the reason it is not one.
        func computedValue(_ field: String, _ how: Computed) -> Result<Double, RowError> {
            var value = 1.0
            for c in how.columns {
                let bytes = text(c)
                guard let v = Self.decimal(bytes) ?? Double(string(bytes)), v.isFinite else {
                    return .failure(RowError(source: origin.source, line: origin.line, field: field,
                                             reason: "\(names[c]) \"\(string(bytes))\" is not a number"))
                }
                value *= v
            }
            value /= how.divisor
            guard value.isFinite else {
                return .failure(RowError(source: origin.source, line: origin.line, field: field, reason: "\(value) (computed) is not a finite number"))
            }
            return .success(value)
        }
        for (name, how) in computedCovariates {
            if let suppressed = withheld(name, how) { return suppressed }
            if case let .failure(error) = computedValue(name, how) { return .failure(error) }
        }
        let facility: String
        if let made = joinedText(joinedFacility) {
            guard !made.isEmpty else { return fail("facility_id", "missing") }
            facility = made
        } else {
            let facilityText = text(self.facility)
            guard !facilityText.isEmpty else { return fail("facility_id", "missing") }
            facility = cache.facility.text(facilityText)
        }
        let measureText = joinedText(joinedMeasure) ?? measure.map { cache.measure.text(text($0)) } ?? constantMeasure ?? ""
        guard !measureText.isEmpty else { return fail("measure", "missing") }
        switch kind {
        case .aggregate:
            let periodText = text(period)
            guard !periodText.isEmpty else { return fail("period", "missing") }
            guard let p = Period.parse(utf8: periodText) else {
                return fail("period", "\"\(string(periodText))\" is not a period (YYYY-MM, YYYY-Www, YYYY-Qn, YYYY, YYYY-MM-DD, YYYYMmm, YYYYQn or MM/DD/YYYY)")
            }
            /// A count read or computed: events, trials.
            func countValue(_ field: String, column: Int, computed how: Computed?) -> Result<Int, RowError>? {
                if let how {
                    if let suppressed = withheld(field, how) { return suppressed.map { _ in 0 } }
                    switch computedValue(field, how) {
                    case let .failure(error): return .failure(error)
                    case let .success(v):
                        guard v >= 0, v <= Double(Self.maxCount), abs(v - v.rounded()) <= 1e-6 * max(1, v) else {
                            return .failure(RowError(source: origin.source, line: origin.line, field: field, reason: "\(v) (computed) is not a count >= 0"))
                        }
                        return .success(Int(v.rounded()))
                    }
                }
                if let suppressed = withheld(field, column) { return suppressed.map { _ in 0 } }
                let countText = text(column)
                guard !countText.isEmpty else { return nil }
                guard let c = Self.count(countText) else {
                    return .failure(RowError(source: origin.source, line: origin.line, field: field, reason: "\"\(string(countText))\" is not a count >= 0"))
                }
                return .success(c)
            }
            let count: Int
            switch countValue("events", column: events, computed: computedEvents) {
            case nil: return fail("events", "missing")
            case let .failure(error)?: return .failure(error)
            case let .success(c)?: count = c
            }
            var trialsValue: Int? = nil
            if computedTrials != nil || trials != nil {
                switch countValue("trials", column: trials ?? 0, computed: computedTrials) {
                case nil: break
                case let .failure(error)?: return .failure(error)
                case let .success(n)?:
                    guard n >= count else { return fail("trials", "\(n) is fewer than the \(count) events (events are out of trials)") }
                    trialsValue = n
                }
            }
            var exposureValue: Double? = nil
            if let how = computedExposure {
                if let suppressed = withheld("exposure", how) { return suppressed }
                switch computedValue("exposure", how) {
                case let .failure(error): return .failure(error)
                case let .success(v):
                    guard v > 0 else { return fail("exposure", "\(v) (computed) is not > 0") }
                    exposureValue = v
                }
            } else if let exposure {
                let bytes = text(exposure)
                if !bytes.isEmpty {
                    if let suppressed = withheld("exposure", exposure) { return suppressed }
                    // The text is made only for a value that is not a plain decimal or for a message.
                    guard let v = Self.decimal(bytes) ?? Double(string(bytes)), v.isFinite else {
                        return fail("exposure", "\"\(string(bytes))\" is not a number")
                    }
                    guard v > 0 else { return fail("exposure", "\"\(string(bytes))\" is not > 0") }
                    exposureValue = v
                }
            }
            return .success(.aggregate(AggregateRecord(
                facility: facility, measure: measureText, period: p, events: count, exposure: exposureValue,
                trials: trialsValue, covariates: covariates, origin: origin)))
        case .patient:
            let timeText = string(text(period))
            guard !timeText.isEmpty else { return fail("time", "missing") }
            guard let time = Timestamp.parse(timeText) else {
                return fail("time", "\"\(timeText)\" is not a date (YYYY-MM-DD) or RFC 3339 date-time")
            }
            if let suppressed = withheld("outcome", events) { return suppressed }
            let outcomeText = string(text(events))
            let outcome: Bool
            switch outcomeText.lowercased() {
            case "1", "true": outcome = true
            case "0", "false": outcome = false
            case "": return fail("outcome", "missing")
            default: return fail("outcome", "\"\(outcomeText)\" is not an outcome 0/1 (or true/false)")
            }
            let episode = joinedText(joinedEpisode) ?? exposure.map { string(text($0)) }
            return .success(.patient(PatientRecord(
                facility: facility, measure: measureText, time: time, outcome: outcome, episode: episode.flatMap { $0.isEmpty ? nil : $0 },
                covariates: covariates, origin: origin)))
        }
    }

    /// A row's covariate values: its covariate columns, then the computed covariates (in Swift's shortest
    /// form; empty when an input is not a number — `record` rejects such a row).
    func covariateValues(_ row: CSVRow.Fields) -> [String] {
        var values = covariateColumns.map { String(decoding: row.field($0), as: UTF8.self) }
        for (_, how) in computedCovariates {
            var v = 1.0
            for c in how.columns {
                let bytes = Self.trimmed(row.field(c))
                v *= Self.decimal(bytes) ?? Double(String(decoding: bytes, as: UTF8.self)) ?? .nan
            }
            v /= how.divisor
            values.append(v.isFinite ? "\(v)" : "")
        }
        return values
    }

    /// The bytes without leading and trailing spaces and tabs.
    static func trimmed(_ bytes: Bytes) -> Bytes {
        var lo = 0, hi = bytes.count
        while lo < hi, bytes[lo] == 0x20 || bytes[lo] == 0x09 { lo += 1 }
        while hi > lo, bytes[hi - 1] == 0x20 || bytes[hi - 1] == 0x09 { hi -= 1 }
        return Bytes(rebasing: bytes[lo..<hi])
    }

    /// A plain decimal (`256`, `0.2443`) of at most 15 digits, read without making a string: m / 10^k with m and
    /// 10^k exact in a double is correctly rounded (Clinger's fast path), so the value is strtod's. nil for
    /// anything else (signs, exponents, more digits), which the caller reads the general way.
    static func decimal(_ bytes: Bytes) -> Double? {
        var mantissa = 0
        var digits = 0
        var fraction = -1
        for b in bytes {
            if b >= 48 && b <= 57 {
                digits += 1
                guard digits <= 15 else { return nil }
                mantissa = mantissa * 10 + Int(b - 48)
                if fraction >= 0 { fraction += 1 }
            } else if b == UInt8(ascii: "."), fraction < 0 {
                fraction = 0
            } else {
                return nil
            }
        }
        guard digits > 0, digits <= 15 else { return nil }
        return fraction > 0 ? Double(mantissa) / powersOfTen[fraction] : Double(mantissa)
    }

    static let powersOfTen: [Double] = (0...15).map { Double("1e\($0)")! }

    /// A count written in plain digits, read without making a string.
    /// Counts above this are refused: no real count is near it, and sums of counts then cannot overflow.
    static let maxCount = 999_999_999_999

    static func count(_ bytes: Bytes) -> Int? {
        if bytes.count <= 12 {
            var v = 0
            var plain = true
            for b in bytes {
                guard b >= 48 && b <= 57 else { plain = false; break }
                v = v * 10 + Int(b - 48)
            }
            if plain { return v }
        }
        return count(String(decoding: bytes, as: UTF8.self))
    }

    /// A non-negative integer, also written as a float with no fraction (`3.0`, as some exports do).
    static func count(_ text: String) -> Int? {
        if let v = Int(text) { return v >= 0 && v <= maxCount ? v : nil }
        guard let d = Double(text), d.isFinite, d >= 0, d == d.rounded(), d <= Double(maxCount) else { return nil }
        return Int(d)
    }
}

/// Text made from row fields, kept while the same bytes come again: an export sorted by facility repeats
/// the facility, the measure and the covariates row after row, and those rows then share one string.
struct RepeatCache {
    struct Remembered {
        private var bytes: [UInt8] = []
        private var value = ""

        mutating func text(_ field: Bytes) -> String {
            if !Self.same(field, bytes) {
                bytes = Array(field)
                value = String(decoding: field, as: UTF8.self)
            }
            return value
        }

        static func same(_ a: Bytes, _ b: [UInt8]) -> Bool {
            guard a.count == b.count else { return false }
            return b.withUnsafeBufferPointer { b in
                guard let x = a.baseAddress, let y = b.baseAddress else { return true }   // both empty
                // Ids and codes are short: a loop beats a call to memcmp for them.
                guard a.count > 16 else {
                    for i in 0..<a.count where x[i] != y[i] { return false }
                    return true
                }
                return memcmp(x, y, a.count) == 0
            }
        }
    }

    var facility = Remembered()
    var measure = Remembered()
    private var covariateFields: [[UInt8]] = []
    private var lastCovariates: Covariates?

    /// The row's covariates, the previous row's own when every covariate field repeats.
    mutating func covariates(_ layout: Layout, _ row: CSVRow.Fields) -> Covariates {
        if let last = lastCovariates, last.names === layout.covariateNames,
           zip(layout.covariateColumns, covariateFields).allSatisfy({ Remembered.same(row.field($0), $1) }) {
            return last
        }
        let covariates = Covariates(names: layout.covariateNames, values: layout.covariateValues(row))
        // Computed covariates may read field columns the comparison above does not see: no reuse then.
        guard layout.computedCovariates.isEmpty else { lastCovariates = nil; return covariates }
        covariateFields = layout.covariateColumns.map { Array(row.field($0)) }
        lastCovariates = covariates
        return covariates
    }
}

extension String {
    /// The same text in storage of its own. What every record of a part holds (its file's name, the layout's
    /// strings) is copied per part: a reference count that several cores change at once contends.
    var independentCopy: String { String(decoding: Array(utf8), as: UTF8.self) }
}

/// Bytes of one field, valid inside `CSVRow.withFields`.
typealias Bytes = UnsafeBufferPointer<UInt8>

struct LayoutFailure: Error {
    let reason: String
}
