import Foundation

/// Poisson(λ) probabilities.
public struct Poisson: Sendable {
    public let mean: Double
    public init(mean: Double) {
        precondition(mean >= 0, "Poisson mean must be >= 0")
        self.mean = mean
    }

    public func probability(_ k: Int) -> Double {
        guard k >= 0 else { return 0 }
        if mean == 0 { return k == 0 ? 1 : 0 }
        let x = Double(k)
        return Foundation.exp(x * Foundation.log(mean) - mean - SpecialFunctions.logGamma(x + 1))
    }

    /// P(X ≤ k) = Q(k + 1, λ).
    public func cumulative(_ k: Int) -> Double {
        guard k >= 0 else { return 0 }
        if mean == 0 { return 1 }
        return SpecialFunctions.regularizedGammaQ(Double(k) + 1, mean)
    }

    /// P(X > k) = P(k + 1, λ), accurate in the upper tail.
    public func upperTail(_ k: Int) -> Double {
        guard k >= 0 else { return 1 }
        if mean == 0 { return 0 }
        return SpecialFunctions.regularizedGammaP(Double(k) + 1, mean)
    }
}

/// Negative binomial NB2 with mean μ and size θ: variance μ + μ²/θ.
public struct NegativeBinomial: Sendable {
    public let mean: Double
    public let theta: Double
    /// Beyond this θ the probabilities are summed term by term (the lgamma difference loses digits).
    static let largeTheta = 1e6

    /// θ = ∞ is the Poisson.
    public init(mean: Double, theta: Double) {
        precondition(mean >= 0 && theta > 0, "NB2 needs mean >= 0 and theta > 0")
        self.mean = mean
        self.theta = theta
    }

    public func probability(_ k: Int) -> Double {
        guard k >= 0 else { return 0 }
        if mean == 0 { return k == 0 ? 1 : 0 }
        if theta.isInfinite { return Poisson(mean: mean).probability(k) }
        let y = Double(k)
        // θ ln(θ/(θ + μ)) as −θ ln(1 + μ/θ): exact for large θ, where the ratio rounds to 1.
        let base = -theta * Foundation.log1p(mean / theta) + y * Foundation.log(mean) - SpecialFunctions.logGamma(y + 1)
        guard theta > Self.largeTheta else {
            let lg = SpecialFunctions.logGamma(y + theta) - SpecialFunctions.logGamma(theta)
            return Foundation.exp(base + lg - y * Foundation.log(theta + mean))
        }
        // lnΓ(y + θ) − lnΓ(θ) − y ln(θ + μ) = Σ_{j<y} ln(1 + (j − μ)/(θ + μ)): the lgamma difference of two
        // numbers near θ ln θ would lose every digit.
        var sum = 0.0
        for j in 0..<k { sum += Foundation.log1p((Double(j) - mean) / (theta + mean)) }
        return Foundation.exp(base + sum)
    }
}

/// Events out of n trials with probability p; with intra-class correlation ρ > 0 the beta-binomial of the
/// same mean (α = p(1 − ρ)/ρ, β = (1 − p)(1 − ρ)/ρ; variance n p (1 − p)(1 + (n − 1)ρ), METHODS.md "Proportions").
public struct BetaBinomial: Sendable {
    public let trials: Int
    public let risk: Double
    public let rho: Double

    /// `trials` ≥ 0, `risk` in [0, 1] and `rho` in [0, 1) are checked by the callers (ARL.Counts).
    public init(trials: Int, risk: Double, rho: Double = 0) {
        self.trials = trials
        self.risk = risk
        self.rho = rho
    }

    public func probability(_ k: Int) -> Double {
        guard k >= 0, k <= trials else { return 0 }
        if risk <= 0 { return k == 0 ? 1 : 0 }
        if risk >= 1 { return k == trials ? 1 : 0 }
        let (n, y) = (Double(trials), Double(k))
        let choose = SpecialFunctions.logGamma(n + 1) - SpecialFunctions.logGamma(y + 1) - SpecialFunctions.logGamma(n - y + 1)
        guard rho > 0 else {
            return Foundation.exp(choose + y * Foundation.log(risk) + (n - y) * Foundation.log1p(-risk))
        }
        let c = (1 - rho) / rho
        let (a, b) = (risk * c, (1 - risk) * c)
        return Foundation.exp(choose + SpecialFunctions.logBeta(y + a, n - y + b) - SpecialFunctions.logBeta(a, b))
    }
}
