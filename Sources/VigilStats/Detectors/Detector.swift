/// One observation as every detector sees it: observed O (or outcome y), expected E (or risk p), and the
/// in-control variance V of O (E for Poisson-type expectations, E + E²/θ for NB2, p(1 − p) for a patient,
/// n p (1 − p)(1 + (n − 1)ρ) for events out of n trials); `trials` is n (1 for a patient, 0 for counts).
public struct DetectorInput: Sendable, Equatable {
    public var observed: Double
    public var expected: Double
    public var variance: Double
    public var trials: Double

    public init(observed: Double, expected: Double, variance: Double, trials: Double = 0) {
        self.observed = observed
        self.expected = expected
        self.variance = variance
        self.trials = trials
    }

    /// Counts under a Poisson-type expectation: V = E.
    public static func poisson(observed: Double, expected: Double) -> DetectorInput {
        DetectorInput(observed: observed, expected: expected, variance: expected)
    }

    /// Counts under an NB2 expectation of size θ: V = E + E²/θ.
    public static func negativeBinomial(observed: Double, expected: Double, theta: Double) -> DetectorInput {
        DetectorInput(observed: observed, expected: expected, variance: expected + expected * expected / theta)
    }

    /// A patient's outcome y ∈ {0, 1} and predicted risk p.
    public static func patient(outcome: Bool, risk: Double) -> DetectorInput {
        DetectorInput(observed: outcome ? 1 : 0, expected: risk, variance: risk * (1 - risk), trials: 1)
    }

    /// y events out of n trials at probability p (beta-binomial with intra-class correlation ρ; 0: binomial).
    public static func proportion(events y: Double, trials n: Double, risk p: Double, rho: Double = 0) -> DetectorInput {
        DetectorInput(observed: y, expected: n * p, variance: n * p * (1 - p) * (1 + (n - 1) * rho), trials: n)
    }

    /// METHODS.md: z = (O − E)/√V.
    @inline(__always) public var standardizedResidual: Double {
        (observed - expected) / variance.squareRoot()
    }
}

/// What a detector reports after one update; the same shape for every type, so the engine, the trace and
/// the report never special-case a detector (as `surveillance`'s `upperbound` and `alarm`).
public struct DetectorStep: Sendable, Equatable {
    /// The statistic after this update and before any reset.
    public var statistic: Double
    public var threshold: Double
    public var signal: Bool
    /// Update number (1-based, counted since the detector was created) where the run that led here began:
    /// the update after the statistic was last 0 or reset (METHODS.md, "After a signal").
    public var runStart: Int
}

/// What happens after a signal (METHODS.md, "After a signal").
public enum ResetMode: String, Sendable, Codable, CaseIterable {
    /// The statistic restarts at 0.
    case zero
    /// CUSUMs restart at h/2 (Lucas & Crosier 1982 fast initial response).
    case fir
    /// The statistic goes on.
    case none
}

/// Whether a chart on the standardized residual looks for increases or decreases.
public enum Direction: String, Sendable, Codable, CaseIterable {
    case up
    case down
    @inline(__always) var sign: Double { self == .up ? 1 : -1 }
}

/// A sequential detector type: a value whose whole state is `Codable`, updated one observation at a time,
/// that owns its keys (`definition`), is built from them, and computes its own ARL. Registered in
/// `Detectors.all`; nothing else in vigil names a detector type.
public protocol Detector: Sendable, Codable, Equatable {
    /// The `type` key of SPEC §2.
    static var type: String { get }
    static var definition: DetectorDefinition { get }
    /// A detector from checked keys (defaults filled in) and its threshold; nil when a key it needs is not
    /// known yet (θ before the baseline fit).
    init?(_ parameters: DetectorParameters, threshold: Double)
    /// Its ARL on `data` as a function of the threshold; ARL1 at `shift` (`sided: two` for charts on z only).
    static func runLengths(_ parameters: DetectorParameters, on data: ARLData, shift: ARLShift,
                           sided: ARL.Sided) throws -> RunLengths
    /// Number of updates so far.
    var updates: Int { get }
    mutating func update(_ input: DetectorInput) -> DetectorStep
    /// Takes another threshold from the next update on (a series' own threshold, once it is known).
    mutating func setThreshold(_ threshold: Double)
}

extension Detector {
    public static func runLengths(_ parameters: DetectorParameters, on data: ARLData) throws -> RunLengths {
        try runLengths(parameters, on: data, shift: .designed, sided: .one)
    }
}

/// The upper CUSUM recursion S_t = max(0, S_{t−1} + W_t) shared by every CUSUM type, with the reset
/// modes and the change-point (run start) bookkeeping.
public struct CUSUMRecursion: Sendable, Codable, Equatable {
    public var h: Double
    public var reset: ResetMode
    public var statistic: Double
    public var updates: Int = 0
    /// Last update at which the statistic was 0 or reset (0 = before the first update).
    public var lastRestart: Int = 0

    /// h > 0 is checked where thresholds are made (the model runtime keeps only finite positive ones).
    public init(h: Double, reset: ResetMode = .zero, headStart: Bool = false) {
        self.h = h
        self.reset = reset
        self.statistic = headStart ? h / 2 : 0
    }

    public mutating func setThreshold(_ threshold: Double) { h = threshold }

    @inline(__always) public mutating func step(_ weight: Double) -> DetectorStep {
        updates += 1
        let s = max(0, statistic + weight)
        if s == 0 { lastRestart = updates }
        let result = DetectorStep(statistic: s, threshold: h, signal: s > h, runStart: lastRestart + 1)
        statistic = s
        if result.signal {
            switch reset {
            case .zero: statistic = 0; lastRestart = updates
            case .fir: statistic = h / 2; lastRestart = updates
            case .none: break
            }
        }
        return result
    }
}
