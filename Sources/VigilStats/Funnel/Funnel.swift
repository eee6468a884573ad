import Foundation

/// Funnel plots of SIRs — Spiegelhalter (2005), METHODS "Funnel plots": each facility's O/E against E, with
/// limits of the ratio at target 1 for a p-quantile.
public enum Funnel {
    /// A pair of limits: the two-sided level, its lower and upper p, and the normal z of the upper p.
    public struct Level: Sendable {
        public let name: String
        public let lower: Double
        public let upper: Double
        public let z: Double
    }

    /// 95% (p = 0.025, 0.975) and 99.8% (p = 0.001, 0.999).
    public static let levels = [Level(name: "95%", lower: 0.025, upper: 0.975, z: 1.959963984540054),
                                Level(name: "99.8%", lower: 0.001, upper: 0.999, z: 3.090232306167813)]

    /// Poisson exact with Spiegelhalter's interpolation: r_p the p-quantile of Poisson(E),
    /// α = (F(r_p) − p) / (F(r_p) − F(r_p − 1)), limit (r_p − α)/E (at least 0). Nil unless E > 0 is finite.
    public static func poissonLimit(expected e: Double, p: Double) -> Double? {
        guard e > 0, e.isFinite, p > 0, p < 1 else { return nil }
        let poisson = Poisson(mean: e)
        // The smallest r with F(r) ≥ p, walked from E (the quantile is within a few √E of it).
        var r = max(0, Int(e.rounded(.down)))
        if poisson.cumulative(r) >= p {
            while r > 0 && poisson.cumulative(r - 1) >= p { r -= 1 }
        } else {
            while poisson.cumulative(r) < p { r += 1 }
        }
        let at = poisson.cumulative(r), below = poisson.cumulative(r - 1)
        guard at > below else { return nil }
        let alpha = (at - p) / (at - below)
        return max(0, (Double(r) - alpha) / e)
    }

    /// The multiplicative overdispersion φ: the mean of the squared z-scores (O − E)/√E winsorized at their
    /// 10th and 90th percentiles (R's default quantile, type 7). Points with E < 1 are left out, as on the plot;
    /// nil with fewer than 2 points.
    public static func overdispersion(_ points: [(observed: Double, expected: Double)]) -> Double? {
        let z = points.filter { $0.expected >= 1 && $0.expected.isFinite && $0.observed.isFinite }
            .map { ($0.observed - $0.expected) / $0.expected.squareRoot() }
        guard z.count >= 2 else { return nil }
        let sorted = z.sorted()
        func quantile(_ p: Double) -> Double {
            let h = Double(sorted.count - 1) * p
            let i = Int(h.rounded(.down))
            return i + 1 < sorted.count ? sorted[i] + (h - Double(i)) * (sorted[i + 1] - sorted[i]) : sorted[i]
        }
        let (low, high) = (quantile(0.1), quantile(0.9))
        return z.reduce(0) { sum, x in let w = min(max(x, low), high); return sum + w * w } / Double(z.count)
    }

    /// The limits of one level at E: Poisson exact, or `1 ± z·√(φ/E)` (at least 0) when φ > 1.
    public static func limits(expected e: Double, level: Level, phi: Double?) -> (lower: Double, upper: Double)? {
        guard e > 0, e.isFinite else { return nil }
        if let phi, phi > 1 {
            let half = level.z * (phi / e).squareRoot()
            return (max(0, 1 - half), 1 + half)
        }
        guard let lower = poissonLimit(expected: e, p: level.lower), let upper = poissonLimit(expected: e, p: level.upper) else { return nil }
        return (lower, upper)
    }
}
