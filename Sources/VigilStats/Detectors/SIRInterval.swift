/// One comparison per observation, for published windows that overlap (`unit: release`): O/E with NHSN's mid-P
/// interval, and a "worse than expected" signal when the whole interval lies above 1. Nothing is carried from
/// one observation to the next — a CUSUM over overlapping windows would count the same events many times.
/// The statistic is the interval's lower limit; the threshold is 1.
public struct SIRInterval: Detector {
    public static let type = "sir_interval"
    public static let definition: DetectorDefinition = {
        var d = DetectorDefinition(
            chartName: "SIR interval", watches: [.releases],
            parameters: [DetectorParameter("level", .openUnitInterval, .defaultValue(0.95), "the interval's coverage")],
            thresholdKey: nil)
        d.signalText = { lower, _ in "worse than expected: O/E interval above 1 (lower limit \(lower))" }
        return d
    }()

    /// Coverage of the interval (NHSN: 0.95).
    public let level: Double
    public var updates = 0

    /// `level` in (0, 1) (the parameter rule).
    public init(level: Double = 0.95) {
        self.level = level
    }

    public init?(_ p: DetectorParameters, threshold: Double) {
        guard let level = p["level"] else { return nil }
        self.init(level: level)
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

    public static func runLengths(_ p: DetectorParameters, on data: ARLData, shift: ARLShift,
                                  sided: ARL.Sided) throws -> RunLengths {
        throw ARL.Failure.invalid("sir_interval has no threshold to solve (it signals when the interval lies above 1)")
    }
}
