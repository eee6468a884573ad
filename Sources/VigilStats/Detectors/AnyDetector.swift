/// The detector types, in the order `vigil` lists them. A new type is one file conforming to `Detector`
/// and one line here.
public enum Detectors {
    public static let all: [any Detector.Type] = [
        PoissonCUSUM.self,
        NegativeBinomialCUSUM.self,
        NormalCUSUM.self,
        EWMA.self,
        BernoulliCUSUM.self,
        BinomialCUSUM.self,
        SIRInterval.self,
    ]

    public static var types: [String] { all.map { $0.type } }

    public static func named(_ type: String) -> (any Detector.Type)? { byType[type] }

    /// Looked up for every alert's summary.
    private static let byType: [String: any Detector.Type] = Dictionary(all.map { ($0.type, $0) }) { first, _ in first }
}

/// Any detector, for code that holds a model's detectors together and persists their state.
public struct AnyDetector: Sendable, Codable, Equatable {
    public private(set) var base: any Detector

    public init(_ detector: some Detector) {
        base = detector
    }

    /// A detector of `type` from checked keys and a threshold; nil when a key it needs is not known yet.
    public init?(type: any Detector.Type, parameters: DetectorParameters, threshold: Double) {
        guard let detector = type.init(parameters, threshold: threshold) else { return nil }
        base = detector
    }

    public var type: String { Swift.type(of: base).type }

    public mutating func setThreshold(_ threshold: Double) { base.setThreshold(threshold) }

    @inline(__always) public mutating func update(_ input: DetectorInput) -> DetectorStep { base.update(input) }

    public static func == (a: AnyDetector, b: AnyDetector) -> Bool {
        func equal<D: Detector>(_ x: D) -> Bool { (b.base as? D) == x }
        return equal(a.base)
    }

    private enum CodingKeys: String, CodingKey { case type, state }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let name = try container.decode(String.self, forKey: .type)
        guard let type = Detectors.named(name) else {
            throw DecodingError.dataCorruptedError(forKey: .type, in: container, debugDescription: "unknown detector type \(name)")
        }
        base = try container.decode(type, forKey: .state)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(type, forKey: .type)
        try container.encode(base, forKey: .state)
    }
}
