import Foundation

/// Poisson CUSUM for rate ratio r (Lucas 1985; Höhle & Paul 2008): W_t = O_t ln r − (r − 1) E_t.
/// Equals `surveillance::algo.glrpois` with theta = log(r), mu0 = E, ret = "value".
public struct PoissonCUSUM: Detector {
    public static let type = "poisson_cusum"
    public let ratio: Double
    private let logRatio: Double
    public var recursion: CUSUMRecursion

    public init(ratio: Double, h: Double, reset: ResetMode = .zero) {
        precondition(ratio > 0 && ratio != 1, "ratio must be > 0 and != 1")
        self.ratio = ratio
        self.logRatio = Foundation.log(ratio)
        self.recursion = CUSUMRecursion(h: h, reset: reset)
    }

    public var updates: Int { recursion.updates }

    public mutating func setThreshold(_ threshold: Double) { recursion.setThreshold(threshold) }

    @inline(__always) public static func weight(observed: Double, expected: Double, ratio: Double, logRatio: Double) -> Double {
        observed * logRatio - (ratio - 1) * expected
    }

    @inline(__always) public mutating func update(_ input: DetectorInput) -> DetectorStep {
        recursion.step(Self.weight(observed: input.observed, expected: input.expected, ratio: ratio, logRatio: logRatio))
    }
}
