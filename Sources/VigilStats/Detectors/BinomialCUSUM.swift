import Foundation

/// Binomial CUSUM for odds ratio R on y events out of n at expected probability p (METHODS.md "Proportions";
/// the sum of n Bernoulli weights of Steiner et al. 2000): W_t = y_t ln R − n_t ln(1 − p_t + R p_t).
/// Under a beta-binomial expectation the weight stays the binomial likelihood ratio; its ARL is solved under
/// the beta-binomial.
public struct BinomialCUSUM: Detector {
    public static let type = "binomial_cusum"
    public static let definition = DetectorDefinition(
        chartName: "CUSUM", watches: [.proportions],
        parameters: [DetectorParameter("odds_ratio", .ratio, .required, "odds ratio R to detect")],
        thresholdKey: "h")

    public let oddsRatio: Double
    private let logOddsRatio: Double
    public var recursion: CUSUMRecursion

    /// `oddsRatio` > 0 and ≠ 1 (the parameter rule).
    public init(oddsRatio: Double, h: Double, reset: ResetMode = .zero) {
        self.oddsRatio = oddsRatio
        self.logOddsRatio = Foundation.log(oddsRatio)
        self.recursion = CUSUMRecursion(h: h, reset: reset)
    }

    public init?(_ p: DetectorParameters, threshold: Double) {
        guard let r = p["odds_ratio"] else { return nil }
        self.init(oddsRatio: r, h: threshold, reset: p.reset)
    }

    public var updates: Int { recursion.updates }

    public mutating func setThreshold(_ threshold: Double) { recursion.setThreshold(threshold) }

    @inline(__always) public static func weight(events y: Double, trials n: Double, risk p: Double, oddsRatio r: Double) -> Double {
        weight(events: y, trials: n, risk: p, oddsRatio: r, logOddsRatio: Foundation.log(r))
    }

    @inline(__always) static func weight(events y: Double, trials n: Double, risk p: Double, oddsRatio r: Double,
                                         logOddsRatio: Double) -> Double {
        y * logOddsRatio - n * Foundation.log1p((r - 1) * p)
    }

    /// The input's E is n p: p = E / n.
    @inline(__always) public mutating func update(_ input: DetectorInput) -> DetectorStep {
        let n = input.trials
        return recursion.step(Self.weight(events: input.observed, trials: n, risk: n > 0 ? input.expected / n : 0,
                                          oddsRatio: oddsRatio, logOddsRatio: logOddsRatio))
    }

    /// On its lattice under binomial (or beta-binomial) counts at the typical n; ARL1 at odds R × p's odds.
    public static func runLengths(_ p: DetectorParameters, on data: ARLData, shift: ARLShift,
                                  sided: ARL.Sided) throws -> RunLengths {
        let r = try p.required("odds_ratio")
        let counts = try data.expectedCount(for: type)
        return .lattice(try ARL.binomialLattice(oddsRatio: r, counts: counts),
                        shifted: try ARL.binomialLattice(oddsRatio: r, counts: counts, shiftOddsRatio: r),
                        headStartFraction: p.headStartFraction)
    }
}
