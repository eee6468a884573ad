import Foundation

/// Negative binomial (NB2) CUSUM for mean ratio r at size θ (Höhle & Paul 2008):
/// W_t = O_t ln r + (O_t + θ) ln((θ + E_t)/(θ + r E_t)).
/// Equals `surveillance::algo.glrnb` with theta = log(r), alpha = 1/θ, mu0 = E; θ = ∞ is the Poisson CUSUM.
public struct NegativeBinomialCUSUM: Detector {
    public static let type = "negbin_cusum"
    public static let definition: DetectorDefinition = {
        var d = DetectorDefinition(
            chartName: "CUSUM", watches: [.counts, .proportions],
            parameters: [DetectorParameter("ratio", .ratio, .required, "mean ratio r to detect"),
                         DetectorParameter("theta", .positive, .fittedTheta, "NB2 size θ; default: the baseline fit's")],
            thresholdKey: "h")
        d.takesARLExpected = true
        return d
    }()

    public let ratio: Double
    public let theta: Double
    private let logRatio: Double
    public var recursion: CUSUMRecursion

    /// `ratio` > 0 and ≠ 1 and `theta` > 0 (∞ allowed): the parameter rules.
    public init(ratio: Double, theta: Double, h: Double, reset: ResetMode = .zero) {
        self.ratio = ratio
        self.theta = theta
        self.logRatio = Foundation.log(ratio)
        self.recursion = CUSUMRecursion(h: h, reset: reset)
    }

    public init?(_ p: DetectorParameters, threshold: Double) {
        guard let ratio = p["ratio"], let theta = p["theta"], theta > 0 else { return nil }
        self.init(ratio: ratio, theta: theta, h: threshold, reset: p.reset)
    }

    public var updates: Int { recursion.updates }

    public mutating func setThreshold(_ threshold: Double) { recursion.setThreshold(threshold) }

    /// The weight, written as W = O ln r − (O/θ + 1)/(1 + E/θ) · (r − 1)E · ln(1 + x)/x with
    /// x = (r − 1)E/(θ + E): the same number, but as θ → ∞ every factor tends to its Poisson limit
    /// (1 and 1), so W tends to the Poisson CUSUM's O ln r − (r − 1)E instead of ∞ · 0.
    @inline(__always) public static func weight(observed o: Double, expected e: Double, ratio r: Double,
                                                logRatio: Double, theta: Double) -> Double {
        let x = (r - 1) * e / (theta + e)
        let logRatioOverX = x == 0 ? 1 : Foundation.log1p(x) / x
        return o * logRatio - (o / theta + 1) / (1 + e / theta) * (r - 1) * e * logRatioOverX
    }

    @inline(__always) public mutating func update(_ input: DetectorInput) -> DetectorStep {
        recursion.step(Self.weight(observed: input.observed, expected: input.expected, ratio: ratio,
                                   logRatio: logRatio, theta: theta))
    }

    /// On its lattice at NB2(E, θ) counts; ARL1 at r × E (or --ratio's mean ratio).
    public static func runLengths(_ p: DetectorParameters, on data: ARLData, shift: ARLShift,
                                  sided: ARL.Sided) throws -> RunLengths {
        let r = try p.required("ratio")
        guard let theta = p["theta"] else { throw ARL.Failure.invalid("no theta yet (the baseline fit gives it)") }
        let e = try data.expectedCount(for: type).expected
        return .lattice(try ARL.negativeBinomialLattice(ratio: r, theta: theta, expected: e),
                        shifted: try ARL.negativeBinomialLattice(ratio: r, theta: theta, expected: e,
                                                                 shift: shift.countRatio(designed: r)),
                        headStartFraction: p.headStartFraction)
    }
}
