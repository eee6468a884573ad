/// One comparison per observation, for published windows that overlap (`unit: release`): O/E with NHSN's mid-P
/// interval, and a "worse than expected" signal when the whole interval lies above 1. Nothing is carried from
/// one observation to the next — a CUSUM over overlapping windows would count the same events many times.
/// The statistic is the interval's lower limit; the threshold is 1.
public struct SIRInterval: Detector {
    public static let type = "sir_interval"
    /// Coverage of the interval (NHSN: 0.95).
    public let level: Double
    public var updates = 0

    /// `level` in (0, 1) is checked by the model parser.
    public init(level: Double = 0.95) {
        self.level = level
    }

    /// The threshold is 1 (no change in the ratio); there is nothing to set.
    public mutating func setThreshold(_ threshold: Double) {}

    public mutating func update(_ input: DetectorInput) -> DetectorStep {
        updates += 1
        guard input.expected > 0, input.expected.isFinite, input.observed >= 0, input.observed.isFinite else {
            return DetectorStep(statistic: 0, threshold: 1, signal: false, runStart: updates)
        }
        let lower = StandardizedRatio(observed: Int(input.observed.rounded()), expected: input.expected).midPInterval(level: level).lower
        return DetectorStep(statistic: lower, threshold: 1, signal: lower > 1, runStart: updates)
    }
}
