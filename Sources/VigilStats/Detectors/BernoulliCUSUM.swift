import Foundation

/// Risk-adjusted Bernoulli CUSUM (Steiner, Cook, Farewell & Treasure 2000, eq. 2):
/// W_i = y_i ln R_A − ln(1 − p_i + R_A p_i), the log-likelihood ratio of odds ratio R_A against 1: the
/// binomial CUSUM's weight at one trial.
public struct BernoulliCUSUM: Detector {
    public static let type = "bernoulli_cusum"
    public let oddsRatio: Double
    private let logOddsRatio: Double
    public var recursion: CUSUMRecursion

    public init(oddsRatio: Double, h: Double, reset: ResetMode = .zero) {
        precondition(oddsRatio > 0 && oddsRatio != 1, "odds_ratio must be > 0 and != 1")
        self.oddsRatio = oddsRatio
        self.logOddsRatio = Foundation.log(oddsRatio)
        self.recursion = CUSUMRecursion(h: h, reset: reset)
    }

    public var updates: Int { recursion.updates }

    public mutating func setThreshold(_ threshold: Double) { recursion.setThreshold(threshold) }

    @inline(__always) public mutating func update(_ input: DetectorInput) -> DetectorStep {
        recursion.step(BinomialCUSUM.weight(events: input.observed, trials: 1, risk: input.expected, oddsRatio: oddsRatio,
                                            logOddsRatio: logOddsRatio))
    }
}
