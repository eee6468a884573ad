import Foundation
import Testing
@testable import VigilStats

/// Detector paths against R: surveillance's GLR CUSUMs with fixed θ and plain R loops (1e-9).
struct DetectorTests {
    @Test func poissonCUSUMMatchesGlrpois() throws {
        let rows = try Reference.rows("detector-ha-glr.csv")
        var plain = PoissonCUSUM(ratio: 1.5, h: 1e9)
        var resetting = PoissonCUSUM(ratio: 1.5, h: 2.5, reset: .zero)
        for (t, row) in rows.enumerated() {
            let input = DetectorInput.poisson(observed: row["observed"]!, expected: row["expected"]!)
            expectClose(plain.update(input).statistic, row["poisson"]!, relative: 1e-9, absolute: 1e-9, "t=\(t)")
            let step = resetting.update(input)
            expectClose(step.statistic, row["poisson_reset"]!, relative: 1e-9, absolute: 1e-9, "reset t=\(t)")
            #expect(step.signal == (row["poisson_reset_alarm"]! == 1), "alarm at t=\(t)")
        }
        #expect(rows.contains { $0["poisson_reset_alarm"]! == 1 }, "the reference must contain alarms")
    }

    @Test func negativeBinomialCUSUMMatchesGlrnb() throws {
        let rows = try Reference.rows("detector-ha-glr.csv")
        var plain = NegativeBinomialCUSUM(ratio: 1.5, theta: 2.5, h: 1e9)
        var resetting = NegativeBinomialCUSUM(ratio: 1.5, theta: 2.5, h: 2)
        for (t, row) in rows.enumerated() {
            let input = DetectorInput.negativeBinomial(observed: row["observed"]!, expected: row["expected"]!, theta: 2.5)
            expectClose(plain.update(input).statistic, row["negbin"]!, relative: 1e-9, absolute: 1e-9, "t=\(t)")
            let step = resetting.update(input)
            expectClose(step.statistic, row["negbin_reset"]!, relative: 1e-9, absolute: 1e-9, "reset t=\(t)")
            #expect(step.signal == (row["negbin_reset_alarm"]! == 1), "alarm at t=\(t)")
        }
        #expect(rows.contains { $0["negbin_reset_alarm"]! == 1 }, "the reference must contain alarms")
    }

    @Test func normalCUSUMAndEWMAMatchRLoops() throws {
        let rows = try Reference.rows("detector-normal-ewma.csv")
        var cusum = NormalCUSUM(k: 0.5, h: 4)
        var ewma = EWMA(lambda: 0.2, L: 2.8)
        var signals = 0
        for (t, row) in rows.enumerated() {
            let input = DetectorInput(observed: row["observed"]!, expected: row["expected"]!, variance: row["variance"]!)
            expectClose(cusum.update(input).statistic, row["normal_cusum"]!, relative: 1e-9, absolute: 1e-12, "cusum t=\(t)")
            let step = ewma.update(input)
            expectClose(step.statistic, row["ewma"]!, relative: 1e-9, absolute: 1e-12, "ewma t=\(t)")
            expectClose(step.threshold, row["ewma_limit"]!, relative: 1e-9, "limit t=\(t)")
            if step.signal { signals += 1 }
        }
        #expect(signals > 0)
    }

    /// make-proportions.R: W = y ln R − n ln(1 − p + R p) on one home's months, h = 3, reset to 0.
    @Test func binomialCUSUMMatchesRLoop() throws {
        let rows = try Reference.rows("detector-binomial-cusum.csv")
        var detector = BinomialCUSUM(oddsRatio: 2, h: 3)
        for (t, row) in rows.enumerated() {
            let input = DetectorInput.proportion(events: row["events"]!, trials: row["trials"]!, risk: row["risk"]!)
            expectClose(BinomialCUSUM.weight(events: row["events"]!, trials: row["trials"]!, risk: row["risk"]!, oddsRatio: 2),
                        row["weight"]!, relative: 1e-12, absolute: 1e-12, "weight t=\(t)")
            let step = detector.update(input)
            expectClose(step.statistic, row["statistic"]!, relative: 1e-9, absolute: 1e-12, "t=\(t)")
            #expect(step.signal == (row["signal"]! == 1), "signal at t=\(t)")
        }
        #expect(rows.contains { $0["signal"]! == 1 }, "the reference must contain signals")
    }

    @Test func bernoulliCUSUMMatchesRLoopWithFastInitialResponse() throws {
        let rows = try Reference.rows("detector-bernoulli.csv")
        var detector = BernoulliCUSUM(oddsRatio: 2, h: 4.5, reset: .fir)
        for (i, row) in rows.enumerated() {
            let step = detector.update(.patient(outcome: row["outcome"]! == 1, risk: row["risk"]!))
            expectClose(step.statistic, row["bernoulli_cusum"]!, relative: 1e-9, absolute: 1e-12, "patient \(i)")
        }
    }

    /// Hand calculation: r = 2, E = 1.5: W = O ln 2 − 1.5.
    @Test func poissonCUSUMByHand() {
        var d = PoissonCUSUM(ratio: 2, h: 1)
        let s1 = d.update(.poisson(observed: 4, expected: 1.5))
        #expect(abs(s1.statistic - (4 * log(2.0) - 1.5)) < 1e-15)
        #expect(s1.signal)   // 1.2726 > 1
        #expect(s1.runStart == 1)
        #expect(d.update(.poisson(observed: 0, expected: 1.5)).statistic == 0)   // reset to 0, then W < 0
        // r < 1 detects decreases: W = O ln 0.5 + 0.5 E.
        var down = PoissonCUSUM(ratio: 0.5, h: 10)
        #expect(abs(down.update(.poisson(observed: 0, expected: 3)).statistic - 1.5) < 1e-15)
    }

    @Test func runStartIsTheUpdateAfterTheLastZero() {
        var d = NormalCUSUM(k: 0.5, h: 3)
        let z: [Double] = [2, -5, 1, 1, 1, 1.5]   // 1.5, 0, 0.5, 1, 1.5, 2.5 ... signal at 6? 1.5+1 = 2.5 — no
        var steps: [DetectorStep] = []
        for v in z { steps.append(d.update(DetectorInput(observed: v, expected: 0, variance: 1))) }
        #expect(steps.map(\.statistic) == [1.5, 0, 0.5, 1, 1.5, 2.5])
        #expect(steps.last?.runStart == 3)
        let s = d.update(DetectorInput(observed: 2, expected: 0, variance: 1))   // 4 > 3
        #expect(s.signal && s.runStart == 3)
    }

    /// Property: a CUSUM never goes below 0, and a Poisson CUSUM (no reset) equals its maximum over start
    /// points max(0, max_k Σ_{t=k}^{n} W_t).
    @Test func cusumPropertiesOnRandomSeries() {
        var generator = SplitMix64(seed: 42)
        for trial in 0..<50 {
            var d = PoissonCUSUM(ratio: 1.2 + Double(trial % 5) * 0.3, h: .greatestFiniteMagnitude, reset: .none)
            var weights: [Double] = []
            for _ in 0..<200 {
                let e = 0.2 + 5 * generator.nextUniform()
                let o = Double(Int(generator.nextUniform() * 3 * e))
                weights.append(PoissonCUSUM.weight(observed: o, expected: e, ratio: d.ratio, logRatio: log(d.ratio)))
                let s = d.update(.poisson(observed: o, expected: e)).statistic
                #expect(s >= 0)
                var best = 0.0
                var suffix = 0.0
                for w in weights.reversed() { suffix += w; best = max(best, suffix) }
                #expect(abs(s - best) <= 1e-9 * max(1, best))
            }
        }
    }

    /// Property: the EWMA's exact limit grows monotonically to its asymptote L√(λ/(2−λ)).
    @Test func ewmaLimitGrowsToItsAsymptote() {
        var d = EWMA(lambda: 0.1, L: 3)
        var previous = 0.0
        var last = 0.0
        for _ in 0..<400 {
            last = d.update(DetectorInput(observed: 0, expected: 0, variance: 1)).threshold
            #expect(last >= previous)
            #expect(last <= d.asymptoticThreshold * (1 + 1e-15))
            previous = last
        }
        #expect(abs(last - d.asymptoticThreshold) < 1e-12)
        var fresh = EWMA(lambda: 0.1, L: 3)
        let first = fresh.update(DetectorInput(observed: 0, expected: 0, variance: 1)).threshold
        #expect(abs(first - 3 * 0.1) < 1e-15)   // t = 1: L √(λ/(2−λ)(1 − (1−λ)²)) = Lλ
    }

    /// Detector state round-trips through Codable, and a restored detector continues identically.
    @Test func stateRoundTripsThroughCodable() throws {
        var detectors: [AnyDetector] = [
            AnyDetector(PoissonCUSUM(ratio: 1.5, h: 4)),
            AnyDetector(NegativeBinomialCUSUM(ratio: 1.5, theta: 2.5, h: 4, reset: .fir)),
            AnyDetector(NormalCUSUM(k: 0.5, h: 4, direction: .down)),
            AnyDetector(EWMA(lambda: 0.2, L: 2.8)),
            AnyDetector(BernoulliCUSUM(oddsRatio: 2, h: 3)),
            AnyDetector(BinomialCUSUM(oddsRatio: 1.8, h: 3)),
            AnyDetector(SIRInterval(level: 0.9)),
        ]
        let input = DetectorInput(observed: 3, expected: 1.2, variance: 1.2)
        for i in detectors.indices { for _ in 0..<5 { _ = detectors[i].update(input) } }
        let data = try JSONEncoder().encode(detectors)
        var restored = try JSONDecoder().decode([AnyDetector].self, from: data)
        #expect(restored == detectors)
        #expect(restored.map(\.type) == Detectors.types)
        for i in detectors.indices {
            #expect(restored[i].update(input) == detectors[i].update(input))
        }
    }
}

