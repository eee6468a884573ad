/// EWMA of the standardized residual with exact time-varying limits (Roberts 1959; Lucas & Saccucci 1990):
/// Y_t = λ z_t + (1 − λ) Y_{t−1}, signal when Y_t > L √(λ/(2 − λ) (1 − (1 − λ)^{2t})).
/// `reset: zero` (and `fir`, which has no EWMA meaning) restart Y = 0, t = 0; `none` goes on.
public struct EWMA: Detector {
    public static let type = "ewma"
    public let lambda: Double
    public private(set) var L: Double
    public let direction: Direction
    public let reset: ResetMode
    public var statistic: Double = 0
    /// (1 − λ)^{2t}, t = updates since start or reset: kept instead of t so a limit costs no `pow`.
    public var decay: Double = 1
    public var updates: Int = 0
    public var lastRestart: Int = 0

    public init(lambda: Double, L: Double, direction: Direction = .up, reset: ResetMode = .zero) {
        precondition(lambda > 0 && lambda <= 1, "lambda must be in (0, 1]")
        precondition(L > 0, "L must be > 0")
        self.lambda = lambda
        self.L = L
        self.direction = direction
        self.reset = reset
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
}
