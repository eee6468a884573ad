/// The in-control data a detector's ARL is computed on.
public enum ARLData: Sendable {
    /// Counts per period (Poisson, NB2, binomial or beta-binomial) whose mean is the expected count E.
    case counts(ARL.Counts)
    /// z ~ N(0, 1): no expected count is known (charts on the standardized residual).
    case standardNormal
    /// Patients whose risks are drawn with equal weight from this mix.
    case risks([Double])
}

/// Where ARL1 is computed.
public enum ARLShift: Sendable, Equatable {
    /// The shift the detector is tuned for: its rate or odds ratio; for charts on z, 2k (CUSUM) or 1 (EWMA) σ.
    case designed
    /// A mean shift of this many σ (charts on z).
    case sigma(Double)
    /// Counts of mean ratio × E (charts on z of counts).
    case meanRatio(Double)
}

/// How a threshold search starts: from nothing; bracketing outward from a close value and solved to
/// tolerance; or from a value interpolated between two solved ones, kept when its ARL reaches the target.
/// Lattice CUSUMs treat the last two alike: every step near the value from one factorization.
public enum ThresholdSearch: Sendable {
    case scratch
    case around(Double)
    case interpolated(Double)

    var guess: Double? {
        switch self {
        case .scratch: nil
        case let .around(g), let .interpolated(g): g > 0 && g.isFinite ? g : nil
        }
    }
}

/// A detector's ARL as a function of its threshold, in control and at its ARL1 shift, and the threshold
/// that gives a target ARL0.
public struct RunLengths: Sendable {
    /// ARL at threshold h, in control (`shifted` false) or at the shift.
    public let arl: @Sendable (_ threshold: Double, _ shifted: Bool) throws -> Double
    /// The in-control chart when its statistic lives on a count lattice: its threshold is solved exactly.
    public var lattice: ARL.LatticeCUSUM? = nil
    public var headStartFraction: Double = 0
    /// Where a search from scratch starts bracketing.
    public var initialThreshold: Double = 1
    public var relativeTolerance: Double = 1e-6
    /// The shift of ARL1 in σ units, when it is one (charts on z).
    public var shiftInSigma: Double? = nil
    /// Why no threshold can give any ARL0 (the chart never signals), nil when one can.
    public var unsolvable: String? = nil

    public init(arl: @escaping @Sendable (_ threshold: Double, _ shifted: Bool) throws -> Double) {
        self.arl = arl
    }

    /// A lattice CUSUM in control and at its shift; the ARL starts from h × `headStartFraction`.
    public static func lattice(_ inControl: ARL.LatticeCUSUM, shifted: ARL.LatticeCUSUM,
                               headStartFraction: Double) -> RunLengths {
        var r = RunLengths { h, out in try (out ? shifted : inControl).arl(h: h, headStart: h * headStartFraction) }
        r.lattice = inControl
        r.headStartFraction = headStartFraction
        return r
    }

    /// The smallest threshold whose ARL0 reaches `target` (to `tolerance`, default the type's own).
    public func threshold(forARL0 target: Double, search: ThresholdSearch = .scratch, tolerance: Double? = nil) throws -> Double {
        let relativeTolerance = tolerance ?? self.relativeTolerance
        if let unsolvable { throw ARL.Failure.invalid(unsolvable) }
        if let lattice {
            guard let guess = search.guess else { return try lattice.threshold(forARL0: target, headStartFraction: headStartFraction) }
            return try lattice.threshold(forARL0: target, headStartFraction: headStartFraction, near: guess)
        }
        let inControl = { (h: Double) in try arl(h, false) }
        switch search {
        case .scratch:
            return try ARL.threshold(forARL0: target, initial: initialThreshold, relativeTolerance: relativeTolerance, inControl)
        case let .around(guess):
            return try ARL.threshold(forARL0: target, around: guess, relativeTolerance: relativeTolerance, inControl)
        case let .interpolated(guess):
            // Up in steps of 0.5% until the ARL reaches the target (thresholds are smooth in E).
            var h = guess
            for _ in 0..<20 where h > 0 && h.isFinite {
                if try inControl(h) >= target { return h }
                h *= 1.005
            }
            return try ARL.threshold(forARL0: target, around: guess, relativeTolerance: relativeTolerance, inControl)
        }
    }
}

extension ARLData {
    /// The expected count of count data; the failure names what is missing otherwise.
    func expectedCount(for type: String) throws -> ARL.Counts {
        guard case let .counts(counts) = self else {
            throw ARL.Failure.invalid("\(type) is calibrated at an expected count: no baseline expectations to calibrate at; give arl_expected")
        }
        return counts
    }
}
