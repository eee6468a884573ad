import Foundation

/// Beta-binomial regression of y events out of n: logit μ = xᵀβ and an intra-class correlation ρ shared by
/// every row (logit ρ intercept-only), by maximum likelihood — `VGAM::vglm(cbind(y, n − y) ~ …,
/// betabinomial)` with its defaults. With c = (1 − ρ)/ρ = e^(−γ), γ = logit ρ, the row's beta has α = μc,
/// β = (1 − μ)c and ℓ = ln C(n, y) + ln B(y + α, n − y + β) − ln B(α, β). Newton–Raphson on (β, γ) from the
/// binomial fit, with the observed information and step halving; standard errors from the expected
/// information (VGAM's), exact over y = 0…n.
struct BetaBinomialRegression: Sendable {
    /// Proportions y/n with weights n (as the grouped binomial).
    let problem: GLMProblem
    let control: GLMControl

    /// ρ stays inside [this, 1 − this]: at 0 the beta-binomial is the binomial and γ runs off to −∞.
    static let rhoFloor = 1e-8

    private struct Rows {
        let y: [Double]
        let n: [Double]
        /// The kept design columns, row-major: row i's x is x[i·p ..< (i + 1)·p].
        let x: [Double]
        let p: Int
    }

    /// Log-likelihood, gradient and Hessian (observed; the expected one when `expected`) at (β, γ).
    private struct Evaluation {
        var logLikelihood = 0.0
        var gradient: [Double]
        var hessian: Matrix
        var valid = true
    }

    func fit() throws -> GLMFit {
        let binomial = try GLM.fit(problem, family: .binomial, control: control)
        let kept = binomial.keptColumns
        let p = kept.count
        let rows = try Self.rows(problem, kept: kept)
        var beta = kept.map { binomial.coefficients[$0].estimate ?? 0 }
        // Moment start for ρ: Pearson's dispersion φ = 1 + (n̄ − 1)ρ.
        var pearson = 0.0
        var meanTrials = 0.0
        for i in rows.y.indices {
            let eta = Self.dot(rows, i, beta)
            let mu = 1 / (1 + exp(-eta))
            let r = rows.n[i] * (rows.y[i] - mu)
            pearson += r * r / (rows.n[i] * mu * (1 - mu))
            meanTrials += rows.n[i]
        }
        meanTrials /= Double(rows.y.count)
        let phi = pearson / Double(max(1, rows.y.count - p))
        let rho0 = min(0.5, max(1e-3, (phi - 1) / max(1, meanTrials - 1)))
        var gamma = log(rho0 / (1 - rho0))

        let maximum = try Self.maximize(rows, beta: beta, gamma: gamma, tolerance: control.epsilon * 1e-4)
        (beta, gamma) = (maximum.beta, maximum.gamma)
        let (current, iterations, converged) = (maximum.at, maximum.iterations, maximum.converged)
        var warnings = binomial.warnings.filter { !$0.hasPrefix("IRLS") }
        let rho = 1 / (1 + exp(-gamma))
        if rho < 1e-6 {
            warnings.append("ρ very small (\(rho)): the proportions show no overdispersion; the beta-binomial is the binomial here")
        }
        if !converged {
            warnings.append("Newton–Raphson did not converge in \(iterations) steps: the estimates are not reliable")
        }
        let covariance = try LinearAlgebra.inverseFromCholesky(LinearAlgebra.cholesky(Self.information(rows, beta, gamma, expected: true)))
        var coefficients: [GLMFit.Coefficient] = []
        for (j, name) in problem.design.names.enumerated() {
            guard let a = kept.firstIndex(of: j) else {
                coefficients.append(.init(name: name, estimate: nil, standardError: nil, z: nil, p: nil))
                continue
            }
            let se = covariance[a, a].squareRoot()
            coefficients.append(.init(name: name, estimate: beta[a], standardError: se, z: beta[a] / se,
                                      p: SpecialFunctions.twoSidedNormalP(beta[a] / se)))
        }
        let keptCovariance = covariance.submatrix(Array(0..<p))
        guard coefficients.allSatisfy({ ($0.estimate?.isFinite ?? true) && ($0.standardError?.isFinite ?? true) }),
              current.logLikelihood.isFinite, gamma.isFinite else {
            throw GLMError.notFinite("beta-binomial estimates")
        }
        let null = control.fitsNullModel ? try Self.interceptOnlyLogLikelihood(rows, start: gamma) : .nan
        let n = problem.rowCount
        var fit = GLMFit(family: .betaBinomial, link: .logit, n: n, coefficients: coefficients, covariance: keptCovariance,
                         keptColumns: kept, deviance: -2 * current.logLikelihood, nullDeviance: -2 * null,
                         residualDegreesOfFreedom: n - p - 1, nullDegreesOfFreedom: n - 2,
                         logLikelihood: current.logLikelihood, aic: -2 * current.logLikelihood + 2 * Double(p + 1),
                         iterations: iterations, converged: converged, theta: nil, thetaStandardError: nil, warnings: warnings)
        fit.rho = rho
        fit.logitRhoStandardError = covariance[p, p].squareRoot()
        return fit
    }

    private static func rows(_ problem: GLMProblem, kept: [Int]) throws -> Rows {
        let count = problem.rowCount
        var block = Matrix(rows: count, columns: problem.design.columnCount)
        problem.design.fill(&block, rows: 0..<count)
        var x = [Double](repeating: 0, count: count * kept.count)
        for i in 0..<count { for (a, j) in kept.enumerated() { x[i * kept.count + a] = block[i, j] } }
        let n = (0..<count).map { problem.weight($0) }
        let y = (0..<count).map { (problem.response[$0] * n[$0]).rounded() }
        return Rows(y: y, n: n, x: x, p: kept.count)
    }

    @inline(__always) private static func dot(_ rows: Rows, _ i: Int, _ beta: [Double]) -> Double {
        var eta = 0.0
        for a in 0..<rows.p { eta += rows.x[i * rows.p + a] * beta[a] }
        return eta
    }

    /// ℓ and its derivatives in (η, γ), chained to (β, γ). With A = ∂ℓ/∂α, B = ∂ℓ/∂β and the second
    /// derivatives in (α, β): ∂α/∂η = cμ(1 − μ) = −∂β/∂η, ∂α/∂γ = −α, ∂β/∂γ = −β. The expected information
    /// drops the terms in A and B (their mean is 0) and averages ψ′(y + α), ψ′(n − y + β) over y.
    private static func evaluate(_ rows: Rows, _ beta: [Double], _ gamma: Double, expected: Bool) -> Evaluation {
        let p = rows.p
        var e = Evaluation(gradient: [Double](repeating: 0, count: p + 1), hessian: Matrix(rows: p + 1, columns: p + 1))
        let c = exp(-gamma)
        guard c.isFinite, c > 0 else { e.valid = false; return e }
        let psiC = SpecialFunctions.digamma(c), triC = SpecialFunctions.trigamma(c)
        for i in rows.y.indices {
            let (y, n) = (rows.y[i], rows.n[i])
            let eta = dot(rows, i, beta)
            let mu = 1 / (1 + exp(-eta))
            let (a, b) = (mu * c, (1 - mu) * c)
            guard a > 0, b > 0, a.isFinite, b.isFinite else { e.valid = false; return e }
            e.logLikelihood += SpecialFunctions.logGamma(n + 1) - SpecialFunctions.logGamma(y + 1) - SpecialFunctions.logGamma(n - y + 1)
                + SpecialFunctions.logBeta(y + a, n - y + b) - SpecialFunctions.logBeta(a, b)
            let psiNC = SpecialFunctions.digamma(n + c), triNC = SpecialFunctions.trigamma(n + c)
            let A = SpecialFunctions.digamma(y + a) - SpecialFunctions.digamma(a) - psiNC + psiC
            let B = SpecialFunctions.digamma(n - y + b) - SpecialFunctions.digamma(b) - psiNC + psiC
            let lab = triC - triNC
            var taa: Double, tbb: Double
            if expected {
                (taa, tbb) = expectedTrigammas(n: n, a: a, b: b)
            } else {
                (taa, tbb) = (SpecialFunctions.trigamma(y + a), SpecialFunctions.trigamma(n - y + b))
            }
            let laa = taa - SpecialFunctions.trigamma(a) + lab
            let lbb = tbb - SpecialFunctions.trigamma(b) + lab
            let d = c * mu * (1 - mu)
            let gEta = d * (A - B)
            let gGamma = -(a * A + b * B)
            let useScore = expected ? 0.0 : 1.0
            let hEtaEta = d * d * (laa - 2 * lab + lbb) + useScore * d * (1 - 2 * mu) * (A - B)
            let hEtaGamma = d * (-a * laa - b * lab + a * lab + b * lbb) + useScore * d * (B - A)
            let hGammaGamma = a * a * laa + 2 * a * b * lab + b * b * lbb + useScore * (a * A + b * B)
            for j in 0..<p {
                let xj = rows.x[i * p + j]
                e.gradient[j] += gEta * xj
                for k in j..<p { e.hessian[j, k] += hEtaEta * xj * rows.x[i * p + k] }
                e.hessian[j, p] += hEtaGamma * xj
            }
            e.gradient[p] += gGamma
            e.hessian[p, p] += hGammaGamma
        }
        e.hessian.symmetrizeFromUpper()
        e.valid = e.logLikelihood.isFinite
        return e
    }

    /// E[ψ′(y + α)] and E[ψ′(n − y + β)] for y beta-binomial(n, α, β), summed over y = 0…n.
    private static func expectedTrigammas(n: Double, a: Double, b: Double) -> (Double, Double) {
        let trials = Int(n)
        // P(y) by the ratio P(y + 1)/P(y) = (n − y)(y + α) / ((y + 1)(n − y − 1 + β)), from ln P(0).
        var logP = SpecialFunctions.logBeta(a, n + b) - SpecialFunctions.logBeta(a, b)
        var ta = 0.0, tb = 0.0
        for k in 0...trials {
            let y = Double(k)
            let prob = exp(logP)
            ta += prob * SpecialFunctions.trigamma(y + a)
            tb += prob * SpecialFunctions.trigamma(n - y + b)
            if k < trials { logP += log((n - y) * (y + a)) - log((y + 1) * (n - y - 1 + b)) }
        }
        return (ta, tb)
    }

    /// ℓ of the intercept-only beta-binomial (the null model), from the binomial's overall proportion.
    private static func interceptOnlyLogLikelihood(_ rows: Rows, start gamma: Double) throws -> Double {
        let total = rows.y.reduce(0, +) / rows.n.reduce(0, +)
        let null = Rows(y: rows.y, n: rows.n, x: [Double](repeating: 1, count: rows.y.count), p: 1)
        return try maximize(null, beta: [log(total / (1 - total))], gamma: gamma, tolerance: 1e-12).at.logLikelihood
    }

    private struct Maximum {
        var beta: [Double]
        var gamma: Double
        var at: Evaluation
        var iterations: Int
        var converged: Bool
    }

    /// Newton–Raphson from (β, γ): the observed information's step (the expected one's where the observed is not
    /// positive definite), halved until ℓ does not fall; done when ℓ changes by less than `tolerance` relative
    /// and no parameter by 1e-8.
    private static func maximize(_ rows: Rows, beta start: [Double], gamma startGamma: Double, tolerance: Double) throws -> Maximum {
        let p = rows.p
        var (beta, gamma) = (start, startGamma)
        var current = evaluate(rows, beta, gamma, expected: false)
        var iterations = 0
        while iterations < 100 {
            iterations += 1
            var observed = current.hessian
            for k in observed.elements.indices { observed.elements[k] = -observed.elements[k] }
            let step = try (try? LinearAlgebra.solveCholesky(LinearAlgebra.cholesky(observed), current.gradient))
                ?? LinearAlgebra.solveCholesky(LinearAlgebra.cholesky(information(rows, beta, gamma, expected: true)), current.gradient)
            var scale = 1.0
            var next: Evaluation
            var trial: (beta: [Double], gamma: Double)
            repeat {
                trial = (zip(beta, step).map { $0 + scale * $1 }, gamma + scale * step[p])
                next = evaluate(rows, trial.beta, trial.gamma, expected: false)
                scale /= 2
            } while (!next.valid || next.logLikelihood < current.logLikelihood - 1e-12 * abs(current.logLikelihood)) && scale > 1e-10
            guard next.valid else { break }
            let change = abs(next.logLikelihood - current.logLikelihood)
            let largest = step.map { abs($0) * scale * 2 }.max() ?? 0
            (beta, gamma, current) = (trial.beta, trial.gamma, next)
            if change <= tolerance * (abs(current.logLikelihood) + 0.1) && largest < 1e-8 {
                return Maximum(beta: beta, gamma: gamma, at: current, iterations: iterations, converged: true)
            }
        }
        return Maximum(beta: beta, gamma: gamma, at: current, iterations: iterations, converged: false)
    }

    /// −∂²ℓ over (β, γ): observed, or expected (Fisher's).
    private static func information(_ rows: Rows, _ beta: [Double], _ gamma: Double, expected: Bool) -> Matrix {
        var h = evaluate(rows, beta, gamma, expected: expected).hessian
        for k in h.elements.indices { h.elements[k] = -h.elements[k] }
        return h
    }
}
