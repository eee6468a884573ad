import Foundation
import Testing
@testable import VigilStats

/// Average run lengths against spc 0.6.7, surveillance's arlCusum, METHODS.md's table and R Monte Carlo.
struct ARLTests {
    @Test func normalCUSUMMatchesSpc() throws {
        let table = try Reference.table("arl-normal-cusum.csv")
        let sides = table.column("sided")!
        for (i, row) in try Reference.rows("arl-normal-cusum.csv").enumerated() {
            let arl = try ARL.normalCUSUM(k: row["k"]!, h: row["h"]!, shift: row["mu"]!,
                                          sided: ARL.Sided(rawValue: sides[i])!)
            expectClose(arl, row["arl"]!, relative: 0.005, "k=\(row["k"]!) h=\(row["h"]!) mu=\(row["mu"]!) \(sides[i])")
        }
    }

    @Test func ewmaMatchesSpc() throws {
        let sides = try Reference.strings("arl-ewma.csv", "sided")
        for (i, row) in try Reference.rows("arl-ewma.csv").enumerated() {
            let arl = try ARL.ewma(lambda: row["lambda"]!, L: row["L"]!, shift: row["mu"]!,
                                   sided: ARL.Sided(rawValue: sides[i])!)
            expectClose(arl, row["arl"]!, relative: 0.005, "λ=\(row["lambda"]!) L=\(row["L"]!) mu=\(row["mu"]!) \(sides[i])")
        }
    }

    /// METHODS.md's table (R spc 0.6.7).
    @Test func methodsTable() throws {
        expectClose(try ARL.normalCUSUM(k: 0.5, h: 4), 335.37, relative: 0.005, "k .5 h 4")
        expectClose(try ARL.normalCUSUM(k: 0.5, h: 4, shift: 1), 8.38, relative: 0.005, "k .5 h 4 shift 1")
        expectClose(try ARL.normalCUSUM(k: 0.5, h: 5), 930.89, relative: 0.005, "k .5 h 5")
        expectClose(try ARL.normalCUSUM(k: 0.5, h: 4, sided: .two), 167.68, relative: 0.005, "two-sided")
        expectClose(try ARL.ewma(lambda: 0.1, L: 2.814), 499.58, relative: 0.005, "EWMA .1")
        expectClose(try ARL.ewma(lambda: 0.2, L: 2.86), 371.10, relative: 0.005, "EWMA .2")
        expectClose(try ARL.ewma(lambda: 0.2, L: 2.86, shift: 1), 9.80, relative: 0.005, "EWMA .2 shift 1")
    }

    @Test func countCUSUMMatchesArlCusum() throws {
        for row in try Reference.rows("arl-poisson-cusum.csv") {
            let poisson = Poisson(mean: row["mean"]!)
            // arlCusum alarms at S >= h; on the lattice that is vigil's S > h − ε.
            let arl = try ARL.countCUSUM(k: row["k"]!, h: row["h"]! - 1e-6, probability: poisson.probability)
            expectClose(arl, row["arl"]!, relative: 0.005, "h=\(row["h"]!) k=\(row["k"]!) mean=\(row["mean"]!)")
        }
    }

    /// poisson_cusum is the count CUSUM in units of ln r: check the mapping on an exact case, r = e.
    @Test func poissonCUSUMIsTheCountCUSUMInLogRatioUnits() throws {
        let r = exp(1.0)
        let e = 2.5 / (r - 1)   // k = (r − 1)E / ln r = 2.5
        let direct = try ARL.poissonCUSUM(ratio: r, h: 4, expected: e)
        let count = try ARL.countCUSUM(k: 2.5, h: 4, probability: Poisson(mean: e).probability)
        expectClose(direct, count, relative: 1e-9, "mapping")
    }

    @Test func countAndRiskAdjustedCUSUMsMatchMonteCarlo() throws {
        let table = try Reference.table("arl-montecarlo.csv")
        let types = table.column("type")!
        for (i, row) in try Reference.rows("arl-montecarlo.csv").enumerated() {
            let arl: Double
            if types[i] == "negbin_cusum" {
                arl = try ARL.negativeBinomialCUSUM(ratio: row["ratio"]!, theta: row["theta"]!, h: row["h"]!,
                                                    expected: row["expected"]!, shift: row["shift"]!)
            } else {
                let risks = [0.01799, 0.02931, 0.04743, 0.07586, 0.1192, 0.18243, 0.26894]
                arl = try ARL.bernoulliCUSUM(oddsRatio: row["ratio"]!, h: row["h"]!, risks: risks,
                                             shiftOddsRatio: row["shift"]!)
            }
            // 4 Monte Carlo standard errors plus 0.5% for the chain.
            let tolerance = 4 * row["se"]! + 0.005 * row["arl"]!
            #expect(abs(arl - row["arl"]!) <= tolerance, "\(types[i]) row \(i): \(arl) vs MC \(row["arl"]!) ± \(tolerance)")
        }
    }

    @Test func thresholdForTargetARL0() throws {
        let h = try ARL.threshold(forARL0: 335.37) { try ARL.normalCUSUM(k: 0.5, h: $0) }
        expectClose(h, 4, relative: 0.002, "h for ARL0 335.37")
        let L = try ARL.threshold(forARL0: 371.10) { try ARL.ewma(lambda: 0.2, L: $0) }
        expectClose(L, 2.86, relative: 0.002, "L for ARL0 371.10")
        let hp = try ARL.threshold(forARL0: 120) { try ARL.poissonCUSUM(ratio: 1.5, h: $0, expected: 2) }
        #expect(try ARL.poissonCUSUM(ratio: 1.5, h: hp, expected: 2) >= 120)
        #expect(try ARL.poissonCUSUM(ratio: 1.5, h: hp * 0.98, expected: 2) < 120)
    }

    /// METHODS.md: with θ = 2.5 overdispersion, a Poisson CUSUM tuned as if counts were Poisson alarms far
    /// more often than its nominal ARL0 says, the NB CUSUM does not.
    @Test func poissonCUSUMOnOverdispersedCountsAlarmsTooOften() throws {
        let e = 3.0, theta = 2.5
        let h = try ARL.threshold(forARL0: 120) { try ARL.poissonCUSUM(ratio: 1.5, h: $0, expected: e) }
        // Run the Poisson CUSUM on NB counts: its real ARL0, by the NB transition law.
        let a = log(1.5), k = 0.5 * e / a
        let real = try ARL.countCUSUM(k: k, h: h / a, probability: NegativeBinomial(mean: e, theta: theta).probability)
        #expect(real < 120 / 3, "real ARL0 \(real)")
    }
}
