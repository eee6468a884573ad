import Foundation

/// NB2 regression with θ by maximum likelihood, alternating with IRLS for β exactly as `MASS::glm.nb`
/// (Venables & Ripley 2002, §7.4): a Poisson start, then θ by `theta.ml` given μ and β by IRLS given θ until
/// the log-likelihood and θ both settle.
struct NegativeBinomialRegression: Sendable {
    let problem: GLMProblem
    let control: GLMControl

    /// Counts grouped by value: the digamma, trigamma and lgamma sums of θ.ml depend on y only, so each is
    /// evaluated once per distinct count instead of once per row.
    struct CountHistogram: Sendable {
        let values: [Double]
        let frequencies: [Double]
        init(_ y: [Double]) {
            var counts: [Double: Int] = [:]
            for v in y { counts[v, default: 0] += 1 }
            let sorted = counts.sorted { $0.key < $1.key }
            values = sorted.map(\.key)
            frequencies = sorted.map { Double($0.value) }
        }
        func sum(_ f: (Double) -> Double) -> Double {
            var s = 0.0
            for (v, c) in zip(values, frequencies) { s += c * f(v) }
            return s
        }
    }

    /// Beyond this θ the NB2 variance E + E²/θ differs from the Poisson's by less than 1e-5 E at E ≤ 1.
    static let largeTheta = 1e5

    struct ThetaEstimate {
        var theta: Double
        var standardError: Double
        var warning: String?
    }

    func fit() throws -> GLMFit {
        let y = problem.response
        let n = Double(y.count)
        let histogram = CountHistogram(y)
        var result = try control.timed("IRLS") { try IRLS(problem: problem, family: PoissonFamily(), control: control).run() }
        var mu = result.fitted
        var estimate = control.timed("theta") { thetaML(y, mu, histogram) }
        var lastFamily = NegativeBinomialFamily(theta: estimate.theta)
        let d1 = (2 * max(1, n - Double(result.factorization.kept.count))).squareRoot()
        let d2 = 1.0
        var delta = 1.0
        var logLik = control.timed("theta") { logLikelihood(estimate.theta, mu, y, histogram) }
        var logLikOld = logLik + 2 * d1
        var alternations = 0
        while true {
            alternations += 1
            guard alternations <= control.maxIterations,
                  abs(logLikOld - logLik) / d1 + abs(delta) / d2 > control.epsilon else { break }
            lastFamily = NegativeBinomialFamily(theta: estimate.theta)
            result = try control.timed("IRLS") { try IRLS(problem: problem, family: lastFamily, control: control).run(start: result.coefficients) }
            let previous = estimate.theta
            estimate = control.timed("theta") { thetaML(y, mu, histogram) }   // with μ of the previous fit, as glm.nb
            mu = result.fitted
            delta = previous - estimate.theta
            logLikOld = logLik
            logLik = control.timed("theta") { logLikelihood(estimate.theta, mu, y, histogram) }
        }
        var warnings: [String] = []
        if let w = estimate.warning { warnings.append(w) }
        if alternations > control.maxIterations {
            warnings.append("alternation limit reached: θ and β did not settle in \(control.maxIterations) alternations, the estimates are not reliable")
        }
        if estimate.theta > Self.largeTheta, estimate.theta.isFinite {
            warnings.append("θ very large (\(estimate.theta)): the counts show no overdispersion; the negative binomial is the Poisson here")
        }
        let rank = Double(result.factorization.kept.count)
        let finalFamily = NegativeBinomialFamily(theta: estimate.theta)
        // glm.nb refits the null model under the final θ when there is an offset; otherwise it keeps the
        // null deviance of its last IRLS run, whose θ is the one before the final update.
        let nullFamily = problem.offset != nil ? finalFamily : lastFamily
        return try GLM.assemble(problem, family: finalFamily, kind: .negbin, result: result,
                                logLikelihood: logLik, aic: -2 * logLik + 2 * rank + 2,
                                theta: (estimate.theta, estimate.standardError),
                                nullDeviance: try control.timed("null deviance") { try GLM.nullDeviance(problem, family: nullFamily, control: control) },
                                control: control, extraWarnings: warnings)
    }

    /// `MASS::theta.ml`: Newton–Raphson on the score of θ given μ, started at the moment estimate
    /// n / Σ(y/μ − 1)², at most `maxIterations` steps, tolerance ε^¼.
    func thetaML(_ y: [Double], _ mu: SegmentedVector, _ histogram: CountHistogram) -> ThetaEstimate {
        let n = Double(y.count)
        let limit = control.maxIterations
        let eps = pow(Double.ulpOfOne, 0.25)
        let segments = RowSegments(count: y.count)
        var t0 = n / segments.sum { s, rows in
            var total = 0.0
            for (i, m) in zip(rows, mu.parts[s]) { let r = y[i] / m - 1; total += r * r }
            return total
        }
        var iterations = 0
        var delta = 1.0
        var information = 0.0
        while true {
            iterations += 1
            guard iterations < limit, abs(delta) > eps else { break }
            t0 = abs(t0)
            let th = t0
            let digammaTheta = SpecialFunctions.digamma(th)
            let trigammaTheta = SpecialFunctions.trigamma(th)
            var score = histogram.sum { SpecialFunctions.digamma(th + $0) - digammaTheta }
            var info = histogram.sum { trigammaTheta - SpecialFunctions.trigamma(th + $0) }
            score += n * (log(th) + 1)
            info -= n / th
            // Σ over rows of log(μ + θ) + (y + θ)/(μ + θ) and 2/(μ + θ) − (y + θ)/(μ + θ)², per segment.
            for part in segments.map({ s, rows -> (Double, Double) in
                var logs = LogSum()
                var ratios = 0.0, infoTerms = 0.0, waiting = 0.0
                let means = mu.parts[s]
                for k in means.indices {
                    let sum = means[k] + th
                    let r = (y[rows.lowerBound + k] + th) / sum
                    ratios += r
                    infoTerms += (2 - r) / sum
                    // The logarithms' arguments in pairs: the product then waits on one multiply per pair.
                    if k % 2 == 0 { waiting = sum } else { logs.add(waiting, sum) }
                }
                if means.count % 2 == 1 { logs.add(waiting) }
                return (logs.value + ratios, infoTerms)
            }) {
                score -= part.0
                info += part.1
            }
            information = info
            delta = score / info
            t0 += delta
        }
        var warning: String? = nil
        if t0 < 0 {
            t0 = 0
            warning = "θ estimate truncated at zero"
        }
        if iterations == limit {
            warning = "iteration limit reached: θ did not converge in \(limit) Newton steps (often: no overdispersion, θ → ∞)"
        }
        return ThetaEstimate(theta: t0, standardError: (1 / information).squareRoot(), warning: warning)
    }

    /// NB2 log-likelihood as `MASS::glm.nb`'s `loglik`.
    func logLikelihood(_ theta: Double, _ mu: SegmentedVector, _ y: [Double], _ histogram: CountHistogram) -> Double {
        let n = Double(y.count)
        var total = histogram.sum {
            SpecialFunctions.logGamma(theta + $0) - SpecialFunctions.logGamma($0 + 1)
        }
        total += n * (theta * log(theta) - SpecialFunctions.logGamma(theta))
        total += RowSegments(count: y.count).sum { s, rows in
            // A zero count's term is −θ·ln(θ + μ): those logarithms are taken as one.
            var part = 0.0
            var zeros = LogSum()
            for (i, m) in zip(rows, mu.parts[s]) {
                if y[i] > 0 { part += y[i] * log(m) - (theta + y[i]) * log(theta + m) } else { zeros.add(theta + m) }
            }
            return part - theta * zeros.value
        }
        return total
    }
}
