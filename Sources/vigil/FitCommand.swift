import ArgumentParser
import Foundation
import VigilCore
import VigilStats
import VigilThreads

struct FitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fit",
        abstract: "Fit a Poisson, negative binomial (NB2), logistic or beta-binomial regression to a CSV, as R's glm / MASS::glm.nb / VGAM::vglm.")

    @Option(help: "poisson | negbin | binomial | beta_binomial")
    var family: GLMFit.FamilyKind

    @Option(help: "CSV file with a header row.")
    var data: String

    @Option(help: "Response column: counts (poisson, negbin), 0/1, true/false (binomial), or events out of --trials.")
    var response: String

    @Option(help: "Column of n for events out of n (binomial, beta_binomial: R's cbind(y, n - y)).")
    var trials: String?

    @Option(help: "Exposure column; log(value) is the offset.")
    var offset: String?

    @Option(help: "Comma-separated covariate columns: numeric when every value parses, otherwise categorical.")
    var covariates: String = ""

    @Option(name: .customLong("reference"), parsing: .singleValue,
            help: "Reference level of a categorical covariate, as column=level (repeatable; default: first level in byte order).")
    var references: [String] = []

    @Option(help: "Serfling harmonics K: adds sin1, cos1, …, sinK, cosK of the period in --period-column.")
    var seasonal: Int?

    @Option(help: "The column with each row's period (YYYY-MM, YYYY-Www, YYYY-Qn or a date), for --seasonal.")
    var periodColumn: String?

    @Option(help: "table (like R's summary()) | json")
    var format: OutputFormat = .table

    @Flag(help: "Print how long reading, building the design, IRLS and θ took (standard error).")
    var timings = false

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case table, json }

    func validate() throws {
        for r in references where !r.contains("=") {
            throw ValidationError("--reference takes column=level, got \"\(r)\"")
        }
        if (seasonal == nil) != (periodColumn == nil) { throw ValidationError("--seasonal K and --period-column C go together") }
        if let seasonal, seasonal < 1 { throw ValidationError("--seasonal must be a whole number >= 1") }
    }

    func run() throws {
        keepFreedMemory()
        let covariateNames = covariates.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        var referenceLevels: [String: String] = [:]
        for r in references {
            let parts = r.split(separator: "=", maxSplits: 1).map(String.init)
            referenceLevels[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        guard FileManager.default.fileExists(atPath: data) else {
            throw ReportedFailure(message: "\(data): no such file")
        }
        let steps = StepTimes()
        let tell: (@Sendable (String, Double) -> Void)? = timings ? { @Sendable step, seconds in steps.add(step, seconds) } : nil
        defer { if timings { FileHandle.standardError.write(Data(steps.report.utf8)) } }
        let problem: GLMProblem
        do {
            problem = try GLMDataSet.load(path: data, family: family, response: response, offset: offset, trials: trials,
                                          covariates: covariateNames, references: referenceLevels,
                                          seasonal: seasonal.flatMap { k in periodColumn.map { GLMDataSet.SeasonalColumn(column: $0, harmonics: k) } },
                                          timings: tell)
        } catch let error as DataSetError {
            throw ReportedFailure(message: error.description)
        }
        let fit: GLMFit
        do {
            var control = GLMControl()
            control.timings = tell
            fit = try GLM.fit(problem, family: family, control: control)
        } catch {
            throw ReportedFailure(message: "\(data): the \(family.rawValue) fit failed: \(error)")
        }
        switch format {
        case .json:
            print(FitReport.json(fit).serialized())
        case .table:
            print(FitReport.table(fit, call: callDescription(covariateNames)), terminator: "")
        }
    }

    private func callDescription(_ covariates: [String]) -> String {
        var terms = covariates
        for k in 0..<(seasonal ?? 0) { terms += ["sin(2*pi*\(k + 1)*u)", "cos(2*pi*\(k + 1)*u)"] }
        if let offset { terms.append("offset(log(\(offset)))") }
        let rhs = terms.isEmpty ? "1" : terms.joined(separator: " + ")
        let lhs = trials.map { "cbind(\(response), \($0) - \(response))" } ?? response
        switch family {
        case .negbin: return "glm.nb(formula = \(lhs) ~ \(rhs), data = \(data))"
        case .betaBinomial: return "vglm(formula = \(lhs) ~ \(rhs), family = betabinomial, data = \(data))"
        default: return "glm(formula = \(lhs) ~ \(rhs), family = \(family.rawValue), data = \(data))"
        }
    }
}

extension GLMFit.FamilyKind: ExpressibleByArgument {}

/// Seconds per step of a fit, summed over repeats (NB2 alternates IRLS and θ), in the order first seen.
final class StepTimes: Sendable {
    private let steps = Locked<[(step: String, seconds: Double)]>([])

    func add(_ step: String, _ seconds: Double) {
        steps.withLock { all in
            if let i = all.firstIndex(where: { $0.step == step }) { all[i].seconds += seconds } else { all.append((step, seconds)) }
        }
    }

    var report: String {
        steps.withLock { all in all.map { "\($0.step): \(String(format: "%.3f", $0.seconds)) s\n" }.joined() }
    }
}
