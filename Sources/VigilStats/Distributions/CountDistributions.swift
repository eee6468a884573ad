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
        let lg = SpecialFunctions.logGamma(y + theta) - SpecialFunctions.logGamma(theta)
            - SpecialFunctions.logGamma(y + 1)
        // θ ln(θ/(θ + μ)) as −θ ln(1 + μ/θ): exact for large θ, where the ratio rounds to 1.
        return Foundation.exp(lg - theta * Foundation.log1p(mean / theta)
            + y * Foundation.log(mean / (theta + mean)))
    }
}
