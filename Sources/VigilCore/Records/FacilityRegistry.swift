import Foundation

/// What an alert says of its facility beyond the id (`facility: {name, state, type, county, …}`): the
/// registry's columns, empty values left out.
public struct FacilityLabels: Sendable, Equatable {
    public let labels: [(key: String, value: String)]

    /// The standard columns first (name, state, type, county), then the others by name: the same order
    /// whether the labels come from the registry or back from a stored alert's JSON.
    public init(_ labels: [(key: String, value: String)]) {
        func rank(_ key: String) -> Int { FacilityRegistry.standardColumns.firstIndex(of: key) ?? FacilityRegistry.standardColumns.count }
        self.labels = labels.sorted { (rank($0.key), $0.key) < (rank($1.key), $1.key) }
    }

    public subscript(key: String) -> String? { labels.first { $0.key == key }?.value }

    public var json: JSON { .object(labels.map { ($0.key, .string($0.value)) }) }

    public static func == (a: FacilityLabels, b: FacilityLabels) -> Bool {
        a.labels.map(\.key) == b.labels.map(\.key) && a.labels.map(\.value) == b.labels.map(\.value)
    }
}

/// The facility registry (daemon config `facilities:`, `vigil replay --facilities`): a CSV with
/// `facility_id` and, usually, `name, state, type, county`; any other column is kept as a label too.
/// A bad row is reported with its line and skipped; the rows beside it are kept. Facilities not in the
/// registry still get alerts, without `facility`.
public final class FacilityRegistry: Sendable {
    public static let standardColumns = ["name", "state", "type", "county"]

    public let path: String
    private let byID: [String: FacilityLabels]
    /// Rows that were not taken (file, line, field, reason).
    public let problems: [RowError]
    /// Its label columns (every column but `facility_id`): the keys silences and sinks can match on.
    public let columns: [String]

    public var count: Int { byID.count }

    public subscript(facility: String) -> FacilityLabels? { byID[facility] }

    /// Throws only when the file cannot be read or has no `facility_id` column.
    public convenience init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RowError(source: path, line: 0, field: nil, reason: "cannot read the facility registry")
        }
        try self.init(path: path, bytes: [UInt8](data))
    }

    public init(path: String, bytes: [UInt8]) throws {
        var reader = CSVReader(source: path, contents: bytes)
        var header: [String] = []
        var problems: [RowError] = []
        var byID: [String: FacilityLabels] = [:]
        var firstLine: [String: Int] = [:]
        while true {
            let record: CSVRecord?
            do {
                record = try reader.next()
            } catch let error as CSVError {
                problems.append(RowError(source: path, line: error.line, field: nil, reason: error.reason))
                continue
            } catch {
                problems.append(RowError(source: path, line: 0, field: nil, reason: "\(error)"))
                break
            }
            guard let record else { break }
            if header.isEmpty {
                header = record.fields.map { $0.trimmingCharacters(in: .whitespaces) }
                continue
            }
            if record.fields.count == 1 && record.fields[0].isEmpty { continue }
            guard let idColumn = header.firstIndex(of: "facility_id") else { break }
            guard record.fields.count == header.count else {
                problems.append(RowError(source: path, line: record.line, field: nil,
                                         reason: "\(record.fields.count) fields where the header has \(header.count)"))
                continue
            }
            let id = record.fields[idColumn].trimmingCharacters(in: .whitespaces)
            guard !id.isEmpty else {
                problems.append(RowError(source: path, line: record.line, field: "facility_id", reason: "empty"))
                continue
            }
            if let first = firstLine[id] {
                problems.append(RowError(source: path, line: record.line, field: "facility_id",
                                         reason: "\(id) is already registered on line \(first); this row is ignored"))
                continue
            }
            firstLine[id] = record.line
            var labels: [(key: String, value: String)] = []
            for (column, value) in zip(header, record.fields) where column != "facility_id" && !column.isEmpty {
                let value = value.trimmingCharacters(in: .whitespaces)
                if !value.isEmpty { labels.append((column, value)) }
            }
            byID[id] = FacilityLabels(labels)
        }
        guard header.contains("facility_id") else {
            throw RowError(source: path, line: 1, field: "facility_id", reason: "the facility registry needs a facility_id column")
        }
        self.path = path
        self.byID = byID
        self.problems = problems
        self.columns = header.filter { $0 != "facility_id" && !$0.isEmpty }
    }
}
