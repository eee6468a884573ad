/// Tabular CUSUM on the standardized residual (Page 1954): S_t = max(0, S_{t−1} + z_t − k).
public struct NormalCUSUM: Detector {
    public static let type = "normal_cusum"
    public static let definition: DetectorDefinition = {
        var d = DetectorDefinition(
            chartName: "CUSUM", watches: [.counts, .proportions],
            parameters: [DetectorParameter("k", .nonNegative, .defaultValue(0.5), "reference value k in σ units")],
            thresholdKey: "h")
        d.hasDirection = true
        d.standardNormalARL = true
        return d
    }()

    public let k: Double
    public let direction: Direction
    public var recursion: CUSUMRecursion

    public init(k: Double, h: Double, direction: Direction = .up, reset: ResetMode = .zero) {
        self.k = k
        self.direction = direction
        self.recursion = CUSUMRecursion(h: h, reset: reset)
    }

    public init?(_ p: DetectorParameters, threshold: Double) {
        guard let k = p["k"] else { return nil }
        self.init(k: k, h: threshold, direction: p.direction, reset: p.reset)
    }

    public var updates: Int { recursion.updates }

    public mutating func setThreshold(_ threshold: Double) { recursion.setThreshold(threshold) }

    @inline(__always) public mutating func update(_ input: DetectorInput) -> DetectorStep {
        recursion.step(direction.sign * input.standardizedResidual - k)
    }

    /// On z of the counts it watches (exactly, on their lattice, one-sided), or on z ~ N(0, 1) without an
    /// expected count (Brook & Evans 1972); ARL1 at a mean shift of 2k σ in the watched direction.
    public static func runLengths(_ p: DetectorParameters, on data: ARLData, shift: ARLShift,
                                  sided: ARL.Sided) throws -> RunLengths {
        let k = try p.required("k")
        let fir = p.headStartFraction, direction = p.direction
        var result: RunLengths
        switch data {
        case let .counts(counts):
            let e = counts.expected
            let shifted = shift.shiftedMean(counts, direction: direction, designed: 2 * k)
            result = RunLengths { h, out in
                try ARL.normalCUSUM(k: k, h: h, counts: counts, mean: out ? shifted.mean : e, direction: direction,
                                    sided: sided, headStart: h * fir)
            }
            result.shiftInSigma = shifted.sigma
            if sided == .one {
                result.lattice = try ARL.normalCUSUMLattice(k: k, counts: counts, mean: e, direction: direction)
                if result.lattice == nil {
                    result.unsolvable = "at E = \(e) the chart never signals (E − k√V < 0 looking down)"
                }
            }
        case .standardNormal:
            let delta = try shift.sigma(designed: 2 * k, type: type)
            result = RunLengths { h, out in try ARL.normalCUSUM(k: k, h: h, shift: out ? delta : 0, sided: sided, headStart: h * fir) }
            result.shiftInSigma = delta
            result.initialThreshold = 2
        case .risks:
            throw ARL.Failure.invalid("\(type) watches counts, not patients")
        }
        result.headStartFraction = fir
        return result
    }
}

extension ARLShift {
    /// The true mean of counts under this shift, for charts on z of counts: E ± δ√V in the watched direction
    /// (δ in σ units, also returned), or ratio × E.
    func shiftedMean(_ counts: ARL.Counts, direction: Direction, designed: Double) -> (mean: Double, sigma: Double?) {
        let e = counts.expected
        switch self {
        case let .meanRatio(r): return (r * e, nil)
        case .designed: return (max(0, e + direction.sign * designed * counts.variance.squareRoot()), designed)
        case let .sigma(d): return (max(0, e + direction.sign * d * counts.variance.squareRoot()), d)
        }
    }

    /// The shift in σ units on z ~ N(0, 1).
    func sigma(designed: Double, type: String) throws -> Double {
        switch self {
        case .designed: return designed
        case let .sigma(d): return d
        case .meanRatio: throw ARL.Failure.invalid("\(type): a mean ratio needs an expected count (--expected)")
        }
    }
}
