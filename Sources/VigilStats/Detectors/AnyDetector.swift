/// Any detector type, for code that holds a model's detectors together and persists their state.
public enum AnyDetector: Sendable, Codable, Equatable {
    case poissonCUSUM(PoissonCUSUM)
    case negativeBinomialCUSUM(NegativeBinomialCUSUM)
    case normalCUSUM(NormalCUSUM)
    case ewma(EWMA)
    case bernoulliCUSUM(BernoulliCUSUM)
    case binomialCUSUM(BinomialCUSUM)
    case sirInterval(SIRInterval)

    public static let types = [PoissonCUSUM.type, NegativeBinomialCUSUM.type, NormalCUSUM.type, EWMA.type,
                               BernoulliCUSUM.type, BinomialCUSUM.type, SIRInterval.type]

    public var type: String {
        switch self {
        case .poissonCUSUM: PoissonCUSUM.type
        case .negativeBinomialCUSUM: NegativeBinomialCUSUM.type
        case .normalCUSUM: NormalCUSUM.type
        case .ewma: EWMA.type
        case .bernoulliCUSUM: BernoulliCUSUM.type
        case .binomialCUSUM: BinomialCUSUM.type
        case .sirInterval: SIRInterval.type
        }
    }

    public mutating func setThreshold(_ threshold: Double) {
        switch self {
        case var .poissonCUSUM(d): d.setThreshold(threshold); self = .poissonCUSUM(d)
        case var .negativeBinomialCUSUM(d): d.setThreshold(threshold); self = .negativeBinomialCUSUM(d)
        case var .normalCUSUM(d): d.setThreshold(threshold); self = .normalCUSUM(d)
        case var .ewma(d): d.setThreshold(threshold); self = .ewma(d)
        case var .bernoulliCUSUM(d): d.setThreshold(threshold); self = .bernoulliCUSUM(d)
        case var .binomialCUSUM(d): d.setThreshold(threshold); self = .binomialCUSUM(d)
        case .sirInterval: break
        }
    }

    @inline(__always) public mutating func update(_ input: DetectorInput) -> DetectorStep {
        switch self {
        case var .poissonCUSUM(d): let s = d.update(input); self = .poissonCUSUM(d); return s
        case var .negativeBinomialCUSUM(d): let s = d.update(input); self = .negativeBinomialCUSUM(d); return s
        case var .normalCUSUM(d): let s = d.update(input); self = .normalCUSUM(d); return s
        case var .ewma(d): let s = d.update(input); self = .ewma(d); return s
        case var .bernoulliCUSUM(d): let s = d.update(input); self = .bernoulliCUSUM(d); return s
        case var .binomialCUSUM(d): let s = d.update(input); self = .binomialCUSUM(d); return s
        case var .sirInterval(d): let s = d.update(input); self = .sirInterval(d); return s
        }
    }
}
