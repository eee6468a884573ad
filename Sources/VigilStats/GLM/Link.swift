import Foundation

/// Link functions with R's numerical guards (`make.link`, `binomial()`'s C code in R's stats package).
public enum Link: String, Sendable, Codable {
    case log
    case logit

    private static let epsilon = Double.ulpOfOne
    private static let threshold = 30.0

    /// μ = g⁻¹(η)
    @inline(__always) public func mean(_ eta: Double) -> Double {
        switch self {
        case .log:
            return max(Foundation.exp(eta), Self.epsilon)
        case .logit:
            let t = eta < -Self.threshold ? Self.epsilon : (eta > Self.threshold ? 1 / Self.epsilon : Foundation.exp(eta))
            return t / (1 + t)
        }
    }

    /// η = g(μ)
    @inline(__always) public func eta(_ mu: Double) -> Double {
        switch self {
        case .log: return Foundation.log(mu)
        case .logit: return Foundation.log(mu / (1 - mu))
        }
    }

    /// μ and dμ/dη at η together (one `exp` for both).
    @inline(__always) public func meanAndDerivative(_ eta: Double) -> (mean: Double, derivative: Double) {
        switch self {
        case .log:
            let m = max(Foundation.exp(eta), Self.epsilon)
            return (m, m)
        case .logit:
            // Beyond the guards as `mean` and `derivative`; within them the same operations on one exp(η).
            if eta < -Self.threshold || eta > Self.threshold { return (mean(eta), Self.epsilon) }
            let e = Foundation.exp(eta)
            let onePlus = 1 + e
            return (e / onePlus, e / (onePlus * onePlus))
        }
    }

    /// dμ/dη at η
    @inline(__always) public func derivative(_ eta: Double) -> Double {
        switch self {
        case .log:
            return max(Foundation.exp(eta), Self.epsilon)
        case .logit:
            if eta > Self.threshold || eta < -Self.threshold { return Self.epsilon }
            let e = Foundation.exp(eta)
            return e / ((1 + e) * (1 + e))
        }
    }
}
