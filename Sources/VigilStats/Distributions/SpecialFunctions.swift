import Foundation

/// Special functions the GLMs, intervals and ARLs need, to double precision.
public enum SpecialFunctions {
    /// ln Γ(x) for x > 0.
    @inline(__always) public static func logGamma(_ x: Double) -> Double { Foundation.lgamma(x) }

    /// ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b).
    @inline(__always) public static func logBeta(_ a: Double, _ b: Double) -> Double {
        logGamma(a) + logGamma(b) - logGamma(a + b)
    }

    /// ψ(x) = d/dx ln Γ(x) for x > 0: recurrence up to x ≥ 10, then the asymptotic series
    /// (Abramowitz & Stegun 6.3.18).
    public static func digamma(_ x: Double) -> Double {
        guard x > 0, x.isFinite else { return x == .infinity ? .infinity : .nan }
        var x = x
        var result = 0.0
        while x < 10 {
            result -= 1 / x
            x += 1
        }
        let inv2 = 1 / (x * x)
        // Σ B_2k / (2k x^2k), k = 1…7
        let series = inv2 * (1.0 / 12 - inv2 * (1.0 / 120 - inv2 * (1.0 / 252 - inv2 * (1.0 / 240
            - inv2 * (1.0 / 132 - inv2 * (691.0 / 32760 - inv2 / 12))))))
        return result + Foundation.log(x) - 0.5 / x - series
    }

    /// ψ′(x) for x > 0: recurrence up to x ≥ 10, then the asymptotic series (A&S 6.4.12).
    public static func trigamma(_ x: Double) -> Double {
        guard x > 0, x.isFinite else { return x == .infinity ? 0 : .nan }
        var x = x
        var result = 0.0
        while x < 10 {
            result += 1 / (x * x)
            x += 1
        }
        let inv = 1 / x
        let inv2 = inv * inv
        // 1/x + 1/(2x²) + Σ B_2k / x^(2k+1)
        let series = inv2 * inv * (1.0 / 6 - inv2 * (1.0 / 30 - inv2 * (1.0 / 42 - inv2 * (1.0 / 30
            - inv2 * (5.0 / 66 - inv2 * (691.0 / 2730 - inv2 * 7.0 / 6))))))
        return result + inv + 0.5 * inv2 + series
    }

    /// Regularized lower incomplete gamma P(a, x) = γ(a, x)/Γ(a).
    public static func regularizedGammaP(_ a: Double, _ x: Double) -> Double {
        precondition(a > 0)
        if x <= 0 { return 0 }
        if x.isInfinite { return 1 }
        return x < a + 1 ? gammaSeries(a, x) : 1 - gammaContinuedFraction(a, x)
    }

    /// Regularized upper incomplete gamma Q(a, x) = 1 − P(a, x), accurate in the upper tail.
    public static func regularizedGammaQ(_ a: Double, _ x: Double) -> Double {
        precondition(a > 0)
        if x <= 0 { return 1 }
        if x.isInfinite { return 0 }
        return x < a + 1 ? 1 - gammaSeries(a, x) : gammaContinuedFraction(a, x)
    }

    // Numerical Recipes §6.2: series for P when x < a + 1.
    private static func gammaSeries(_ a: Double, _ x: Double) -> Double {
        var ap = a
        var term = 1 / a
        var sum = term
        for _ in 0..<10_000 {
            ap += 1
            term *= x / ap
            sum += term
            if abs(term) < abs(sum) * 1e-17 { break }
        }
        return sum * Foundation.exp(-x + a * Foundation.log(x) - logGamma(a))
    }

    // Numerical Recipes §6.2: modified Lentz continued fraction for Q when x ≥ a + 1.
    private static func gammaContinuedFraction(_ a: Double, _ x: Double) -> Double {
        let tiny = 1e-300
        var b = x + 1 - a
        var c = 1 / tiny
        var d = 1 / b
        var h = d
        for i in 1...10_000 {
            let an = -Double(i) * (Double(i) - a)
            b += 2
            d = an * d + b
            if abs(d) < tiny { d = tiny }
            c = b + an / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-16 { break }
        }
        return Foundation.exp(-x + a * Foundation.log(x) - logGamma(a)) * h
    }

    /// The x with P(a, x) = p (the gamma(a, 1) quantile), by bisection on a bracket then Newton polish.
    public static func gammaQuantile(_ p: Double, shape a: Double) -> Double {
        precondition(p >= 0 && p <= 1 && a > 0)
        if p == 0 { return 0 }
        if p == 1 { return .infinity }
        var lo = 0.0
        var hi = max(1.0, a)
        while regularizedGammaP(a, hi) < p { lo = hi; hi *= 2 }
        for _ in 0..<200 {
            let mid = 0.5 * (lo + hi)
            if regularizedGammaP(a, mid) < p { lo = mid } else { hi = mid }
            if hi - lo <= 1e-15 * hi { break }
        }
        return 0.5 * (lo + hi)
    }

    /// Standard normal distribution function Φ(x).
    @inline(__always) public static func normalCDF(_ x: Double) -> Double {
        0.5 * Foundation.erfc(-x / 2.0.squareRoot())
    }

    /// Two-sided p-value of a standard normal statistic: 2 Φ(−|z|).
    @inline(__always) public static func twoSidedNormalP(_ z: Double) -> Double {
        Foundation.erfc(abs(z) / 2.0.squareRoot())
    }
}
