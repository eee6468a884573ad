import Foundation

/// Negative binomial (NB2) CUSUM for mean ratio r at size θ (Höhle & Paul 2008):
/// W_t = O_t ln r + (O_t + θ) ln((θ + E_t)/(θ + r E_t)).
/// Equals `surveillance::algo.glrnb` with theta = log(r), alpha = 1/θ, mu0 = E.
public struct NegativeBinomialCUSUM: Detector {
    public static let type = "negbin_cusum"
    public let ratio: Double
    public let theta: Double
    private let logRatio: Double
    public var recursion: CUSUMRecursion

    public init(ratio: Double, theta: Double, h: Double, reset: ResetMode = .zero) {
        precondition(ratio > 0 && ratio != 1, "ratio must be > 0 and != 1")
        precondition(theta > 0, "theta must be > 0")
        self.ratio = ratio
        self.theta = theta
        self.logRatio = Foundation.log(ratio)
        self.recursion = CUSUMRecursion(h: h, reset: reset)
    }

    public var updates: Int { recursion.updates }

    @inline(__always) public static func weight(observed o: Double, expected e: Double, ratio r: Double, theta: Double) -> Double {
        o * Foundation.log(r) + (o + theta) * Foundation.log((theta + e) / (theta + r * e))
    }

    @inline(__always) public mutating func update(_ input: DetectorInput) -> DetectorStep {
        let o = input.observed
        let e = input.expected
        return recursion.step(o * logRatio + (o + theta) * Foundation.log((theta + e) / (theta + ratio * e)))
    }
}
