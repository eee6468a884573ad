import Foundation

/// Binomial CUSUM for odds ratio R on y events out of n at expected probability p (METHODS.md "Proportions";
/// the sum of n Bernoulli weights of Steiner et al. 2000): W_t = y_t ln R − n_t ln(1 − p_t + R p_t).
/// Under a beta-binomial expectation the weight stays the binomial likelihood ratio; its ARL is solved under
/// the beta-binomial.
public struct BinomialCUSUM: Detector {
    public static let type = "binomial_cusum"
    public let oddsRatio: Double
    private let logOddsRatio: Double
    public var recursion: CUSUMRecursion

    /// `oddsRatio` > 0 and ≠ 1 is checked by the model parser.
    public init(oddsRatio: Double, h: Double, reset: ResetMode = .zero) {
        self.oddsRatio = oddsRatio
        self.logOddsRatio = Foundation.log(oddsRatio)
        self.recursion = CUSUMRecursion(h: h, reset: reset)
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
}
