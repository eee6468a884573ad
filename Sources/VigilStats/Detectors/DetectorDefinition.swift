/// What a model's series are made of: the data a detector type can watch.
public enum SeriesKind: String, Sendable, CaseIterable {
    /// Counts per period against an expected count (`mean`, `rate`, Poisson, NB2, `supplied`).
    case counts
    /// Events out of trials per period (`binomial`, `beta_binomial`).
    case proportions
    /// One outcome per patient against a predicted risk (`unit: patient`).
    case patients
    /// Published windows that overlap (`unit: release`).
    case releases

    /// What a model of this kind needs, for a detector that watches only this kind.
    public var requirement: String {
        switch self {
        case .counts: "watches counts per period"
        case .proportions: "watches events out of trials: the model needs expected.kind binomial or beta_binomial"
        case .patients: "watches patient-level records: the model needs unit: patient"
        case .releases: "compares published windows once each: the model needs unit: release"
        }
    }
}

/// One numeric key of a detector type in a model file (and as `--key` of `vigil arl`), with its rule.
public struct DetectorParameter: Sendable {
    public enum Range: Sendable {
        /// > 0 and ≠ 1: a rate or odds ratio to detect.
        case ratio
        case positive
        case nonNegative
        /// (0, 1]
        case unitInterval
        /// (0, 1)
        case openUnitInterval

        public func contains(_ x: Double) -> Bool {
            guard x.isFinite else { return false }
            switch self {
            case .ratio: return x > 0 && x != 1
            case .positive: return x > 0
            case .nonNegative: return x >= 0
            case .unitInterval: return x > 0 && x <= 1
            case .openUnitInterval: return x > 0 && x < 1
            }
        }

        public var requirement: String {
            switch self {
            case .ratio: "must be a number > 0 and != 1"
            case .positive: "must be a number > 0"
            case .nonNegative: "must be a number >= 0"
            case .unitInterval: "must be a number in (0, 1]"
            case .openUnitInterval: "must be a number in (0, 1)"
            }
        }
    }

    /// What a model that omits the key gets.
    public enum Absent: Sendable, Equatable {
        /// The key must be given.
        case required
        case defaultValue(Double)
        /// The NB2 size θ of the model's baseline fit (`expected.kind: negative_binomial`).
        case fittedTheta
    }

    public let key: String
    public let range: Range
    public let absent: Absent
    /// What the key means, for `vigil arl --help` and error messages.
    public let meaning: String

    public init(_ key: String, _ range: Range, _ absent: Absent, _ meaning: String) {
        self.key = key
        self.range = range
        self.absent = absent
        self.meaning = meaning
    }

    /// The message for a value outside the range.
    public var rangeMessage: String {
        range == .openUnitInterval ? "\(range.requirement) (\(meaning))" : range.requirement
    }
}

/// Everything a model file, `vigil arl` and an alert need to know about a detector type besides its
/// recursion: its keys with their rules and defaults (as `surveillance`'s control lists), the data it
/// watches, its threshold key and its display name.
public struct DetectorDefinition: Sendable {
    /// How its alerts name the chart ("CUSUM 4.12 > 4.0").
    public let chartName: String
    public let watches: Set<SeriesKind>
    public let parameters: [DetectorParameter]
    /// `h` or `L`; nil when the threshold is fixed (`fixedThreshold`) and nothing is calibrated.
    public let thresholdKey: String?
    public var fixedThreshold: Double = 1
    /// Has a `direction: up | down` key (charts on the standardized residual).
    public var hasDirection = false
    /// Has `arl_expected`: a count CUSUM's `arl0` is met at an expected count.
    public var takesARLExpected = false
    /// Without an expected count its ARL is on z ~ N(0, 1) (charts on the standardized residual); otherwise
    /// `vigil arl` needs `--expected`.
    public var standardNormalARL = false
    /// The alert summary's statement of the signal from the statistic and threshold as written; nil:
    /// "<chart> <statistic> > <threshold>".
    public var signalText: (@Sendable (_ statistic: String, _ threshold: String) -> String)? = nil

    public func signal(statistic: String, threshold: String) -> String {
        signalText?(statistic, threshold) ?? "\(chartName) \(statistic) > \(threshold)"
    }

    public init(chartName: String, watches: Set<SeriesKind>, parameters: [DetectorParameter], thresholdKey: String?) {
        self.chartName = chartName
        self.watches = watches
        self.parameters = parameters
        self.thresholdKey = thresholdKey
    }

    public func parameter(_ key: String) -> DetectorParameter? { parameters.first { $0.key == key } }

    /// The model-file keys besides `id` and `type`.
    public var keys: [String] {
        var keys = parameters.map(\.key)
        if let thresholdKey { keys += [thresholdKey, "arl0"] }
        if takesARLExpected { keys.append("arl_expected") }
        if hasDirection { keys.append("direction") }
        if thresholdKey != nil { keys += ["reset", "per_series"] }
        return keys
    }
}

/// A detector's keys as given (with the defaults of its type filled in): numbers by key, direction, reset.
public struct DetectorParameters: Sendable, Equatable {
    public var values: [String: Double]
    public var direction: Direction
    public var reset: ResetMode

    public init(_ values: [String: Double] = [:], direction: Direction = .up, reset: ResetMode = .zero) {
        self.values = values
        self.direction = direction
        self.reset = reset
    }

    public subscript(key: String) -> Double? {
        get { values[key] }
        set { values[key] = newValue }
    }

    /// The CUSUM's start after a signal as a fraction of h: ½ for `reset: fir` (Lucas & Crosier 1982).
    public var headStartFraction: Double { reset == .fir ? 0.5 : 0 }

    /// A key that the model parser or `vigil arl` guarantees (required, or defaulted); a detector built
    /// without them is a programming error, reported as an ARL failure rather than a trap.
    public func required(_ key: String) throws -> Double {
        guard let x = values[key] else { throw ARL.Failure.invalid("\(key) is not given") }
        return x
    }
}
