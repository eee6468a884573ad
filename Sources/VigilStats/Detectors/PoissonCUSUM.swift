import Foundation

/// Poisson CUSUM for rate ratio r (Lucas 1985; Höhle & Paul 2008): W_t = O_t ln r − (r − 1) E_t.
/// Equals `surveillance::algo.glrpois` with theta = log(r), mu0 = E, ret = "value".
public struct PoissonCUSUM: Detector {
    public static let type = "poisson_cusum"
    public static let definition: DetectorDefinition = {
        var d = DetectorDefinition(
            chartName: "CUSUM", watches: [.counts, .proportions],
            parameters: [DetectorParameter("ratio", .ratio, .required, "rate ratio r to detect; r < 1 detects decreases")],
            thresholdKey: "h")
        d.takesARLExpected = true
        return d
    }()

    public let ratio: Double
    private let logRatio: Double
    public var recursion: CUSUMRecursion

    /// `ratio` > 0 and ≠ 1 (the parameter rule).
    public init(ratio: Double, h: Double, reset: ResetMode = .zero) {
        self.ratio = ratio
        self.logRatio = Foundation.log(ratio)
        self.recursion = CUSUMRecursion(h: h, reset: reset)
    }

    public init?(_ p: DetectorParameters, threshold: Double) {
        guard let ratio = p["ratio"] else { return nil }
        self.init(ratio: ratio, h: threshold, reset: p.reset)
    }

    public var updates: Int { recursion.updates }

    public mutating func setThreshold(_ threshold: Double) { recursion.setThreshold(threshold) }

    @inline(__always) public static func weight(observed: Double, expected: Double, ratio: Double, logRatio: Double) -> Double {
        observed * logRatio - (ratio - 1) * expected
    }

    @inline(__always) public mutating func update(_ input: DetectorInput) -> DetectorStep {
        recursion.step(Self.weight(observed: input.observed, expected: input.expected, ratio: ratio, logRatio: logRatio))
    }

    /// On its lattice at Poisson(E) counts; ARL1 at r × E (or --ratio's mean ratio).
    public static func runLengths(_ p: DetectorParameters, on data: ARLData, shift: ARLShift,
                                  sided: ARL.Sided) throws -> RunLengths {
        let r = try p.required("ratio")
        let e = try data.expectedCount(for: type).expected
        return .lattice(try ARL.poissonLattice(ratio: r, expected: e),
                        shifted: try ARL.poissonLattice(ratio: r, expected: e, shift: shift.countRatio(designed: r)),
                        headStartFraction: p.headStartFraction)
    }
}

extension ARLShift {
    /// The mean ratio of counts under this shift, for count CUSUMs (which have no σ shift).
    func countRatio(designed: Double) -> Double {
        if case let .meanRatio(x) = self { return x }
        return designed
    }
}
