import Foundation

/// A fitted GLM, with what R's `summary.glm` / `summary.negbin` report.
public struct GLMFit: Sendable {
    public struct Coefficient: Sendable, Equatable {
        public let name: String
        /// nil when the column is aliased (a linear combination of earlier columns), as R's NA.
        public let estimate: Double?
        public let standardError: Double?
        public let z: Double?
        public let p: Double?
        public var isAliased: Bool { estimate == nil }
    }

    public enum FamilyKind: String, Sendable, Codable, CaseIterable {
        case poisson
        case negbin
        case binomial
        case betaBinomial = "beta_binomial"

        /// Events out of trials (grouped rows with weights n), or a Bernoulli outcome.
        public var isProportion: Bool { self == .binomial || self == .betaBinomial }
    }

    public let family: FamilyKind
    public let link: Link
    public let n: Int
    public let coefficients: [Coefficient]
    /// Covariance of the non-aliased estimates, in the order of `keptColumns`.
    public let covariance: Matrix
    public let keptColumns: [Int]
    public let deviance: Double
    /// NaN when `GLMControl.fitsNullModel` is false.
    public let nullDeviance: Double
    public let residualDegreesOfFreedom: Int
    public let nullDegreesOfFreedom: Int
    public let logLikelihood: Double
    public let aic: Double
    public let iterations: Int
    public let converged: Bool
    public let theta: Double?
    public let thetaStandardError: Double?
    /// Problems a user must know about, in words (non-convergence, separation, θ at a limit).
    public let warnings: [String]
    /// The intra-class correlation of a beta-binomial fit, and the standard error of its logit (VGAM's
    /// `(Intercept):2`).
    public var rho: Double? = nil
    public var logitRhoStandardError: Double? = nil

    public var rank: Int { keptColumns.count }
    public var aliasedNames: [String] { coefficients.filter(\.isAliased).map(\.name) }

    /// Estimates with 0 for aliased columns, in design order: what E = exp(xᵀβ) uses.
    public var estimates: [Double] { coefficients.map { $0.estimate ?? 0 } }
}

/// Fits Poisson, NB2 and logistic regressions as R's `glm` and `MASS::glm.nb` do.
/// The fits split rows into segments over all cores themselves, so each BLAS call inside a segment runs on
/// one thread: OpenBLAS's own threads on these thin matrices only contend with the segments.
public enum GLM {
    public static func fit(_ problem: GLMProblem, family: GLMFit.FamilyKind,
                           control: GLMControl = GLMControl()) throws -> GLMFit {
        LinearAlgebra.useCallingThreadOnly()
        switch family {
        case .poisson:
            return try fitFixedFamily(problem, PoissonFamily(), kind: .poisson, control: control)
        case .binomial:
            return try fitFixedFamily(problem, BinomialFamily(), kind: .binomial, control: control)
        case .negbin:
            return try NegativeBinomialRegression(problem: problem, control: control).fit()
        case .betaBinomial:
            return try BetaBinomialRegression(problem: problem, control: control).fit()
        }
    }

    static func fitFixedFamily<F: Family>(_ problem: GLMProblem, _ family: F, kind: GLMFit.FamilyKind,
                                          control: GLMControl) throws -> GLMFit {
        let result = try control.timed("IRLS") { try IRLS(problem: problem, family: family, control: control).run() }
        let y = problem.response
        let mu = result.fitted
        let logLikelihood = RowSegments(count: y.count).sum { s, rows in
            var total = 0.0
            for (i, m) in zip(rows, mu.parts[s]) { total += family.logLikelihood(y[i], m, weight: problem.weight(i)) }
            return total
        }
        let rank = result.factorization.kept.count
        return try assemble(problem, family: family, kind: kind, result: result, logLikelihood: logLikelihood,
                            aic: -2 * logLikelihood + 2 * Double(rank), theta: nil,
                            nullDeviance: try control.timed("null deviance") { try nullDeviance(problem, family: family, control: control) },
                            control: control, extraWarnings: [])
    }

    /// Builds the report from a converged (or not) IRLS run: standard errors from (XᵀWX)⁻¹ of the final
    /// iteration, z = β/SE, p = 2Φ(−|z|), the null deviance and the warnings.
    static func assemble<F: Family>(_ problem: GLMProblem, family: F, kind: GLMFit.FamilyKind, result: IRLSResult,
                                    logLikelihood: Double, aic: Double,
                                    theta: (value: Double, standardError: Double)?, nullDeviance: Double,
                                    control: GLMControl, extraWarnings: [String]) throws -> GLMFit {
        let design = problem.design
        let kept = result.factorization.kept
        let covariance = try result.factorization.inverse()
        var coefficients: [GLMFit.Coefficient] = []
        for (j, name) in design.names.enumerated() {
            if let a = kept.firstIndex(of: j) {
                let estimate = result.coefficients[j]
                let se = covariance[a, a].squareRoot()
                let z = estimate / se
                coefficients.append(.init(name: name, estimate: estimate, standardError: se, z: z,
                                          p: SpecialFunctions.twoSidedNormalP(z)))
            } else {
                coefficients.append(.init(name: name, estimate: nil, standardError: nil, z: nil, p: nil))
            }
        }
        var warnings: [String] = []
        if !result.converged {
            warnings.append("IRLS did not converge in \(control.maxIterations) iterations: the estimates are not reliable")
        }
        if result.boundary {
            warnings.append("the fit reached the boundary of valid means; IRLS halved its steps")
        }
        let eps = 10 * Double.ulpOfOne
        if kind.isProportion, result.fitted.contains(where: { $0 > 1 - eps || $0 < eps }) {
            warnings.append("fitted probabilities numerically 0 or 1 occurred: a covariate separates the outcomes "
                + "(complete or quasi-complete separation), so some estimates and standard errors are not meaningful")
        } else if !kind.isProportion, result.fitted.contains(where: { $0 < eps }) {
            warnings.append("fitted rates numerically 0 occurred: some estimates are not meaningful")
        }
        var nonFinite: [String] = []
        if coefficients.contains(where: { !($0.estimate?.isFinite ?? true) }) { nonFinite.append("coefficients") }
        if coefficients.contains(where: { !($0.standardError?.isFinite ?? true) }) { nonFinite.append("standard errors") }
        if !result.deviance.isFinite { nonFinite.append("deviance") }
        if let theta, !(theta.value.isFinite && theta.value > 0) { nonFinite.append("θ (\(theta.value))") }
        guard nonFinite.isEmpty else { throw GLMError.notFinite(nonFinite.joined(separator: ", ")) }
        let aliased = design.names.enumerated().filter { !kept.contains($0.offset) }.map(\.element)
        if !aliased.isEmpty {
            warnings.append("not estimable, aliased with earlier columns: \(aliased.joined(separator: ", "))")
        }
        warnings += extraWarnings
        let n = problem.rowCount
        return GLMFit(family: kind, link: family.link, n: n, coefficients: coefficients, covariance: covariance,
                      keptColumns: kept, deviance: result.deviance, nullDeviance: nullDeviance,
                      residualDegreesOfFreedom: n - kept.count,
                      nullDegreesOfFreedom: n - (design.hasIntercept ? 1 : 0), logLikelihood: logLikelihood,
                      aic: aic, iterations: result.iterations, converged: result.converged,
                      theta: theta?.value, thetaStandardError: theta?.standardError, warnings: warnings)
    }

    /// R's null deviance: the intercept-only model (fitted by IRLS when there is an offset), or μ = g⁻¹(offset)
    /// without an intercept.
    static func nullDeviance<F: Family>(_ problem: GLMProblem, family: F, control: GLMControl) throws -> Double {
        guard control.fitsNullModel else { return .nan }
        let y = problem.response
        if problem.design.hasIntercept {
            if problem.offset != nil {
                let null = GLMProblem(response: y, offset: problem.offset, weights: problem.weights, design: problem.design.interceptOnly())
                return try IRLS(problem: null, family: family, control: control).run().deviance
            }
            var weighted = 0.0, total = 0.0
            for i in y.indices { weighted += problem.weight(i) * y[i]; total += problem.weight(i) }
            let mean = weighted / total
            // One mean for every row, so a row's unit deviance depends on y alone: a 0/1 outcome or a small
            // count is computed once (the same terms summed in the same order as computing each).
            var known = [Double](repeating: .nan, count: 256)
            var deviance = 0.0
            for i in y.indices {
                let unit: Double
                if let k = Int(exactly: y[i]), k >= 0, k < known.count {
                    if known[k].isNaN { known[k] = family.unitDeviance(y[i], mean) }
                    unit = known[k]
                } else {
                    unit = family.unitDeviance(y[i], mean)
                }
                deviance += problem.weight(i) * unit
            }
            return deviance
        }
        var total = 0.0
        for i in y.indices {
            total += problem.weight(i) * family.unitDeviance(y[i], family.link.mean(problem.offset?[i] ?? 0))
        }
        return total
    }
}
