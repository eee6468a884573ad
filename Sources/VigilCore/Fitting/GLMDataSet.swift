import Foundation
import VigilThreads
import VigilStats

/// Problems found while turning a CSV into a GLM problem: each names file, line, column and reason.
public struct DataSetError: Error, CustomStringConvertible {
    public let problems: [String]
    public var description: String { problems.joined(separator: "\n") }
}

/// Reads the columns of a GLM from a CSV table: the response checked against the family, log(offset),
/// and covariates that are numeric when every value parses as a number and categorical otherwise.
public enum GLMDataSet {
    public static let problemLimit = 20

    /// Serfling terms for `vigil fit`: K harmonics of the period written in `column`.
    public struct SeasonalColumn: Sendable {
        public let column: String
        public let harmonics: Int
        public init(column: String, harmonics: Int) {
            self.column = column
            self.harmonics = harmonics
        }
    }

    /// `trials`: the column of n for events out of n (`binomial`, `beta_binomial`: R's `cbind(y, n − y)`);
    /// without it a binomial response is a 0/1 outcome.
    ///
    /// The file is read by `CSVColumns` on all cores, numbers straight from the bytes; a covariate with a
    /// cell that is not a number is categorical, and only such columns are read again as texts.
    public static func load(path: String, family: GLMFit.FamilyKind, response: String, offset: String? = nil,
                            trials: String? = nil,
                            covariates: [String], references: [String: String] = [:], seasonal: SeasonalColumn? = nil,
                            commentByte: UInt8? = nil, timings: ((String, Double) -> Void)? = nil) throws -> GLMProblem {
        var clock = Stopwatch()
        func lap(_ step: String) { timings?(step, clock.lap()) }
        // The file is read more than once (its first row, its columns, a categorical column again): a pipe
        // would give its rows to the first read only.
        var status = stat()
        if stat(path, &status) == 0, status.st_mode & S_IFMT != S_IFREG {
            throw DataSetError(problems: ["\(path): not a regular file (a pipe, a device or a directory): the data set is read more than once; "
                + "write it to a file and give that file to --data"])
        }
        if trials != nil && !family.isProportion {
            throw DataSetError(problems: ["--trials gives events out of n: the family must be binomial or beta_binomial"])
        }
        if trials == nil && family == .betaBinomial {
            throw DataSetError(problems: ["beta_binomial needs --trials (the column of n that the events are out of)"])
        }
        var problems: [String] = []
        for name in covariates where seasonal != nil && Seasonal.term(name) != nil {
            problems.append("\(path): covariate \(name) is reserved for the seasonal terms (--seasonal)")
        }
        var kinds: [String: CSVColumns.Kind] = [:]
        for name in [response] + [offset, trials].compactMap({ $0 }) + covariates { kinds[name] = .number }
        // A covariate whose first cell is not a number is categorical whatever follows: read it as text at once.
        let first = firstRow(path, commentByte: commentByte)
        for name in covariates where references[name] != nil || first[name].map({ !isNumber($0) }) == true { kinds[name] = .text }
        if let seasonal { kinds[seasonal.column] = .text }
        func read(_ kinds: [String: CSVColumns.Kind]) throws -> CSVColumns {
            do {
                return try CSVColumns(path: path, columns: kinds, commentByte: commentByte, limit: problemLimit)
            } catch let error as CSVTableError {
                throw DataSetError(problems: error.problems.map(\.description))
            }
        }
        var table = try read(kinds)
        guard table.rowCount > 0 else {
            throw DataSetError(problems: ["\(path): the data set is empty (a header and no rows)"])
        }
        // A covariate with a cell that is not a finite number is categorical, and an outcome written in
        // words has more of them than were kept: read those columns again as texts.
        var again = covariates.filter { (table.numbers[$0]?.exceptionCount ?? 0) > 0 }
        if trials == nil, family.isProportion, let outcome = table.numbers[response],
           outcome.exceptionCount > outcome.exceptions.count {
            again.append(response)
        }
        if !again.isEmpty {
            for name in again { kinds[name] = .text }
            table = try read(kinds)
        }
        lap("read")
        defer { lap("design") }
        return try problem(from: table, family: family, response: response, offset: offset, trials: trials,
                           covariates: covariates, references: references, seasonal: seasonal, problems: problems)
    }

    static func problem(from table: CSVColumns, family: GLMFit.FamilyKind, response: String, offset: String?,
                        trials: String?, covariates: [String], references: [String: String],
                        seasonal: SeasonalColumn?, problems earlier: [String]) throws -> GLMProblem {
        var problems = earlier
        var unreported = 0
        let lines = table.lines
        func report(_ row: Int, _ column: String, _ reason: String) {
            if problems.count < problemLimit { problems.append("\(table.source):\(lines[row]): \(column): \(reason)") }
            else { unreported += 1 }
        }
        let n = table.rowCount
        let empty = CSVColumns.Numbers()
        /// Reports the cells of a number column that are not numbers; true when it has none.
        func reportExceptions(_ column: CSVColumns.Numbers, _ name: String, _ reason: (String) -> String) {
            for e in column.exceptions { report(e.row, name, reason(e.text)) }
            unreported += column.exceptionCount - column.exceptions.count
        }

        // Response; events out of trials are the proportion y/n with weight n.
        let observed = table.numbers[response] ?? empty
        var y = observed.values
        var weights: [Double]? = nil
        if let trials {
            let counts = table.numbers[trials] ?? empty
            reportExceptions(observed, response) { "\"\($0)\" is not a count >= 0" }
            reportExceptions(counts, trials) { "\"\($0)\" is not a count >= 1" }
            for i in 0..<n {
                let events = observed.values[i], size = counts.values[i]
                guard !events.isNaN, !size.isNaN else { continue }
                guard events >= 0, events == events.rounded() else { report(i, response, "\"\(written(events))\" is not a count >= 0"); continue }
                guard size >= 1, size == size.rounded() else { report(i, trials, "\"\(written(size))\" is not a count >= 1"); continue }
                guard events <= size else { report(i, response, "\(written(events)) events out of \(written(size)) trials"); continue }
                y[i] = events / size
            }
            weights = counts.values
        } else {
            switch family {
            case .binomial, .betaBinomial:
                func outcome(_ text: String) -> Double? {
                    switch text.trimmingSpaces.lowercased() {
                    case "1", "true": return 1
                    case "0", "false": return 0
                    default: return nil
                    }
                }
                if let texts = table.texts[response] {
                    y = [Double](repeating: 0, count: n)
                    for (i, text) in texts.enumerated() {
                        if let v = outcome(text) { y[i] = v } else { report(i, response, "\"\(text)\" is not an outcome 0/1 (or true/false)") }
                    }
                } else {
                    for e in observed.exceptions {
                        if let v = outcome(e.text) { y[e.row] = v } else { report(e.row, response, "\"\(e.text)\" is not an outcome 0/1 (or true/false)") }
                    }
                    for i in 0..<n where !y[i].isNaN && y[i] != 0 && y[i] != 1 {
                        report(i, response, "\"\(written(y[i]))\" is not an outcome 0/1 (or true/false)")
                    }
                }
            case .poisson, .negbin:
                reportExceptions(observed, response) { "\"\($0)\" is not a number" }
                for i in 0..<n where !y[i].isNaN && !(y[i] >= 0 && y[i] == y[i].rounded()) {
                    report(i, response, "\"\(written(y[i]))\" is not a count >= 0")
                }
            }
        }

        // Offset: log of a positive exposure.
        var logOffset: [Double]? = nil
        if let offset {
            let exposure = table.numbers[offset] ?? empty
            reportExceptions(exposure, offset) { "\"\($0)\" is not a number" }
            var values = exposure.values
            for i in 0..<n where !values[i].isNaN {
                if values[i] > 0 { values[i] = Foundation.log(values[i]) }
                else { report(i, offset, "\"\(written(values[i]))\" is not > 0 (log(offset) is the offset)") }
            }
            logOffset = values
        }

        // Covariates
        var built: [DesignMatrix.Covariate] = []
        for name in covariates {
            if let values = table.texts[name] {
                for (i, v) in values.enumerated() where v.isEmpty { report(i, name, "empty value") }
                built.append(.categorical(name: name, values: values, reference: references[name]))
            } else {
                built.append(.numeric(name: name, values: (table.numbers[name] ?? empty).values))
            }
        }
        // Serfling terms from the period column: u of each period's first day.
        if let seasonal, seasonal.harmonics > 0 {
            var days = [Int](repeating: 0, count: n)
            for (i, value) in (table.texts[seasonal.column] ?? []).enumerated() {
                if let period = Period.parse(Substring(value)) ?? Timestamp.parse(value).map({ Period(unit: .day, ordinal: $0.day) }),
                   period.unit != .year {
                    days[i] = period.firstDay
                } else {
                    report(i, seasonal.column, "\"\(value)\" is not a period (YYYY-MM, YYYY-Www, YYYY-Qn, YYYY-MM-DD)")
                }
            }
            for name in Seasonal.names(harmonics: seasonal.harmonics) {
                guard let term = Seasonal.term(name) else { continue }
                built.append(.numeric(name: name, values: days.map { Seasonal.value(k: term.k, sine: term.sine, day: $0) }))
            }
        }
        if unreported > 0 { problems.append("\(table.source): … and \(unreported) more problems") }
        if !problems.isEmpty { throw DataSetError(problems: problems) }
        let design: DesignMatrix
        do {
            design = try DesignMatrix(rowCount: n, covariates: built)
        } catch let error as DesignMatrix.BuildError {
            throw DataSetError(problems: ["\(table.source): \(error.description)"])
        }
        return GLMProblem(response: y, offset: logOffset, weights: weights, design: design)
    }

    /// The first data row's cells by column name, from the file's first 64 KiB; empty when that row does not
    /// end inside them or has the wrong field count.
    static func firstRow(_ path: String, commentByte: UInt8?) -> [String: String] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [:] }
        defer { try? handle.close() }
        let head = Array((try? handle.read(upToCount: 1 << 16)) ?? Data())
        var reader = CSVReader(source: path, contents: head, commentByte: commentByte)
        guard let header = try? reader.next(), let row = try? reader.next(), reader.consumedBytes < head.count,
              row.fields.count == header.fields.count else { return [:] }
        var cells: [String: String] = [:]
        for (name, cell) in zip(header.fields, row.fields) { cells[name.trimmingCharacters(in: .whitespaces)] = cell }
        return cells
    }

    /// What `CSVColumns` reads as a number: a finite double, spaces around it allowed.
    static func isNumber(_ cell: String) -> Bool {
        Double(cell.trimmingSpaces).map(\.isFinite) ?? false
    }

    /// A number as a cell would write it: whole numbers without a fraction.
    private static func written(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : "\(v)"
    }
}
