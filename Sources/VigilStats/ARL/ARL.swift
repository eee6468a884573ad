import Foundation

/// In-control (ARL0) and out-of-control (ARL1) average run lengths of every detector type, by Markov chain
/// (METHODS.md, "Average run length"), and the threshold that gives a target ARL0.
public enum ARL {
    public enum Sided: String, Sendable, CaseIterable { case one, two }

    /// The largest count-CUSUM chain solved (a dense n × n system: 5,000 states is 200 MB).
    static let maxChainStates = 5000

    public enum Failure: Error, CustomStringConvertible, Equatable {
        case invalid(String)
        case noThreshold(target: Double, reason: String)
        public var description: String {
            switch self {
            case let .invalid(message): return message
            case let .noThreshold(target, reason): return "no threshold gives ARL0 = \(target): \(reason)"
            }
        }
    }

    // MARK: Normal CUSUM (Brook & Evans 1972)

    /// Tabular CUSUM S = max(0, S + z − k), z ~ N(shift, 1), signal when S > h. Two-sided: the upper and
    /// lower charts combined by 1/ARL = 1/ARL⁺ + 1/ARL⁻ (Lucas & Crosier 1982).
    public static func normalCUSUM(k: Double, h: Double, shift: Double = 0, sided: Sided = .one,
                                   headStart: Double = 0) throws -> Double {
        guard h > 0, h.isFinite, k.isFinite, shift.isFinite, headStart.isFinite else {
            throw Failure.invalid("h must be a finite number > 0 (and k, shift finite)")
        }
        let up = try oneSidedNormalCUSUM(k: k, h: h, shift: shift, headStart: headStart)
        guard sided == .two else { return up }
        let down = try oneSidedNormalCUSUM(k: k, h: h, shift: -shift, headStart: headStart)
        return 1 / (1 / up + 1 / down)
    }

    private static func oneSidedNormalCUSUM(k: Double, h: Double, shift: Double, headStart: Double) throws -> Double {
        try MarkovChain.refine(startingStates: 200, maxStates: 3200, extrapolate: true) { m in
            // State 0 is the atom at 0 (with [0, w/2)); state i ≥ 1 stands for [iw − w/2, iw + w/2), w = 2h/(2m − 1).
            let w = 2 * h / Double(2 * m - 1)
            var q = Matrix(rows: m, columns: m)
            for i in 0..<m {
                let s = Double(i) * w
                var lower = SpecialFunctions.normalCDF(w / 2 - s + k - shift)
                q[i, 0] = lower
                for j in 1..<m {
                    let upper = SpecialFunctions.normalCDF((Double(j) + 0.5) * w - s + k - shift)
                    q[i, j] = upper - lower
                    lower = upper
                }
            }
            let start = min(m - 1, Int((headStart / w).rounded()))
            return try MarkovChain.averageRunLength(transitions: q, start: start)
        }
    }

    // MARK: EWMA (Lucas & Saccucci 1990)

    /// EWMA Y = λz + (1 − λ)Y, z ~ N(shift, 1), asymptotic limits ±L√(λ/(2 − λ)). One-sided: upper limit
    /// only and no reflection (vigil's `ewma`), the lower edge of the chain placed 8 σ_Y below 0.
    public static func ewma(lambda: Double, L: Double, shift: Double = 0, sided: Sided = .two) throws -> Double {
        guard lambda > 0, lambda <= 1 else { throw Failure.invalid("lambda must be in (0, 1]") }
        guard L > 0, L.isFinite, shift.isFinite else { throw Failure.invalid("L must be a finite number > 0") }
        let sigma = (lambda / (2 - lambda)).squareRoot()
        let c = L * sigma
        let bottom = sided == .two ? -c : -max(8, L + 4) * sigma
        return try MarkovChain.refine(startingStates: 151, maxStates: 2500, extrapolate: true) { m0 in
            let m = m0 | 1
            let w = (c - bottom) / Double(m)
            let centers = (0..<m).map { bottom + (Double($0) + 0.5) * w }
            var q = Matrix(rows: m, columns: m)
            for i in 0..<m {
                let carried = (1 - lambda) * centers[i]
                var lower = SpecialFunctions.normalCDF((bottom + w - carried) / lambda - shift)
                // One-sided: values below the chain's bottom stay in its lowest state.
                q[i, 0] = sided == .two ? lower - SpecialFunctions.normalCDF((bottom - carried) / lambda - shift) : lower
                for j in 1..<m {
                    let upper = SpecialFunctions.normalCDF((bottom + Double(j + 1) * w - carried) / lambda - shift)
                    q[i, j] = upper - lower
                    lower = upper
                }
            }
            let start = Int(((0 - bottom) / w).rounded(.down))
            return try MarkovChain.averageRunLength(transitions: q, start: min(max(start, 0), m - 1))
        }
    }

    // MARK: Count CUSUMs

    /// CUSUM on integer counts X with reference value k: S = max(0, S + X − k) (`increase`) or
    /// max(0, S + k − X), signal when S > h; X's distribution is `probability`. k is replaced by its closest
    /// fraction a/m with at most `maxStates` states, so S lives exactly on the lattice {j/m} (Brook & Evans
    /// 1972's exact chain for integer steps; `surveillance::arlCusum` rounds k and h to one decimal instead).
    public static func countCUSUM(k: Double, h: Double, increase: Bool = true, headStart: Double = 0,
                                  maxStates: Int = 600, probability: (Int) -> Double) throws -> Double {
        guard h > 0, k >= 0, k.isFinite, h.isFinite, headStart.isFinite else {
            throw Failure.invalid("count CUSUM needs a finite h > 0 and k >= 0")
        }
        return try countCUSUM(k: k, h: h, denominator: latticeDenominator(k: k, h: h, maxStates: maxStates), increase: increase,
                              headStart: headStart, probability: probability)
    }

    /// The count CUSUM on the lattice {j/m} of a given denominator m.
    static func countCUSUM(k: Double, h: Double, denominator m: Int, increase: Bool, headStart: Double,
                           probability: (Int) -> Double) throws -> Double {
        let top = try latticeTop(k: k, h: h, denominator: m)
        let start = min(top, Int((headStart * Double(m)).rounded()))
        return try MarkovChain.averageRunLength(transitions: countCUSUMChain(k: k, top: top, denominator: m, increase: increase,
                                                                             probability: probability), start: start)
    }

    /// The zero-start ARL for every h on the lattice {j/m} up to h: element j is the ARL for h in [j/m, (j+1)/m),
    /// from one factorization (MarkovChain.averageRunLengths); nil when that could not be used.
    static func countCUSUMSteps(k: Double, h: Double, denominator m: Int, increase: Bool,
                                probability: (Int) -> Double) throws -> [Double]? {
        let top = try latticeTop(k: k, h: h, denominator: m)
        return try MarkovChain.averageRunLengths(transitions: countCUSUMChain(k: k, top: top, denominator: m, increase: increase,
                                                                              probability: probability), start: 0)
    }

    /// The highest transient state j/m ≤ h.
    private static func latticeTop(k: Double, h: Double, denominator m: Int) throws -> Int {
        // A dense chain of more states than this does not fit in memory: h is hundreds of steps of the count.
        guard k * Double(m) < 1e9, h * Double(m) < Double(maxChainStates) else {
            throw Failure.invalid("the threshold spans more than \(maxChainStates) lattice steps of the count CUSUM (h \(h), k \(k)): "
                + "no Markov chain is computed for it")
        }
        return Int((h * Double(m) + 1e-9).rounded(.down))
    }

    /// Transitions among the states 0…top of the count CUSUM on {j/m}: those of the states 0…j are the same
    /// for every top ≥ j (a chain's leading block is the chain of a lower h).
    private static func countCUSUMChain(k: Double, top: Int, denominator m: Int, increase: Bool,
                                        probability: (Int) -> Double) -> Matrix {
        let km = Int((k * Double(m)).rounded())
        let n = top + 1
        // Probabilities until the tail is negligible.
        var pmf: [Double] = []
        var total = 0.0
        while total < 1 - 1e-15 && pmf.count < 1_000_000 {
            let p = probability(pmf.count)
            pmf.append(p)
            total += p
            if pmf.count > 50, p < 1e-300 { break }
        }
        let beyond = max(0, 1 - pmf.reduce(0, +))
        var q = Matrix(rows: n, columns: n)
        for j in 0..<n {
            for (x, p) in pmf.enumerated() where p > 0 {
                let next = increase ? j + x * m - km : j + km - x * m
                if next > top { if increase { break } else { continue } }
                q[j, max(0, next)] += p
            }
            // Counts beyond the tabulated ones all lead to 0 when the chart looks down.
            if !increase && beyond > 0 { q[j, 0] += beyond }
        }
        return q
    }

    /// The denominator m of k's closest fraction a/m with at most `maxStates` states below h: the count
    /// CUSUM's statistic lives on the lattice {j/m}, so its ARL is constant for h in [j/m, (j + 1)/m).
    public static func latticeDenominator(k: Double, h: Double, maxStates: Int = 600) -> Int {
        let maxDenominator = max(1, Int(min(Double(maxStates - 1) / h, Double(maxStates))))
        var best = (m: 1, error: Double.infinity)
        for m in 1...maxDenominator {
            let error = abs(k * Double(m) - (k * Double(m)).rounded())
            if error / Double(m) < best.error - 1e-15 { best = (m, error / Double(m)) }
            if error < 1e-12 { break }
        }
        return best.m
    }

    /// A CUSUM that is the count CUSUM in units of `scale`: S/scale = max(0, S/scale ± (X − k)), X with
    /// `probability` (`poisson_cusum`, `negbin_cusum`, `bernoulli_cusum` at one risk, `normal_cusum` on counts).
    public struct LatticeCUSUM: Sendable {
        public let k: Double
        public let scale: Double
        public let increase: Bool
        public let probability: @Sendable (Int) -> Double

        public func arl(h: Double, headStart: Double = 0) throws -> Double {
            try ARL.countCUSUM(k: k, h: h / scale, increase: increase, headStart: headStart / scale, probability: probability)
        }

        /// The threshold whose ARL0 reaches `target`, reported mid-step on the lattice: the ARL is constant on
        /// a step [j, j + 1)·scale/m, and the detector's own statistic (k is irrational in general) lands near
        /// its edges, so the middle keeps the ARL the chain gives. `headStartFraction`: ½ for `reset: fir`.
        /// h doubles from 1 until the lattice at h has a step that reaches the target (every step's ARL from one
        /// factorization), and the ARL is checked at the h returned with the lattice that h itself gets.
        public func threshold(forARL0 target: Double, headStartFraction: Double = 0) throws -> Double {
            guard target > 1, target.isFinite else { throw Failure.noThreshold(target: target, reason: "ARL0 must be > 1") }
            var high = 1.0
            for _ in 0...30 {
                let m = ARL.latticeDenominator(k: k, h: high / scale)
                if let found = try lowestStep(reaching: target, denominator: m, upTo: high, headStartFraction: headStartFraction) {
                    return try checked(found, denominator: m, target: target, headStartFraction: headStartFraction)
                        ?? continuousThreshold(forARL0: target, headStartFraction: headStartFraction)
                }
                high *= 2
            }
            throw Failure.noThreshold(target: target, reason: "ARL0 stays below it for every threshold tried")
        }

        /// The same threshold searched from a guess (a neighbouring E's h): the steps of the lattice up to
        /// 1.25 × the guess, from one factorization; the full search when none of them reaches the target.
        public func threshold(forARL0 target: Double, headStartFraction: Double = 0, near guess: Double) throws -> Double {
            guard target > 1, target.isFinite else { throw Failure.noThreshold(target: target, reason: "ARL0 must be > 1") }
            if guess > 0, guess.isFinite {
                let high = 1.25 * guess
                let m = ARL.latticeDenominator(k: k, h: high / scale)
                if let found = try lowestStep(reaching: target, denominator: m, upTo: high, headStartFraction: headStartFraction),
                   let h = try checked(found, denominator: m, target: target, headStartFraction: headStartFraction) {
                    return h
                }
            }
            return try threshold(forARL0: target, headStartFraction: headStartFraction)
        }

        /// The smallest step j of the lattice {j/m} up to `high` whose ARL0 reaches the target (nil if none): all
        /// steps from one factorization for a zero start, bisection over them with a head start.
        private func lowestStep(reaching target: Double, denominator m: Int, upTo high: Double,
                                headStartFraction: Double) throws -> Int? {
            if headStartFraction == 0,
               let all = try ARL.countCUSUMSteps(k: k, h: high / scale, denominator: m, increase: increase, probability: probability) {
                return all.firstIndex { $0 >= target }
            }
            func stepARL(_ j: Int) throws -> Double {
                let h = (Double(j) + 0.5) / Double(m)
                return try ARL.countCUSUM(k: k, h: h, denominator: m, increase: increase, headStart: h * headStartFraction,
                                          probability: probability)
            }
            var lo = -1, hi = Int((high / scale * Double(m) + 1e-9).rounded(.down))
            guard try stepARL(hi) >= target else { return nil }
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2
                if try stepARL(mid) >= target { hi = mid } else { lo = mid }
            }
            return hi
        }

        /// The middle of the step found, checked as the detector's h is computed (on the lattice that h itself
        /// gets, unless it is this one): the next steps up if it falls short, nil if four do.
        private func checked(_ found: Int, denominator m: Int, target: Double, headStartFraction: Double) throws -> Double? {
            for step in found..<(found + 4) {
                let h = (Double(step) + 0.5) / Double(m) * scale
                if step == found && ARL.latticeDenominator(k: k, h: h / scale) == m { return h }
                if try arl(h: h, headStart: h * headStartFraction) >= target { return h }
            }
            return nil
        }

        /// Bisection on h, then the middle of the step it ends on (when the lattice there still meets the target).
        private func continuousThreshold(forARL0 target: Double, headStartFraction: Double) throws -> Double {
            let edge = try ARL.threshold(forARL0: target, initial: 1) { try arl(h: $0, headStart: $0 * headStartFraction) }
            let m = Double(ARL.latticeDenominator(k: k, h: edge / scale))
            let step = (edge / scale * m + 1e-9).rounded(.down)
            let middle = (step + 0.5) / m * scale
            // At the middle the chain may pick another fraction for k: keep it only if it still meets the target.
            return try arl(h: middle, headStart: middle * headStartFraction) >= target ? middle : edge
        }
    }

    /// `poisson_cusum` as a lattice CUSUM: W = ln r · (O − k), k = (r − 1)E / ln r, counts of mean shift·E.
    public static func poissonLattice(ratio r: Double, expected e: Double, shift: Double = 1) throws -> LatticeCUSUM {
        guard r > 0, r != 1, r.isFinite else { throw Failure.invalid("ratio must be > 0 and != 1") }
        guard e > 0, e.isFinite, shift > 0, shift.isFinite else { throw Failure.invalid("expected must be a finite number > 0") }
        let a = log(r)
        let poisson = Poisson(mean: e * shift)
        return LatticeCUSUM(k: (r - 1) * e / a, scale: abs(a), increase: a > 0, probability: { poisson.probability($0) })
    }

    /// `negbin_cusum` as a lattice CUSUM (θ = ∞: the Poisson CUSUM).
    public static func negativeBinomialLattice(ratio r: Double, theta: Double, expected e: Double,
                                               shift: Double = 1) throws -> LatticeCUSUM {
        guard r > 0, r != 1, r.isFinite else { throw Failure.invalid("ratio must be > 0 and != 1") }
        guard e > 0, e.isFinite, theta > 0, shift > 0, shift.isFinite else { throw Failure.invalid("expected and theta must be > 0") }
        if theta.isInfinite { return try poissonLattice(ratio: r, expected: e, shift: shift) }
        // W is linear in O: W = a O + b = |a| (±(O − k)), k = −b/a.
        func w(_ o: Double) -> Double {
            NegativeBinomialCUSUM.weight(observed: o, expected: e, ratio: r, logRatio: log(r), theta: theta)
        }
        let b = w(0)
        let a = w(1) - b
        let nb = NegativeBinomial(mean: e * shift, theta: theta)
        return LatticeCUSUM(k: -b / a, scale: abs(a), increase: a > 0, probability: { nb.probability($0) })
    }

    /// `poisson_cusum` with rate ratio r at expected count E when the true mean is `shift` × E.
    public static func poissonCUSUM(ratio r: Double, h: Double, expected e: Double, shift: Double = 1,
                                    headStart: Double = 0) throws -> Double {
        try poissonLattice(ratio: r, expected: e, shift: shift).arl(h: h, headStart: headStart)
    }

    /// `negbin_cusum` with mean ratio r, size θ, at expected count E when the true mean is `shift` × E.
    public static func negativeBinomialCUSUM(ratio r: Double, theta: Double, h: Double, expected e: Double,
                                             shift: Double = 1, headStart: Double = 0) throws -> Double {
        try negativeBinomialLattice(ratio: r, theta: theta, expected: e, shift: shift).arl(h: h, headStart: headStart)
    }

    // MARK: Risk-adjusted Bernoulli CUSUM (Steiner et al. 2000)

    /// `bernoulli_cusum` with odds ratio R_A over a mix of patient risks (each patient's risk drawn from
    /// `risks` with equal weight), when the true odds are `shiftOddsRatio` × the predicted odds. The state
    /// [0, h] is discretized on a grid with rounding (Steiner et al. 2000, §3), refined until doubling the
    /// grid moves the ARL by < 0.1%.
    public static func bernoulliCUSUM(oddsRatio: Double, h: Double, risks: [Double], shiftOddsRatio: Double = 1,
                                      headStart: Double = 0) throws -> Double {
        guard oddsRatio > 0, oddsRatio != 1 else { throw Failure.invalid("odds_ratio must be > 0 and != 1") }
        guard h > 0, h.isFinite else { throw Failure.invalid("h must be a finite number > 0") }
        guard !risks.isEmpty, risks.allSatisfy({ $0 > 0 && $0 < 1 }) else {
            throw Failure.invalid("risks must be probabilities strictly between 0 and 1")
        }
        let mix = RiskMix(risks)
        if mix.risks.count == 1 {
            return try bernoulliLattice(oddsRatio: oddsRatio, risk: mix.risks[0], shiftOddsRatio: shiftOddsRatio)
                .arl(h: h, headStart: headStart)
        }
        // Each outcome: weight W and its probability, over the risk mix.
        var jumps: [(weight: Double, probability: Double)] = []
        for (p, share) in zip(mix.risks, mix.shares) {
            let odds = p / (1 - p) * shiftOddsRatio
            let q = odds / (1 + odds)
            for y in [1.0, 0.0] {
                jumps.append((BinomialCUSUM.weight(events: y, trials: 1, risk: p, oddsRatio: oddsRatio), share * (y == 1 ? q : 1 - q)))
            }
        }
        return try MarkovChain.refine(startingStates: 250, maxStates: 2000, extrapolate: false) { m in
            let w = h / Double(m)
            let n = m + 1
            var q = Matrix(rows: n, columns: n)
            for i in 0..<n {
                let s = Double(i) * w
                for (weight, probability) in jumps {
                    let next = max(0, s + weight)
                    if next > h { continue }
                    q[i, min(m, Int((next / w).rounded()))] += probability
                }
            }
            return try MarkovChain.averageRunLength(transitions: q, start: min(m, Int((headStart / w).rounded())))
        }
    }

    /// Risks grouped to at most 400 distinct values (equal-count bins beyond that) with their shares.
    struct RiskMix {
        var risks: [Double] = []
        var shares: [Double] = []
        init(_ values: [Double], maxBins: Int = 400) {
            let sorted = values.sorted()
            let n = Double(sorted.count)
            var counts: [(Double, Int)] = []
            for v in sorted {
                if let last = counts.last, last.0 == v { counts[counts.count - 1].1 += 1 } else { counts.append((v, 1)) }
            }
            if counts.count <= maxBins {
                risks = counts.map(\.0)
                shares = counts.map { Double($0.1) / n }
                return
            }
            let per = Int((n / Double(maxBins)).rounded(.up))
            var start = 0
            while start < sorted.count {
                let end = min(sorted.count, start + per)
                let bin = sorted[start..<end]
                risks.append(bin.reduce(0, +) / Double(bin.count))
                shares.append(Double(bin.count) / n)
                start = end
            }
        }
    }

    // MARK: Thresholds

    /// The smallest threshold (h or L) whose ARL0 reaches `target`, to `relativeTolerance`: bracketed by
    /// doubling from `initial`, then narrowed by false position (`narrow`).
    public static func threshold(forARL0 target: Double, initial: Double = 1,
                                 relativeTolerance: Double = 1e-6,
                                 _ arl0: (Double) throws -> Double) throws -> Double {
        guard target > 1 else { throw Failure.noThreshold(target: target, reason: "ARL0 must be > 1") }
        let goal = Foundation.log(target)
        var lo = 0.0, hi = initial
        var atLo: Double? = nil
        var atHi = Foundation.log(try arl0(hi)) - goal
        var steps = 0
        while !(atHi >= 0) {
            (lo, atLo) = (hi, atHi)
            hi *= 2
            atHi = Foundation.log(try arl0(hi)) - goal
            steps += 1
            if steps > 30 { throw Failure.noThreshold(target: target, reason: "ARL0 stays below it for every threshold tried") }
        }
        return try narrow(lo: lo, atLo, hi: hi, atHi, goal: goal, relativeTolerance: relativeTolerance, arl0)
    }

    /// The same threshold bracketed outward from a close value (2%, 4%, 8%, … either side), then narrowed.
    public static func threshold(forARL0 target: Double, around guess: Double, relativeTolerance: Double = 1e-6,
                                 _ arl0: (Double) throws -> Double) throws -> Double {
        guard target > 1 else { throw Failure.noThreshold(target: target, reason: "ARL0 must be > 1") }
        guard guess > 0, guess.isFinite else { return try threshold(forARL0: target, relativeTolerance: relativeTolerance, arl0) }
        let goal = Foundation.log(target)
        let atGuess = Foundation.log(try arl0(guess)) - goal
        var step = 0.02
        if atGuess >= 0 {
            var (hi, atHi) = (guess, atGuess)
            while step < 1 {
                let lo = guess * (1 - step)
                let atLo = Foundation.log(try arl0(lo)) - goal
                if !(atLo >= 0) { return try narrow(lo: lo, atLo, hi: hi, atHi, goal: goal, relativeTolerance: relativeTolerance, arl0) }
                (hi, atHi) = (lo, atLo)
                step *= 2
            }
            return try narrow(lo: 0, nil, hi: hi, atHi, goal: goal, relativeTolerance: relativeTolerance, arl0)
        }
        var (lo, atLo) = (guess, atGuess)
        for _ in 0..<30 {
            let hi = guess * (1 + step)
            let atHi = Foundation.log(try arl0(hi)) - goal
            if atHi >= 0 { return try narrow(lo: lo, atLo, hi: hi, atHi, goal: goal, relativeTolerance: relativeTolerance, arl0) }
            (lo, atLo) = (hi, atHi)
            step *= 2
        }
        throw Failure.noThreshold(target: target, reason: "ARL0 stays below it for every threshold tried")
    }

    /// Narrows a bracket — ARL0 below the target at `lo` (ln ARL0 − ln target = `atLo`, nil when not
    /// evaluated), reaching it at `hi` — by false position on ln ARL0, nearly linear in the threshold, with the
    /// Illinois rule (the end kept twice has its value halved, so both ends close in); bisection while an
    /// end's value is unknown or infinite. Returns the upper end.
    private static func narrow(lo: Double, _ atLo: Double?, hi: Double, _ atHi: Double, goal: Double, relativeTolerance: Double,
                               _ arl0: (Double) throws -> Double) throws -> Double {
        var (lo, atLo, hi, atHi) = (lo, atLo, hi, atHi)
        var kept = 0   // −1: lo moved last, +1: hi moved last
        for _ in 0..<200 where hi - lo > relativeTolerance * hi {
            var x = 0.5 * (lo + hi)
            if let a = atLo, a.isFinite, atHi.isFinite, atHi > a {
                let margin = 0.25 * relativeTolerance * hi
                x = min(max(lo + (hi - lo) * -a / (atHi - a), lo + margin), hi - margin)
            }
            let value = Foundation.log(try arl0(x)) - goal
            if !(value >= 0) {
                (lo, atLo) = (x, value)
                if kept == -1 { atHi /= 2 }
                kept = -1
            } else {
                (hi, atHi) = (x, value)
                if kept == 1 { atLo = atLo.map { $0 / 2 } }
                kept = 1
            }
        }
        return hi
    }
}
