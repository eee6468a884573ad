import Foundation
import Synchronization

/// Standardized infection ratio O/E with NHSN's mid-P exact and the Garwood exact 95% intervals
/// (NHSN, "The NHSN Standardized Infection Ratio (SIR)", 2022; Garwood 1936).
public struct StandardizedRatio: Sendable, Equatable {
    public let observed: Int
    public let expected: Double

    public init(observed: Int, expected: Double) {
        precondition(observed >= 0, "observed must be a count >= 0")
        precondition(expected > 0, "expected must be > 0")
        self.observed = observed
        self.expected = expected
    }

    public var ratio: Double { Double(observed) / expected }

    /// NHSN's mid-P exact interval: λ_L solves P(X > O) + ½P(X = O) = α/2, λ_U solves
    /// P(X < O) + ½P(X = O) = α/2, both divided by E. The lower limit is 0 when O = 0.
    public func midPInterval(level: Double = 0.95) -> (lower: Double, upper: Double) {
        let (lowerMean, upperMean) = level == 0.95 ? Self.nhsnLimits.limits(observed) : Self.midPLimits(observed: observed, level: level)
        return (lowerMean / expected, upperMean / expected)
    }

    /// The interval's limits depend on O alone (the ratio's are λ/E): NHSN's 95% ones are solved once per O
    /// and kept, so a replay raising hundreds of thousands of alerts solves each O once.
    private static let nhsnLimits = LimitTable(level: 0.95)

    private final class LimitTable: Sendable {
        let level: Double
        private let solved = Mutex<[Int: (Double, Double)]>([:])
        init(level: Double) { self.level = level }

        func limits(_ o: Int) -> (Double, Double) {
            if let known = solved.withLock({ $0[o] }) { return known }
            let limits = StandardizedRatio.midPLimits(observed: o, level: level)
            solved.withLock { $0[o] = limits }
            return limits
        }
    }

    /// λ_L and λ_U of the mid-P interval for O (λ_L = 0 when O = 0).
    static func midPLimits(observed o: Int, level: Double) -> (Double, Double) {
        let tail = (1 - level) / 2
        let upperMean = Self.solveIncreasing(target: 1 - tail) { lambda in
            // 1 − [P(X < O) + ½P(X = O)] is increasing in λ
            let p = Poisson(mean: lambda)
            return 1 - ((o > 0 ? p.cumulative(o - 1) : 0) + 0.5 * p.probability(o))
        }
        guard o > 0 else { return (0, upperMean) }
        let lowerMean = Self.solveIncreasing(target: tail) { lambda in
            let p = Poisson(mean: lambda)
            return p.upperTail(o) + 0.5 * p.probability(o)
        }
        return (lowerMean, upperMean)
    }

    /// The classic exact (Garwood) interval `[χ²_{α/2}(2O)/2E, χ²_{1−α/2}(2O+2)/2E]`.
    public func exactInterval(level: Double = 0.95) -> (lower: Double, upper: Double) {
        let tail = (1 - level) / 2
        let lower = observed == 0 ? 0 : SpecialFunctions.gammaQuantile(tail, shape: Double(observed))
        let upper = SpecialFunctions.gammaQuantile(1 - tail, shape: Double(observed) + 1)
        return (lower / expected, upper / expected)
    }

    /// Root of an increasing function of λ > 0 by bracketing and bisection to full precision.
    private static func solveIncreasing(target: Double, _ f: (Double) -> Double) -> Double {
        var lo = 0.0
        var hi = 1.0
        while f(hi) < target && hi < .greatestFiniteMagnitude / 2 { lo = hi; hi *= 2 }
        for _ in 0..<200 {
            let mid = 0.5 * (lo + hi)
            if f(mid) < target { lo = mid } else { hi = mid }
            if hi - lo <= 4e-16 * hi { break }
        }
        return 0.5 * (lo + hi)
    }
}
