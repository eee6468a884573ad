/// EWMA of the standardized residual with exact time-varying limits (Roberts 1959; Lucas & Saccucci 1990):
/// Y_t = λ z_t + (1 − λ) Y_{t−1}, signal when Y_t > L √(λ/(2 − λ) (1 − (1 − λ)^{2t})).
/// `reset: zero` (and `fir`, which has no EWMA meaning) restart Y = 0, t = 0; `none` goes on.
public struct EWMA: Detector {
    public static let type = "ewma"
    public static let definition: DetectorDefinition = {
        var d = DetectorDefinition(
            chartName: "EWMA", watches: [.counts, .proportions],
            parameters: [DetectorParameter("lambda", .unitInterval, .defaultValue(0.2), "smoothing λ")],
            thresholdKey: "L")
        d.hasDirection = true
        d.standardNormalARL = true
        return d
    }()

    public let lambda: Double
    public private(set) var L: Double
    public let direction: Direction
    public let reset: ResetMode
    public var statistic: Double = 0
    /// (1 − λ)^{2t}, t = updates since start or reset: kept instead of t so a limit costs no `pow`.
    public var decay: Double = 1
    public var updates: Int = 0
    public var lastRestart: Int = 0

    /// λ in (0, 1] (the parameter rule) and L > 0 (the model runtime keeps only positive thresholds).
    public init(lambda: Double, L: Double, direction: Direction = .up, reset: ResetMode = .zero) {
        self.lambda = lambda
        self.L = L
        self.direction = direction
        self.reset = reset
    }

    public init?(_ p: DetectorParameters, threshold: Double) {
        guard let lambda = p["lambda"] else { return nil }
        self.init(lambda: lambda, L: threshold, direction: p.direction, reset: p.reset)
    }

    public mutating func setThreshold(_ threshold: Double) { L = threshold }

    /// The limit L √(λ/(2 − λ)) that the exact limits approach.
    public var asymptoticThreshold: Double { L * (lambda / (2 - lambda)).squareRoot() }

    @inline(__always) public mutating func update(_ input: DetectorInput) -> DetectorStep {
        updates += 1
        let z = direction.sign * input.standardizedResidual
        statistic = lambda * z + (1 - lambda) * statistic
        decay *= (1 - lambda) * (1 - lambda)
        let threshold = L * (lambda / (2 - lambda) * (1 - decay)).squareRoot()
        let step = DetectorStep(statistic: statistic, threshold: threshold, signal: statistic > threshold,
                                runStart: lastRestart + 1)
        if step.signal && reset != .none {
            statistic = 0
            decay = 1
            lastRestart = updates
        }
        return step
    }

    /// With the exact limits it uses, on z of the counts it watches or on z ~ N(0, 1) (`sided: two` without
    /// counts: the asymptotic limits, as `spc::xewma.arl`); ARL1 at a mean shift of 1 σ in the watched direction.
    public static func runLengths(_ p: DetectorParameters, on data: ARLData, shift: ARLShift,
                                  sided: ARL.Sided) throws -> RunLengths {
        let lambda = try p.required("lambda")
        var result: RunLengths
        switch data {
        case let .counts(counts):
            let e = counts.expected, direction = p.direction
            let shifted = shift.shiftedMean(counts, direction: direction, designed: 1)
            result = RunLengths { L, out in
                try ARL.ewmaExact(lambda: lambda, L: L, input: .counts(counts, mean: out ? shifted.mean : e, direction: direction))
            }
            result.shiftInSigma = shifted.sigma
        case .standardNormal:
            let delta = try shift.sigma(designed: 1, type: type)
            if sided == .two {
                result = RunLengths { L, out in try ARL.ewma(lambda: lambda, L: L, shift: out ? delta : 0, sided: .two) }
            } else {
                result = RunLengths { L, out in try ARL.ewmaExact(lambda: lambda, L: L, input: .normal(shift: out ? delta : 0)) }
            }
            result.shiftInSigma = delta
        case .risks:
            throw ARL.Failure.invalid("\(type) watches counts, not patients")
        }
        result.initialThreshold = 2
        // Each ARL with exact limits is a chain of hundreds of steps: L to 1e-4 is enough for calibration.
        result.relativeTolerance = 1e-4
        return result
    }
}
