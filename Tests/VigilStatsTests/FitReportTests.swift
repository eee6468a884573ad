import Foundation
import Testing
import VigilCore
@testable import VigilStats

/// `vigil fit --format table` against R's own `print(summary(fit))` text (summary-*.txt), line by line from
/// "Coefficients" on, with the coefficient names left out (vigil names dummies `col[level]`).
struct FitReportTests {
    static let cases: [(summary: String, fit: Int)] = [
        ("summary-quine-negbin.txt", 0), ("summary-panel-negbin.txt", 2),
        ("summary-birthwt-binomial.txt", 4), ("summary-aliased-poisson.txt", 6),
    ]

    @Test(arguments: 0..<cases.count)
    func tableMatchesRSummary(_ index: Int) throws {
        let (summary, fitIndex) = Self.cases[index]
        let fit = try GLMReferenceTests.fit(GLMReferenceTests.cases[fitIndex])
        let ours = Self.normalized(FitReport.table(fit, call: "").components(separatedBy: "\n"))
            .filter { !$0.hasPrefix("Warning:") }
        let theirs = Self.normalized(try String(contentsOfFile: Reference.path(summary), encoding: .utf8)
            .components(separatedBy: "\n"))
        #expect(theirs.count > 10 && ours.count >= theirs.count)
        for (a, b) in zip(ours, theirs) { #expect(a == b, "\(summary)") }
    }

    /// θ → ∞ leaves a θ standard error that is infinite or NaN: the table prints it (R's 2 decimals) instead
    /// of trapping on log10 of it.
    @Test func tableWithoutAFiniteThetaStandardError() throws {
        let fit = try GLMReferenceTests.fit(GLMReferenceTests.cases[0])
        for se in [Double.infinity, .nan, 0] {
            let odd = GLMFit(family: fit.family, link: fit.link, n: fit.n, coefficients: fit.coefficients,
                             covariance: fit.covariance, keptColumns: fit.keptColumns, deviance: fit.deviance,
                             nullDeviance: fit.nullDeviance, residualDegreesOfFreedom: fit.residualDegreesOfFreedom,
                             nullDegreesOfFreedom: fit.nullDegreesOfFreedom, logLikelihood: fit.logLikelihood, aic: fit.aic,
                             iterations: fit.iterations, converged: fit.converged, theta: 1e9, thetaStandardError: se,
                             warnings: [])
            #expect(FitReport.table(odd, call: "").contains("Theta:"))
        }
    }

    /// From "Coefficients" on, blank lines dropped, white space folded, the first token of coefficient rows
    /// (the name) dropped.
    static func normalized(_ lines: [String]) -> [String] {
        guard let start = lines.firstIndex(where: { $0.hasPrefix("Coefficients") }) else { return [] }
        var out: [String] = []
        var inTable = false
        for line in lines[start...] {
            var tokens = line.split(whereSeparator: { $0 == " " }).map(String.init)
            if tokens.isEmpty { continue }
            if tokens.first == "Estimate" { inTable = true; out.append(tokens.joined(separator: " ")); continue }
            if tokens.first == "---" { inTable = false }
            if inTable { tokens.removeFirst() }
            out.append(tokens.joined(separator: " "))
        }
        return out
    }
}
