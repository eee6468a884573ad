import Foundation

/// Risk-adjusted Bernoulli CUSUM (Steiner, Cook, Farewell & Treasure 2000, eq. 2):
/// W_i = y_i ln R_A − ln(1 − p_i + R_A p_i), the log-likelihood ratio of odds ratio R_A against 1: the
/// binomial CUSUM's weight at one trial.
public struct BernoulliCUSUM: Detector {
    public static let type = "bernoulli_cusum"
    public static let definition = DetectorDefinition(
        chartName: "CUSUM", watches: [.patients],
        parameters: [DetectorParameter("odds_ratio", .ratio, .required, "odds ratio R_A to detect")],
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

    @inline(__always) public mutating func update(_ input: DetectorInput) -> DetectorStep {
        recursion.step(BinomialCUSUM.weight(events: input.observed, trials: 1, risk: input.expected, oddsRatio: oddsRatio,
                                            logOddsRatio: logOddsRatio))
    }

    /// Over the risk mix (Steiner et al. 2000, §3), exactly on its lattice when every risk is the same;
    /// ARL1 when the odds are R_A × the predicted odds.
    public static func runLengths(_ p: DetectorParameters, on data: ARLData, shift: ARLShift,
                                  sided: ARL.Sided) throws -> RunLengths {
        let r = try p.required("odds_ratio")
        let fir = p.headStartFraction
        guard case let .risks(values) = data else { throw ARL.Failure.invalid("\(type) watches patients, over a risk mix") }
        let risks = values.filter { $0 > 0 && $0 < 1 }
        guard let first = risks.first else { throw ARL.Failure.invalid("no baseline patients to calibrate over") }
        if risks.allSatisfy({ $0 == first }) {
            return .lattice(try ARL.bernoulliLattice(oddsRatio: r, risk: first),
                            shifted: try ARL.bernoulliLattice(oddsRatio: r, risk: first, shiftOddsRatio: r),
                            headStartFraction: fir)
        }
        var result = RunLengths { h, out in
            try ARL.bernoulliCUSUM(oddsRatio: r, h: h, risks: risks, shiftOddsRatio: out ? r : 1, headStart: h * fir)
        }
        result.headStartFraction = fir
        result.initialThreshold = 2
        return result
    }
}
