import Foundation
import VigilStats

/// `vigil fit`'s two outputs: SPEC §5's JSON object, and a table laid out like R's `summary.glm` /
/// `summary.negbin` so an epidemiologist can put the two side by side.
public enum FitReport {
    public static func json(_ fit: GLMFit) -> JSON {
        var fields: [(String, JSON)] = [
            ("family", .string(fit.family.rawValue)),
            ("link", .string(fit.link.rawValue)),
            ("n", .integer(fit.n)),
            ("coefficients", .array(fit.coefficients.map { c in
                var o: [(String, JSON)] = [
                    ("name", .string(c.name)), ("estimate", .finite(c.estimate)),
                    ("std_error", .finite(c.standardError)), ("z", .finite(c.z)), ("p", .finite(c.p)),
                ]
                if c.isAliased { o.append(("aliased", .bool(true))) }
                return .object(o)
            })),
            ("deviance", .finite(fit.deviance)),
            ("null_deviance", .finite(fit.nullDeviance)),
            ("df_residual", .integer(fit.residualDegreesOfFreedom)),
            ("df_null", .integer(fit.nullDegreesOfFreedom)),
            ("aic", .finite(fit.aic)),
            ("log_likelihood", .finite(fit.logLikelihood)),
            ("iterations", .integer(fit.iterations)),
            ("converged", .bool(fit.converged)),
        ]
        if fit.family == .negbin {
            fields.append(("theta", .finite(fit.theta)))
            fields.append(("theta_std_error", .finite(fit.thetaStandardError)))
        }
        if fit.family == .betaBinomial {
            fields.append(("rho", .finite(fit.rho)))
            fields.append(("logit_rho_std_error", .finite(fit.logitRhoStandardError)))
        }
        fields.append(("aliased", .array(fit.aliasedNames.map { .string($0) })))
        fields.append(("warnings", .array(fit.warnings.map { .string($0) })))
        return .object(fields)
    }

    public static func table(_ fit: GLMFit, call: String) -> String {
        var out = "\nCall:\n\(call)\n\n"
        let aliasedCount = fit.coefficients.filter(\.isAliased).count
        out += aliasedCount > 0 ? "Coefficients: (\(aliasedCount) not defined because of singularities)\n" : "Coefficients:\n"
        // printCoefmat(digits = 4): estimates and standard errors rounded together, z to 3 decimals,
        // p-values by format.pval(digits = 3).
        let digits = 4
        let shown = fit.coefficients.filter { !$0.isAliased }
        let coefficientColumns = shown.flatMap { [$0.estimate!, $0.standardError!] }
        let smallest = coefficientColumns.map(abs).filter { $0 > 0 && $0.isFinite }.min() ?? 1
        let decimals = min(20, max(1, digits - (1 + Int(floor(log10(smallest))))))
        let rounded = RNumberFormat.format(coefficientColumns.map { roundTo($0, decimals) }, digits: digits)
        let zs = RNumberFormat.format(shown.map { roundTo($0.z!, 3) }, digits: digits)
        let ps = RNumberFormat.pValues(shown.map { $0.p! }, digits: 3)
        var rows: [[String]] = [["", "Estimate", "Std. Error", "z value", "Pr(>|z|)", ""]]
        var next = 0
        for c in fit.coefficients {
            guard let p = c.p else {
                rows.append([c.name, "NA", "NA", "NA", "NA", ""])
                continue
            }
            rows.append([c.name, rounded[2 * next], rounded[2 * next + 1], zs[next], ps[next], stars(p)])
            next += 1
        }
        out += align(rows) + "---\nSignif. codes:  0 ‘***’ 0.001 ‘**’ 0.01 ‘*’ 0.05 ‘.’ 0.1 ‘ ’ 1\n\n"
        let familyName: String
        switch fit.family {
        case .poisson: familyName = "poisson"
        case .binomial: familyName = "binomial"
        case .negbin: familyName = "Negative Binomial(\(plain(roundTo(fit.theta ?? .nan, 4))))"
        case .betaBinomial: familyName = "betabinomial"
        }
        if fit.family == .betaBinomial, let rho = fit.rho {
            // VGAM's summary: ρ (logit link, intercept-only) and the log-likelihood; no deviance.
            out += "Intra-class correlation rho: \(plain(rho)) (logit(rho) \(plain(log(rho / (1 - rho)))), std. error \(plain(fit.logitRhoStandardError ?? .nan)))\n\n"
            out += "Log-likelihood: \(RNumberFormat.format([fit.logLikelihood], digits: 7)[0]) on \(fit.residualDegreesOfFreedom) degrees of freedom\n"
            out += "AIC: \(RNumberFormat.format([fit.aic], digits: 5)[0])\n\n"
            out += "Number of Newton-Raphson iterations: \(fit.iterations)\n\n"
            if !fit.converged { out += "\nThe fit did not converge.\n" }
            for w in fit.warnings { out += "\nWarning: \(w)\n" }
            return out
        }
        out += "(Dispersion parameter for \(familyName) family taken to be 1)\n\n"
        let deviances = RNumberFormat.format([fit.nullDeviance, fit.deviance], digits: 5)
        let null = deviances[0], residual = deviances[1]
        let width = max(null.count, residual.count)
        out += "    Null deviance: \(pad(null, width))  on \(fit.nullDegreesOfFreedom)  degrees of freedom\n"
        out += "Residual deviance: \(pad(residual, width))  on \(fit.residualDegreesOfFreedom)  degrees of freedom\n"
        out += "AIC: \(RNumberFormat.format([fit.aic], digits: 5)[0])\n\n"
        out += "Number of Fisher Scoring iterations: \(fit.iterations)\n\n"
        if fit.family == .negbin, let theta = fit.theta, let se = fit.thetaStandardError {
            // print.summary.negbin: dp = max(2 − floor(log10(SE)), 0) decimals.
            // An SE that is 0 or not finite (θ → ∞) gets R's default of 2 decimals.
            let dp = se > 0 && se.isFinite ? max(2 - Int(floor(log10(se))), 0) : 2
            out += "\n              Theta:  \(plain(roundTo(theta, dp))) \n          Std. Err.:  \(plain(roundTo(se, dp))) \n\n"
            out += " 2 x log-likelihood:  \(String(format: "%.\(dp)f", 2 * fit.logLikelihood)) \n"
        }
        if !fit.converged { out += "\nThe fit did not converge.\n" }
        for w in fit.warnings { out += "\nWarning: \(w)\n" }
        return out
    }

    static func roundTo(_ x: Double, _ decimals: Int) -> Double {
        let scale = pow(10.0, Double(decimals))
        return (x * scale).rounded() / scale
    }

    /// A number as R prints it with 7 significant digits.
    static func plain(_ x: Double) -> String { RNumberFormat.format([x], digits: 7)[0] }

    static func stars(_ p: Double) -> String {
        p < 0.001 ? "***" : p < 0.01 ? "**" : p < 0.05 ? "*" : p < 0.1 ? "." : ""
    }

    static func pad(_ s: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - s.count)) + s
    }

    /// Left-aligned names, right-aligned numbers, as R prints a coefficient matrix.
    static func align(_ rows: [[String]]) -> String {
        let columns = rows[0].count
        var widths = [Int](repeating: 0, count: columns)
        for row in rows { for (j, cell) in row.enumerated() { widths[j] = max(widths[j], cell.count) } }
        var out = ""
        for row in rows {
            var line = row[0] + String(repeating: " ", count: widths[0] - row[0].count)
            for j in 1..<(columns - 1) { line += " " + pad(row[j], widths[j]) }
            line += " " + row[columns - 1]
            out += line.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) + "\n"
        }
        return out
    }
}
