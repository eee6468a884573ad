import Foundation

/// ARLs on the data a detector sees (METHODS.md): `normal_cusum` and `ewma` on z of counts, the EWMA with
/// the exact time-varying limits the detector uses, the single-risk Bernoulli CUSUM on its lattice.
extension ARL {
    /// Counts a detector sees in control: Poisson(E), NB2(E, θ) (θ = ∞ is the Poisson), or events out of n
    /// trials, binomial(n, p) or beta-binomial(n, p, ρ) (E = n p).
    public struct Counts: Sendable {
        public let expected: Double
        public let theta: Double
        /// n of a proportion, nil for counts.
        public let trials: Int?
        public let rho: Double

        public init(expected: Double, theta: Double = .infinity) throws {
            guard expected > 0, expected.isFinite else { throw Failure.invalid("expected must be a finite number > 0") }
            guard theta > 0 else { throw Failure.invalid("theta must be > 0") }
            self.expected = expected
            self.theta = theta
            self.trials = nil
            self.rho = 0
        }

        public init(trials n: Int, risk p: Double, rho: Double = 0) throws {
            guard n >= 1 else { throw Failure.invalid("trials must be >= 1") }
            guard p > 0, p < 1 else { throw Failure.invalid("the risk must be in (0, 1)") }
            guard rho >= 0, rho < 1 else { throw Failure.invalid("rho must be in [0, 1)") }
            self.expected = Double(n) * p
            self.theta = .infinity
            self.trials = n
            self.rho = rho
        }

        /// p = E/n of a proportion.
        public var risk: Double? { trials.map { expected / Double($0) } }

        /// V of the standardized residual z = (O − E)/√V.
        public var variance: Double {
            guard let n = trials, let p = risk else { return expected + expected * expected / theta }
            return expected * (1 - p) * (1 + Double(n - 1) * rho)
        }

        /// P(O = o) when the counts' true mean is `mean` (same θ, or same n and ρ).
        public func probability(mean: Double) -> @Sendable (Int) -> Double {
            if let n = trials {
                let bb = BetaBinomial(trials: n, risk: min(1, max(0, mean / Double(n))), rho: rho)
                return { bb.probability($0) }
            }
            if theta.isInfinite {
                let poisson = Poisson(mean: mean)
                return { poisson.probability($0) }
            }
            let nb = NegativeBinomial(mean: mean, theta: theta)
            return { nb.probability($0) }
        }

        /// The mean when the odds of each trial are `oddsRatio` × the expected odds.
        public func mean(oddsRatio: Double) -> Double {
            guard let n = trials, let p = risk else { return expected * oddsRatio }
            let odds = p / (1 - p) * oddsRatio
            return Double(n) * odds / (1 + odds)
        }
    }

    // MARK: normal_cusum on counts

    /// `normal_cusum` on z = (O − E)/√V of counts whose true mean is `mean`: S = max(0, S ± z − k) is
    /// (1/√V)·max(0, √V·S ± (O − E) − k√V), the count CUSUM with reference E + k√V (up) or E − k√V (down)
    /// in units of 1/√V, solved exactly on its lattice. nil when it never signals (down with E − k√V < 0:
    /// every increment is negative).
    public static func normalCUSUMLattice(k: Double, counts: Counts, mean: Double, direction: Direction = .up) throws -> LatticeCUSUM? {
        guard k >= 0, k.isFinite, mean >= 0, mean.isFinite else { throw Failure.invalid("normal_cusum needs k >= 0 and a finite mean") }
        let sd = counts.variance.squareRoot()
        let reference = direction == .up ? counts.expected + k * sd : counts.expected - k * sd
        guard reference >= 0 else { return nil }
        return LatticeCUSUM(k: reference, scale: 1 / sd, increase: direction == .up, probability: counts.probability(mean: mean))
    }

    public static func normalCUSUM(k: Double, h: Double, counts: Counts, mean: Double, direction: Direction = .up,
                                   sided: Sided = .one, headStart: Double = 0) throws -> Double {
        guard h > 0, h.isFinite else { throw Failure.invalid("h must be a finite number > 0") }
        func oneSided(_ d: Direction) throws -> Double {
            guard let chart = try normalCUSUMLattice(k: k, counts: counts, mean: mean, direction: d) else { return .infinity }
            return try chart.arl(h: h, headStart: headStart)
        }
        let first = try oneSided(direction)
        guard sided == .two else { return first }
        return 1 / (1 / first + 1 / (try oneSided(direction == .up ? .down : .up)))
    }

    // MARK: bernoulli_cusum at one risk

    /// `bernoulli_cusum` when every patient has risk p: the binomial CUSUM of one trial.
    public static func bernoulliLattice(oddsRatio r: Double, risk p: Double, shiftOddsRatio: Double = 1) throws -> LatticeCUSUM {
        try binomialLattice(oddsRatio: r, counts: Counts(trials: 1, risk: p), shiftOddsRatio: shiftOddsRatio)
    }

    public static func bernoulliCUSUM(oddsRatio r: Double, h: Double, risk p: Double, shiftOddsRatio: Double = 1,
                                      headStart: Double = 0) throws -> Double {
        try bernoulliLattice(oddsRatio: r, risk: p, shiftOddsRatio: shiftOddsRatio).arl(h: h, headStart: headStart)
    }

    // MARK: binomial_cusum

    /// `binomial_cusum` on y events out of n at risk p: W = y ln R − c, c = n ln(1 − p + R p), is the count
    /// CUSUM on y with reference c / ln R in units of |ln R|, solved exactly on its lattice; y binomial (or
    /// beta-binomial, same ρ) with odds `shiftOddsRatio` × p's.
    public static func binomialLattice(oddsRatio r: Double, counts: Counts, shiftOddsRatio: Double = 1) throws -> LatticeCUSUM {
        guard r > 0, r != 1, r.isFinite else { throw Failure.invalid("odds_ratio must be > 0 and != 1") }
        guard let n = counts.trials, let p = counts.risk else { throw Failure.invalid("binomial_cusum needs events out of trials") }
        guard shiftOddsRatio > 0, shiftOddsRatio.isFinite else { throw Failure.invalid("the shift must be a finite odds ratio > 0") }
        let a = log(r)
        let c = BinomialCUSUM.weight(events: 0, trials: Double(n), risk: p, oddsRatio: r)   // −n ln(1 − p + R p)
        return LatticeCUSUM(k: -c / a, scale: abs(a), increase: a > 0,
                            probability: counts.probability(mean: counts.mean(oddsRatio: shiftOddsRatio)))
    }

    // MARK: EWMA with exact limits

    /// What the EWMA sees: z ~ N(shift, 1), or z = ±(O − E)/√V of counts with true mean `mean`.
    public enum EWMAInput: Sendable {
        case normal(shift: Double)
        case counts(Counts, mean: Double, direction: Direction)
    }

    /// One-sided `ewma` (upper limit, no reflection) with the exact limits
    /// c_t = L √(λ/(2 − λ) (1 − (1 − λ)^{2t})) the detector uses (METHODS.md): the state distribution is
    /// carried through the first T updates under c_t (T with (1 − λ)^{2T} < 1e-9), then the homogeneous
    /// chain of the asymptotic limit finishes: ARL = Σ_{t<T} P(N > t) + P(N > T)·ARL(from the state at T).
    /// The state is binned on a grid refined until doubling it moves the ARL by < 0.1%.
    public static func ewmaExact(lambda: Double, L: Double, input: EWMAInput) throws -> Double {
        guard lambda > 0, lambda <= 1 else { throw Failure.invalid("lambda must be in (0, 1]") }
        guard L > 0, L.isFinite else { throw Failure.invalid("L must be a finite number > 0") }
        let sigma = (lambda / (2 - lambda)).squareRoot()
        let limit = { (t: Int) in L * sigma * (1 - pow(1 - lambda, 2 * Double(t))).squareRoot() }
        let top = L * sigma
        var steps = 1
        while pow(1 - lambda, 2 * Double(steps)) >= 1e-9 { steps += 1 }
        switch input {
        case let .normal(shift):
            guard shift.isFinite else { throw Failure.invalid("shift must be finite") }
            let bottom = -max(8, L + 4) * sigma + min(0, shift)
            return try MarkovChain.refine(startingStates: 100, maxStates: 800, extrapolate: true) { m in
                try exactLimitChain(cells: m, bottom: bottom, top: top, steps: steps, limit: limit) { center, lower, upper in
                    // P(λZ + (1 − λ)y in [lower, upper)), Z ~ N(shift, 1).
                    let carried = (1 - lambda) * center
                    return SpecialFunctions.normalCDF((upper - carried) / lambda - shift)
                        - SpecialFunctions.normalCDF((lower - carried) / lambda - shift)
                }
            }
        case let .counts(counts, mean, direction):
            let sd = counts.variance.squareRoot()
            let probability = counts.probability(mean: mean)
            // The counts until their tail mass is below 1e-12, as the z values the EWMA sees.
            var jumps: [(z: Double, p: Double)] = []
            var total = 0.0
            var o = 0
            while total < 1 - 1e-12 && o < 1_000_000 {
                let p = probability(o)
                if p > 0 { jumps.append(((direction == .up ? 1 : -1) * (Double(o) - counts.expected) / sd, p)) }
                total += p
                o += 1
                if o > 50 + Int(20 * mean), p < 1e-300 { break }
            }
            let lowest = jumps.map(\.z).min() ?? 0
            // Up: z ≥ −E/√V, so Y never goes below it; down: z is unbounded below, values under 8 σ_Y
            // below 0 stay in the lowest cell (they take dozens of updates to come back).
            let bottom = direction == .up ? min(0, lowest) : max(lowest, -max(8, L + 4) * sigma)
            return try MarkovChain.refine(startingStates: 100, maxStates: 800, extrapolate: true) { m in
                try exactLimitChain(cells: m, bottom: bottom, top: top, steps: steps, limit: limit, jumps: jumps, lambda: lambda)
            }
        }
    }

    /// The chain over `cells` cells of [bottom, top) for interval transition probabilities.
    private static func exactLimitChain(cells m: Int, bottom: Double, top: Double, steps: Int, limit: (Int) -> Double,
                                        probability: (_ center: Double, _ lower: Double, _ upper: Double) -> Double) throws -> Double {
        let w = (top - bottom) / Double(m)
        let centers = (0..<m).map { bottom + (Double($0) + 0.5) * w }
        // q[i, j]: from cell i into cell j below the asymptotic limit; the lowest cell also takes what falls under.
        var q = Matrix(rows: m, columns: m)
        for i in 0..<m {
            for j in 0..<m {
                q[i, j] = probability(centers[i], j == 0 ? -.infinity : bottom + Double(j) * w, bottom + Double(j + 1) * w)
            }
        }
        return try finishExactLimits(q: q, cells: m, bottom: bottom, width: w, steps: steps, limit: limit) { i, j, c in
            // The part of cell j below the limit c.
            let lower = j == 0 ? -.infinity : bottom + Double(j) * w
            return probability(centers[i], lower, c)
        }
    }

    /// The chain for point jumps: Y' = (1 − λ)y + λz, its mass split between the two nearest cell centers in
    /// proportion to the distance (the mean is kept, so the binning error is of second order).
    private static func exactLimitChain(cells m: Int, bottom: Double, top: Double, steps: Int, limit: (Int) -> Double,
                                        jumps: [(z: Double, p: Double)], lambda: Double) throws -> Double {
        let w = (top - bottom) / Double(m)
        let centers = (0..<m).map { bottom + (Double($0) + 0.5) * w }
        // Transitions by the value reached; time t keeps only values ≤ c_t.
        var moves: [[(value: Double, p: Double)]] = Array(repeating: [], count: m)
        for i in 0..<m {
            moves[i] = jumps.map { ((1 - lambda) * centers[i] + lambda * $0.z, $0.p) }
        }
        func place(_ value: Double, _ p: Double, into row: inout [Double]) {
            let f = (value - bottom) / w - 0.5
            if f <= 0 { row[0] += p; return }
            let lower = Int(f)
            if lower >= m - 1 { row[m - 1] += p; return }
            let frac = f - Double(lower)
            row[lower] += p * (1 - frac)
            row[lower + 1] += p * frac
        }
        var q = Matrix(rows: m, columns: m)
        var row = [Double](repeating: 0, count: m)
        for i in 0..<m {
            for j in 0..<m { row[j] = 0 }
            for (v, p) in moves[i] where v <= top { place(v, p, into: &row) }
            for j in 0..<m { q[i, j] = row[j] }
        }
        var distribution = [Double](repeating: 0, count: m)
        place(0, 1, into: &distribution)
        var survival = 0.0
        for t in 1...steps {
            survival += distribution.reduce(0, +)
            let c = limit(t)
            var next = [Double](repeating: 0, count: m)
            for i in 0..<m where distribution[i] > 0 {
                for (v, p) in moves[i] where v <= c { place(v, distribution[i] * p, into: &next) }
            }
            distribution = next
        }
        let a = try MarkovChain.expectedSteps(transitions: q)
        return survival + zip(distribution, a).reduce(0) { $0 + $1.0 * $1.1 }
    }

    /// Σ_{t<T} P(N > t) under the limits c_t, then the homogeneous chain from the distribution at T.
    /// `partial(i, j, c)`: from cell i into the part of cell j below c.
    private static func finishExactLimits(q: Matrix, cells m: Int, bottom: Double, width w: Double, steps: Int,
                                          limit: (Int) -> Double,
                                          partial: (_ i: Int, _ j: Int, _ c: Double) -> Double) throws -> Double {
        var distribution = [Double](repeating: 0, count: m)
        distribution[min(m - 1, max(0, Int((0 - bottom) / w)))] = 1
        var survival = 0.0
        for t in 1...steps {
            survival += distribution.reduce(0, +)
            let c = limit(t)
            let cut = min(m - 1, max(0, Int((c - bottom) / w)))   // the cell holding c_t
            var next = [Double](repeating: 0, count: m)
            for i in 0..<m where distribution[i] > 0 {
                let d = distribution[i]
                for j in 0..<cut { next[j] += d * q[i, j] }
                next[cut] += d * partial(i, cut, c)
            }
            distribution = next
        }
        let a = try MarkovChain.expectedSteps(transitions: q)
        return survival + zip(distribution, a).reduce(0) { $0 + $1.0 * $1.1 }
    }
}
