import Foundation
import Testing
@testable import VigilStats

/// ARLs on the data detectors see, against seeded R Monte Carlo of the detectors themselves
/// (make-arl-montecarlo.R, 40,000 runs each): within 2.5% plus 2 standard errors.
struct ARLOnDataTests {
    static func arl(_ row: [String: Double], type: String, direction: String) throws -> Double {
        let theta = row["theta"]!.isNaN ? Double.nan : row["theta"]!
        switch type {
        case "normal_cusum":
            let counts = try ARL.Counts(expected: row["expected"]!, theta: theta)
            return try ARL.normalCUSUM(k: row["k"]!, h: row["h"]!, counts: counts, mean: row["ratio"]! * row["expected"]!,
                                       direction: direction == "down" ? .down : .up)
        case "ewma":
            if theta.isNaN {
                return try ARL.ewmaExact(lambda: row["lambda"]!, L: row["L"]!, input: .normal(shift: row["shift"]!))
            }
            let counts = try ARL.Counts(expected: row["expected"]!, theta: theta)
            return try ARL.ewmaExact(lambda: row["lambda"]!, L: row["L"]!,
                                     input: .counts(counts, mean: row["ratio"]! * row["expected"]!, direction: direction == "down" ? .down : .up))
        case "bernoulli_cusum":
            return try ARL.bernoulliCUSUM(oddsRatio: row["ratio"]!, h: row["h"]!, risk: row["p"]!, shiftOddsRatio: row["shift"]!)
        case "negbin_cusum", "negbin_cusum_fir":
            return try ARL.negativeBinomialCUSUM(ratio: row["ratio"]!, theta: theta, h: row["h"]!, expected: row["expected"]!,
                                                 shift: row["shift"]!, headStart: type == "negbin_cusum_fir" ? row["h"]! / 2 : 0)
        default:
            return try ARL.poissonCUSUM(ratio: row["ratio"]!, h: row["h"]!, expected: row["expected"]!, shift: row["shift"]!)
        }
    }

    @Test func matchesMonteCarloOfTheDetectors() throws {
        let name = "arl-on-data-montecarlo.csv"
        let types = try Reference.strings(name, "type"), directions = try Reference.strings(name, "direction")
        for (i, row) in try Reference.rows(name).enumerated() {
            let arl = try Self.arl(row, type: types[i], direction: directions[i])
            let tolerance = 0.025 * row["arl"]! + 2 * row["se"]!
            #expect(abs(arl - row["arl"]!) <= tolerance,
                    "\(types[i]) row \(i + 1): \(arl) vs Monte Carlo \(row["arl"]!) ± \(tolerance)")
        }
    }

    /// The binomial CUSUM's lattice ARL under binomial and beta-binomial counts (make-proportions.R, 20,000 runs
    /// each), in and out of control; the chart's ARL from 0 at the h the simulation used.
    @Test func binomialCUSUMMatchesMonteCarlo() throws {
        for (i, row) in try Reference.rows("arl-binomial-montecarlo.csv").enumerated() {
            let counts = try ARL.Counts(trials: Int(row["trials"]!), risk: row["p"]!, rho: row["rho"]!)
            let chart = try ARL.binomialLattice(oddsRatio: row["odds_ratio"]!, counts: counts, shiftOddsRatio: row["shift"]!)
            let arl = try chart.arl(h: row["h"]!)
            let tolerance = 0.025 * row["arl"]! + 2 * row["se"]!
            #expect(abs(arl - row["arl"]!) <= tolerance, "row \(i + 1): \(arl) vs Monte Carlo \(row["arl"]!) ± \(tolerance)")
        }
        // One trial is the Bernoulli CUSUM.
        let one = try ARL.binomialLattice(oddsRatio: 2, counts: ARL.Counts(trials: 1, risk: 0.05))
        expectClose(try one.arl(h: 3), try ARL.bernoulliCUSUM(oddsRatio: 2, h: 3, risk: 0.05), relative: 1e-12)
    }

    /// A solved count-CUSUM threshold sits mid-step on its lattice, where the ARL0 at the h used (on the lattice
    /// the detector's h gets) is at least the target and close to it; the reference rows at those h are Monte
    /// Carlo checked above.
    @Test func solvedLatticeThresholdsMeetTheTargetAtTheHUsed() throws {
        let charts: [(ARL.LatticeCUSUM, Double)] = [
            (try ARL.negativeBinomialLattice(ratio: 2, theta: 2.5, expected: 2), 200),
            (try ARL.poissonLattice(ratio: 1.5, expected: 0.7), 300),
            (try ARL.bernoulliLattice(oddsRatio: 1.5, risk: 0.05), 1000),
            (try ARL.binomialLattice(oddsRatio: 2, counts: ARL.Counts(trials: 80, risk: 0.05, rho: 0.02)), 120),
            (try #require(try ARL.normalCUSUMLattice(k: 0.5, counts: ARL.Counts(expected: 0.5), mean: 0.5)), 400),
        ]
        for (chart, target) in charts {
            let h = try chart.threshold(forARL0: target)
            let arl = try chart.arl(h: h)
            #expect(arl >= target && arl < 1.1 * target, "h \(h): ARL \(arl) for target \(target)")
        }
    }

    /// Every step's ARL from one factorization (leading blocks of one chain) equals the chain solved at that step.
    @Test func allStepsFromOneFactorizationEqualEachChain() throws {
        let cases: [(k: Double, m: Int, increase: Bool, mean: Double)] = [(0.72, 25, true, 0.5), (2.9, 10, true, 2), (1.4, 20, false, 1.6)]
        for c in cases {
            let poisson = Poisson(mean: c.mean)
            let all = try #require(try ARL.countCUSUMSteps(k: c.k, h: 6, denominator: c.m, increase: c.increase,
                                                           probability: { poisson.probability($0) }))
            #expect(all.count == 6 * c.m + 1)
            for j in stride(from: 0, to: all.count, by: 7) {
                let one = try ARL.countCUSUM(k: c.k, h: (Double(j) + 0.5) / Double(c.m), denominator: c.m, increase: c.increase,
                                             headStart: 0, probability: { poisson.probability($0) })
                #expect(abs(all[j] - one) <= 1e-9 * one, "k \(c.k) step \(j): \(all[j]) vs \(one)")
            }
        }
    }

    /// Searched from a guess — close, far below, far above — the threshold is the full search's.
    @Test func thresholdFromAGuessIsTheFullSearchs() throws {
        let charts: [(ARL.LatticeCUSUM, Double)] = [
            (try ARL.negativeBinomialLattice(ratio: 2, theta: 2.5, expected: 2), 200),
            (try ARL.poissonLattice(ratio: 3, expected: 0.05), 1200),
            (try #require(try ARL.normalCUSUMLattice(k: 0.5, counts: ARL.Counts(expected: 4, theta: 3), mean: 4)), 600),
        ]
        for (chart, target) in charts {
            let full = try chart.threshold(forARL0: target)
            for guess in [full * 1.03, full * 0.97, full * 0.3, full * 3] {
                let h = try chart.threshold(forARL0: target, near: guess)
                let arl = try chart.arl(h: h)
                #expect(arl >= target, "guess \(guess): h \(h), ARL \(arl) < \(target)")
                #expect(abs(h - full) <= 0.02 * full, "guess \(guess): h \(h) vs the full search's \(full)")
            }
        }
    }
}
