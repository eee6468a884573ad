import Foundation
import Testing
@testable import VigilStats

struct LogSumTests {
    /// Σ ln xᵢ, each logarithm rounded once and the sum compensated (Neumaier): the reference.
    static func reference(_ xs: [Double]) -> Double {
        var sum = 0.0, compensation = 0.0
        for x in xs {
            let term = Foundation.log(x)
            let t = sum + term
            compensation += abs(sum) >= abs(term) ? (sum - t) + term : (term - t) + sum
            sum = t
        }
        return sum + compensation
    }

    static func logSum(_ xs: [Double]) -> Double {
        var sum = LogSum()
        for x in xs { sum.add(x) }
        return sum.value
    }

    /// n factors round the product n times (relative n·u): an absolute error of about n·u in the sum; the
    /// reference's own logarithms are each within an ulp, and both sums end rounded.
    static func tolerance(_ xs: [Double]) -> Double {
        4 * Double(xs.count) * Double.ulpOfOne + xs.reduce(0) { $0 + Foundation.log($1).ulp } + 2 * reference(xs).ulp
    }

    @Test func sumsLogarithmsOverManyScales() {
        var random = SplitMix64(seed: 20261205)
        for (low, high) in [(0.5, 2.0), (1e-8, 1e-3), (1.0, 1e6), (1e-300, 1e300), (0.999, 1.001)] {
            for n in [1, 7, 600, 100_000] {
                let xs = (0..<n).map { _ in exp(log(low) + random.nextUniform() * (log(high) - log(low))) }
                expectClose(Self.logSum(xs), Self.reference(xs), relative: 0, absolute: Self.tolerance(xs), "[\(low), \(high)] n=\(n)")
            }
        }
    }

    /// Factors near 2 fill the product's range soonest: it is renormalized many times over.
    @Test func productsBeyondTheExponentRange() {
        let xs = Array(repeating: 1.9999999, count: 50_000) + Array(repeating: 3e-300, count: 1_000)
        expectClose(Self.logSum(xs), Self.reference(xs), relative: 0, absolute: Self.tolerance(xs))
    }

    @Test func valuesNoProductHolds() {
        #expect(Self.logSum([]) == 0)
        #expect(Self.logSum([1, 1, 1]) == 0)
        #expect(Self.logSum([2, 0, 3]) == -.infinity)
        #expect(Self.logSum([2, .infinity]) == .infinity)
        #expect(Self.logSum([2, -1]).isNaN)
        #expect(Self.logSum([2, .nan]).isNaN)
        let subnormal = Double.leastNonzeroMagnitude * 3
        expectClose(Self.logSum([subnormal, 5]), Foundation.log(subnormal) + Foundation.log(5), relative: 1e-15)
    }

    @Test func partsAddedEqualTheWhole() {
        var random = SplitMix64(seed: 7)
        let xs = (0..<10_000).map { _ in 1e-3 + random.nextUniform() * 1e3 }
        var first = LogSum(), second = LogSum()
        for x in xs[..<3_000] { first.add(x) }
        for x in xs[3_000...] { second.add(x) }
        first += second
        expectClose(first.value, Self.reference(xs), relative: 0, absolute: Self.tolerance(xs))
    }

    /// Arguments added two at a time give the sum of adding them one by one, special values included.
    @Test func pairsSumAsSingles() {
        var random = SplitMix64(seed: 3)
        let xs = (0..<20_001).map { _ in 1e-5 + random.nextUniform() * 1e5 }
        var pairs = LogSum()
        var k = 0
        while k + 1 < xs.count { pairs.add(xs[k], xs[k + 1]); k += 2 }
        pairs.add(xs[k])
        expectClose(pairs.value, Self.reference(xs), relative: 0, absolute: Self.tolerance(xs))
        var special = LogSum()
        special.add(3, 0)
        #expect(special.value == -.infinity)
        special = LogSum()
        special.add(Double.leastNonzeroMagnitude, 2)
        expectClose(special.value, Foundation.log(Double.leastNonzeroMagnitude) + Foundation.log(2), relative: 1e-15)
    }

    /// Each family's deviance by slots equals Σ prior·d(y, μ) row by row: counts in and beyond the slots,
    /// fractional outcomes, prior weights other than 1.
    @Test func familiesDevianceBySlotsIsTheSumOfUnitDeviances() {
        var random = SplitMix64(seed: 11)
        func check<F: Family>(_ family: F, _ rows: [(y: Double, mu: Double, prior: Double)], _ what: String) {
            var sum = DevianceSum()
            var direct = 0.0
            for r in rows {
                family.addDeviance(r.y, r.mu, prior: r.prior, to: &sum)
                direct += r.prior * family.unitDeviance(r.y, r.mu)
            }
            expectClose(family.deviance(sum), direct, relative: 1e-12, what)
        }
        let counts = (0..<20_000).map { i -> (y: Double, mu: Double, prior: Double) in
            let y = i % 10 == 0 ? Double(40 + i % 50) : Double(i % 5)
            return (y, 0.05 + random.nextUniform() * 8, i % 13 == 0 ? 2.5 : 1)
        }
        check(PoissonFamily(), counts, "Poisson")
        check(NegativeBinomialFamily(theta: 2.3), counts, "negative binomial")
        let outcomes = (0..<20_000).map { i -> (y: Double, mu: Double, prior: Double) in
            (i % 17 == 0 ? 0.3 : Double(i % 3 == 0 ? 1 : 0), 0.001 + random.nextUniform() * 0.998, i % 11 == 0 ? 4 : 1)
        }
        check(BinomialFamily(), outcomes, "binomial")
    }
}
