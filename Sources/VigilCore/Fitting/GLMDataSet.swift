import Foundation
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
    public static func load(path: String, family: GLMFit.FamilyKind, response: String, offset: String? = nil,
                            trials: String? = nil,
                            covariates: [String], references: [String: String] = [:], seasonal: SeasonalColumn? = nil,
                            commentByte: UInt8? = nil) throws -> GLMProblem {
        let table: CSVTable
        do {
            table = try CSVTable(path: path, commentByte: commentByte, limit: problemLimit)
        } catch let error as CSVTableError {
            throw DataSetError(problems: error.problems.map(\.description))
        } catch let error as CSVError {
            throw DataSetError(problems: [error.description])
        }
        return try problem(from: table, family: family, response: response, offset: offset, trials: trials,
                           covariates: covariates, references: references, seasonal: seasonal)
    }

    public static func problem(from table: CSVTable, family: GLMFit.FamilyKind, response: String, offset: String?,
                               trials: String? = nil, covariates: [String], references: [String: String] = [:],
                               seasonal: SeasonalColumn? = nil) throws -> GLMProblem {
        var problems: [String] = []
        var unreported = 0
        func report(_ line: Int, _ column: String, _ reason: String) {
            if problems.count < problemLimit { problems.append("\(table.source):\(line): \(column): \(reason)") }
            else { unreported += 1 }
        }
        if trials != nil && !family.isProportion {
            throw DataSetError(problems: ["--trials gives events out of n: the family must be binomial or beta_binomial"])
        }
        if trials == nil && family == .betaBinomial {
            throw DataSetError(problems: ["beta_binomial needs --trials (the column of n that the events are out of)"])
        }
        let needed = [response] + (offset.map { [$0] } ?? []) + (trials.map { [$0] } ?? []) + covariates + (seasonal.map { [$0.column] } ?? [])
        for name in covariates where seasonal != nil && Seasonal.term(name) != nil {
            problems.append("\(table.source): covariate \(name) is reserved for the seasonal terms (--seasonal)")
        }
        let missing = needed.filter { table.column($0) == nil }
        guard missing.isEmpty else {
            throw DataSetError(problems: missing.map {
                "\(table.source): no column \"\($0)\" (the header has: \(table.header.joined(separator: ", ")))"
            })
        }
        guard table.rowCount > 0 else {
            throw DataSetError(problems: ["\(table.source): the data set is empty (a header and no rows)"])
        }
        let lines = table.lines

        // Response; events out of trials are the proportion y/n with weight n.
        var y = [Double](repeating: 0, count: table.rowCount)
        var weights: [Double]? = nil
        if let trials {
            var n = [Double](repeating: 1, count: table.rowCount)
            let counts = table.column(trials) ?? []
            for (i, text) in (table.column(response) ?? []).enumerated() {
                let value = text.trimmingSpaces, total = counts[i].trimmingSpaces
                guard let events = Double(value), events >= 0, events == events.rounded(), events.isFinite else {
                    report(lines[i], response, "\"\(text)\" is not a count >= 0"); continue
                }
                guard let size = Double(total), size >= 1, size == size.rounded(), size.isFinite else {
                    report(lines[i], trials, "\"\(counts[i])\" is not a count >= 1"); continue
                }
                guard events <= size else { report(lines[i], response, "\(value) events out of \(total) trials"); continue }
                y[i] = events / size
                n[i] = size
            }
            weights = n
        } else {
            for (i, text) in (table.column(response) ?? []).enumerated() {
                let value = text.trimmingSpaces
                switch family {
                case .binomial, .betaBinomial:
                    switch value.lowercased() {
                    case "1", "true": y[i] = 1
                    case "0", "false": y[i] = 0
                    default: report(lines[i], response, "\"\(text)\" is not an outcome 0/1 (or true/false)")
                    }
                case .poisson, .negbin:
                    guard let v = Double(value), v.isFinite else {
                        report(lines[i], response, "\"\(text)\" is not a number"); continue
                    }
                    guard v >= 0, v == v.rounded() else {
                        report(lines[i], response, "\"\(text)\" is not a count >= 0"); continue
                    }
                    y[i] = v
                }
            }
        }

        // Offset: log of a positive exposure.
        var logOffset: [Double]? = nil
        if let offset {
            var values = [Double](repeating: 0, count: table.rowCount)
            for (i, text) in (table.column(offset) ?? []).enumerated() {
                guard let v = Double(text.trimmingSpaces), v.isFinite else {
                    report(lines[i], offset, "\"\(text)\" is not a number"); continue
                }
                guard v > 0 else { report(lines[i], offset, "\"\(text)\" is not > 0 (log(offset) is the offset)"); continue }
                values[i] = Foundation.log(v)
            }
            logOffset = values
        }

        // Covariates
        var built: [DesignMatrix.Covariate] = []
        for name in covariates {
            let raw = table.column(name) ?? []
            let trimmed = raw.map { $0.trimmingSpaces }
            for (i, v) in trimmed.enumerated() where v.isEmpty { report(lines[i], name, "empty value") }
            let numbers = trimmed.map { Double($0) }
            if references[name] == nil, numbers.allSatisfy({ $0 != nil && $0!.isFinite }) {
                built.append(.numeric(name: name, values: numbers.map { $0 ?? 0 }))
            } else {
                built.append(.categorical(name: name, values: trimmed, reference: references[name]))
            }
        }
        // Serfling terms from the period column: u of each period's first day.
        if let seasonal, seasonal.harmonics > 0 {
            var days = [Int](repeating: 0, count: table.rowCount)
            for (i, text) in (table.column(seasonal.column) ?? []).enumerated() {
                let value = text.trimmingSpaces
                if let period = Period.parse(Substring(value)) ?? Timestamp.parse(value).map({ Period(unit: .day, ordinal: $0.day) }),
                   period.unit != .year {
                    days[i] = period.firstDay
                } else {
                    report(lines[i], seasonal.column, "\"\(text)\" is not a period (YYYY-MM, YYYY-Www, YYYY-Qn, YYYY-MM-DD)")
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
            design = try DesignMatrix(rowCount: table.rowCount, covariates: built)
        } catch let error as DesignMatrix.BuildError {
            throw DataSetError(problems: ["\(table.source): \(error.description)"])
        }
        return GLMProblem(response: y, offset: logOffset, weights: weights, design: design)
    }
}
