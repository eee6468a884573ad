import CKernels
import Foundation
import Testing
@testable import VigilStats

/// IRLS's row kernel (`vigil_irls_rows`, its own vectorized exp) and the deviance's block product
/// (`vigil_log_product`) against the same formulas row by row with libm.
struct IRLSRowsTests {
    /// Units in the last place between a and b.
    static func ulps(_ a: Double, _ b: Double) -> Double { abs(a - b) / b.ulp }

    @Test func expIsWithinTwoUnitsInTheLastPlace() {
        var random = SplitMix64(seed: 20261205)
        var worst = 0.0
        for _ in 0..<200_000 {
            let x = -708 + random.nextUniform() * (709.7 + 708)
            worst = max(worst, Self.ulps(vigil_exp(x), Foundation.exp(x)))
        }
        for x in stride(from: -30.0, through: 30, by: 0.001) { worst = max(worst, Self.ulps(vigil_exp(x), Foundation.exp(x))) }
        #expect(worst <= 2, "worst \(worst) ulp")
        #expect(vigil_exp(0) == 1)
        #expect(vigil_exp(.infinity) == .infinity)
        #expect(vigil_exp(-.infinity) == 0)
        #expect(vigil_exp(710) == .infinity)
        #expect(vigil_exp(-746) == 0)
        #expect(vigil_exp(.nan).isNaN)
        // Near the ends of the range: the largest finite results and results that are subnormal.
        for x in [709.78, 709.7, -708.4, -720.5, -744.9] {
            #expect(abs(vigil_exp(x) - Foundation.exp(x)) <= 2 * max(Foundation.exp(x).ulp, Double.leastNonzeroMagnitude), "exp(\(x))")
        }
    }

    /// Each row against `Link.meanAndDerivative` and `Family.variance` (libm's exp): μ within a few ulp, and w and
    /// z within what that μ's difference makes of them. Block lengths cross the kernel's chunks of 512.
    @Test(arguments: [0, 1, 3, 511, 512, 513, 4099])
    func rowsMatchTheFormulasRowByRow(count: Int) {
        var random = SplitMix64(seed: UInt64(count) + 1)
        let families: [any Family] = [BinomialFamily(), PoissonFamily(), NegativeBinomialFamily(theta: 1.7)]
        for family in families {
            let logit = family.link == .logit
            var eta = (0..<count).map { _ in logit ? -40 + random.nextUniform() * 80 : -12 + random.nextUniform() * 16 }
            // Values at and beyond the logit's guards, and ones that make μ invalid.
            for (k, value) in [30, -30, 31, -31, .nan, 800, -800].enumerated() where k < count { eta[count - 1 - k] = value }
            let y = (0..<count).map { i in logit ? Double(i % 3 == 0 ? 1 : 0) : Double(i % 5) }
            let prior = (0..<count).map { i in i % 7 == 0 ? 2.5 : 1 }
            let offset = (0..<count).map { i in Double(i % 4) * 0.25 }
            var mu = [Double](repeating: 0, count: count), w = mu, z = mu
            let valid = vigil_irls_rows(family.kernel, count, eta, y, prior, offset, &mu, &w, &z)
            var expectedValid = true
            for i in 0..<count {
                let (m, d) = family.link.meanAndDerivative(eta[i])
                expectedValid = expectedValid && family.isValidMean(m)
                guard m.isFinite else {
                    #expect(mu[i].isNaN == m.isNaN && (m.isNaN || mu[i] == m), "\(family.name) μ at η \(eta[i])")
                    continue
                }
                #expect(Self.ulps(mu[i], m) <= 4, "\(family.name) μ at η \(eta[i]): \(mu[i]) against \(m)")
                let expectedW = prior[i] * d * d / family.variance(m)
                let expectedZ = eta[i] - offset[i] + (y[i] - m) / d
                expectClose(w[i], expectedW, relative: 1e-14, "\(family.name) w at η \(eta[i])")
                expectClose(z[i], expectedZ, relative: 0, absolute: abs(mu[i] - m) / d + 1e-14 * (abs(eta[i]) + abs(expectedZ) + 1),
                            "\(family.name) z at η \(eta[i])")
            }
            #expect(valid == expectedValid, "\(family.name) validity")
        }
    }

    /// Without w and z the kernel gives μ alone, the same μ.
    @Test func meansAloneAreTheSameMeans() {
        let eta = (0..<1_500).map { Double($0) / 50 - 15 }
        var mu = [Double](repeating: 0, count: eta.count), w = mu, z = mu, alone = mu
        let family = BinomialFamily().kernel
        #expect(vigil_irls_rows(family, eta.count, eta, eta, nil, nil, &mu, &w, &z))
        #expect(vigil_irls_rows(family, eta.count, eta, eta, nil, nil, &alone, nil, nil))
        #expect(mu == alone)
    }

    /// A block's product by the kernel equals the arguments added one by one, special values and long blocks
    /// (many chunks of 256, factors near 2) included.
    @Test func blockProductEqualsOneByOne() {
        var random = SplitMix64(seed: 9)
        var blocks: [[Double]] = [[], [1], [0.3, 0, 2], [2, .infinity], [2, -1, 3], [Double.leastNonzeroMagnitude * 3, 5, .nan]]
        blocks.append((0..<10_000).map { _ in 1e-6 + random.nextUniform() })
        blocks.append(Array(repeating: 1.9999999, count: 3_000) + Array(repeating: 3e-300, count: 700))
        for xs in blocks {
            var single = LogSum(), block = LogSum()
            for x in xs { single.add(x) }
            xs.withUnsafeBufferPointer { if let base = $0.baseAddress { block.add(base, count: xs.count) } }
            let expected = single.value
            if expected.isNaN {
                #expect(block.value.isNaN, "\(xs.prefix(4))")
            } else if expected.isInfinite {
                #expect(block.value == expected, "\(xs.prefix(4))")
            } else {
                expectClose(block.value, expected, relative: 0, absolute: LogSumTests.tolerance(xs.filter { $0 > 0 }) + 1e-300, "\(xs.prefix(4))")
            }
        }
    }

    /// The binomial family's block deviance equals its row-by-row deviance: 0/1 rows, fractional outcomes,
    /// prior weights other than 1.
    @Test func binomialBlockDevianceIsRowByRow() {
        var random = SplitMix64(seed: 17)
        let n = 5_000
        let y = (0..<n).map { i in i % 17 == 0 ? 0.3 : Double(i % 3 == 0 ? 1 : 0) }
        let mu = (0..<n).map { _ in 0.001 + random.nextUniform() * 0.998 }
        let family = BinomialFamily()
        for prior in [nil, (0..<n).map { i in i % 11 == 0 ? 4.0 : 1 }] {
            var rows = DevianceSum(), block = DevianceSum()
            for i in 0..<n { family.addDeviance(y[i], mu[i], prior: prior?[i] ?? 1, to: &rows) }
            let scratch = UnsafeMutablePointer<Double>.allocate(capacity: n)
            defer { scratch.deallocate() }
            let weights = prior ?? []
            y.withUnsafeBufferPointer { yb in
                mu.withUnsafeBufferPointer { mb in
                    weights.withUnsafeBufferPointer { pb in
                        family.addDeviances(yb.baseAddress!, mb.baseAddress!, prior: prior == nil ? nil : pb.baseAddress, count: n,
                                            scratch: scratch, to: &block)
                    }
                }
            }
            expectClose(family.deviance(block), family.deviance(rows), relative: 1e-12)
        }
    }
}
