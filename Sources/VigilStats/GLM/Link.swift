import CKernels
import Foundation

/// Link functions with R's numerical guards (`make.link`, `binomial()`'s C code in R's stats package). The
/// formulas are CKernels' `vigil_link_mean`, which IRLS's row kernel vectorizes; here they take libm's `exp`.
public enum Link: String, Sendable, Codable {
    case log
    case logit

    /// The link as the row kernel names it.
    var kernel: vigil_link { self == .log ? VIGIL_LINK_LOG : VIGIL_LINK_LOGIT }

    /// μ = g⁻¹(η)
    @inline(__always) public func mean(_ eta: Double) -> Double { meanAndDerivative(eta).mean }

    /// η = g(μ)
    @inline(__always) public func eta(_ mu: Double) -> Double {
        switch self {
        case .log: return Foundation.log(mu)
        case .logit: return Foundation.log(mu / (1 - mu))
        }
    }

    /// μ and dμ/dη at η together (one `exp` for both).
    @inline(__always) public func meanAndDerivative(_ eta: Double) -> (mean: Double, derivative: Double) {
        var mean = 0.0, derivative = 0.0
        vigil_link_mean(kernel, eta, Foundation.exp(vigil_link_exp_argument(kernel, eta)), &mean, &derivative)
        return (mean, derivative)
    }
}
