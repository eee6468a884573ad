/// Tabular CUSUM on the standardized residual (Page 1954): S_t = max(0, S_{t−1} + z_t − k).
public struct NormalCUSUM: Detector {
    public static let type = "normal_cusum"
    public let k: Double
    public let direction: Direction
    public var recursion: CUSUMRecursion

    public init(k: Double, h: Double, direction: Direction = .up, reset: ResetMode = .zero) {
        self.k = k
        self.direction = direction
        self.recursion = CUSUMRecursion(h: h, reset: reset)
    }

    public var updates: Int { recursion.updates }

    public mutating func setThreshold(_ threshold: Double) { recursion.setThreshold(threshold) }

    @inline(__always) public mutating func update(_ input: DetectorInput) -> DetectorStep {
        recursion.step(direction.sign * input.standardizedResidual - k)
    }
}
