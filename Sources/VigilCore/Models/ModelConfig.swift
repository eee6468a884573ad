import VigilStats

/// One model file of `Models/` (SPEC §2), validated.
public struct ModelConfig: Sendable {
    public let name: String
    public let measure: String
    public let unit: PeriodUnit
    public let description: String?
    /// Records of the measure that this model takes: every condition must hold (SPEC §2 extension; NHSN's
    /// models are per facility type). Empty: all of them.
    public let select: [PublishedModel.Condition]
    public let expected: ExpectedSpec
    public var detectors: [DetectorSpec]
    public let alert: AlertSpec
    /// SHA-256 of the file's bytes, first 12 hex digits (SPEC §3 `model_version`).
    public let version: String
    public let path: String

    public var isPatientLevel: Bool { unit == .patient }

    /// Whether a record's covariates satisfy `select` (a record lacking a selected covariate is not taken).
    public func selects(_ covariates: Covariates) -> Bool {
        select.allSatisfy { (try? LinearPredictor.test($0, covariates).get()) == true }
    }
}

/// Every default of a model file, written once (README "Model files" lists them).
public enum ModelDefaults {
    public static let unit = PeriodUnit.month
    public static let severity = Severity.warning
    public static let cooldown = 0
    public static let reset = ResetMode.zero
    public static let direction = Direction.up
    /// `offset: exposure` for count models; logistic models have no offset.
    public static let countOffset = true
}

public enum Severity: String, Sendable, Codable, CaseIterable {
    case info, warning, critical

    /// For ordering: critical first.
    public var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }
}

/// How E (aggregate) or p (patient) is obtained.
public struct ExpectedSpec: Sendable {
    public enum Kind: Sendable {
        case mean(Double)
        case rate(Double)
        case poisson
        case negativeBinomial
        case logistic
        case coefficients(PublishedModel)
        /// E taken from a feed column per record (NHSN's `numPred`, CMS's predicted cases), summed over a period.
        case supplied(column: String)
        /// Events out of `trials`: a grouped logistic fit (E = n p), or beta-binomial with a fitted ρ.
        case binomial
        case betaBinomial

        public var name: String {
            switch self {
            case .mean: "mean"
            case .rate: "rate"
            case .poisson: "poisson"
            case .negativeBinomial: "negative_binomial"
            case .logistic: "logistic"
            case .coefficients: "coefficients"
            case .supplied: "supplied"
            case .binomial: "binomial"
            case .betaBinomial: "beta_binomial"
            }
        }

        /// Events out of trials.
        public var isProportion: Bool {
            switch self {
            case .binomial, .betaBinomial: true
            default: false
            }
        }

        /// Fitted on the baseline window by the statistical core.
        public var family: GLMFit.FamilyKind? {
            switch self {
            case .poisson: .poisson
            case .negativeBinomial: .negbin
            case .logistic, .binomial: .binomial
            case .betaBinomial: .betaBinomial
            default: nil
            }
        }
    }

    public let kind: Kind
    public let covariates: [String]
    /// log(exposure) is the offset.
    public let offset: Bool
    public let baseline: BaselineWindow?
    /// Reference level per categorical covariate.
    public let references: [String: String]
    /// Serfling harmonics K (`seasonal: { harmonics: K }`), 0 for none.
    public var harmonics: Int = 0
}

/// Inclusive baseline window: periods of the model's unit, or days for patient-level models.
public struct BaselineWindow: Sendable, Equatable {
    public let from: Period
    public let to: Period

    public func contains(_ p: Period) -> Bool { p >= from && p <= to }
}

/// Published estimates: an intercept plus `when` and `linear` terms (SPEC §2).
public struct PublishedModel: Sendable {
    public enum LinkName: String, Sendable, CaseIterable { case log, logit }
    public let link: LinkName
    public let intercept: Double
    public let terms: [Term]

    public struct Term: Sendable {
        public enum Body: Sendable {
            case when([Condition])
            case linear(String)
        }
        public let body: Body
        public let beta: Double
    }

    public struct Condition: Sendable {
        public enum Test: Sendable {
            case levels([String])
            case bounds(gt: Double?, ge: Double?, lt: Double?, le: Double?)
        }
        public let covariate: String
        public let test: Test
    }

    /// Covariates the terms read, in first-use order.
    public var covariates: [String] {
        var seen: [String] = []
        for term in terms {
            switch term.body {
            case let .when(conditions): for c in conditions where !seen.contains(c.covariate) { seen.append(c.covariate) }
            case let .linear(name): if !seen.contains(name) && Seasonal.term(name) == nil { seen.append(name) }
            }
        }
        return seen
    }
}

/// One detector of a model: its type, its keys (SPEC §2 table, with the type's defaults) and calibration.
/// The threshold may be nil until calibration fills it from `arl0`.
public struct DetectorSpec: Sendable {
    public let id: String
    public let type: any Detector.Type
    /// Keys as written, with the type's defaults; a `fittedTheta` key stays absent until the fit gives it.
    public var parameters: DetectorParameters
    /// `h` for CUSUMs, `L` for the EWMA; the fixed threshold of a type without a threshold key.
    public var threshold: Double?
    public var arl0: Double?
    /// The expected count at which a count CUSUM's `arl0` is met (default: the median baseline E).
    public var arlExpected: Double?
    /// A threshold per series, solved for `arl0` (or the model's false-alarm budget) at the series' own E.
    public var perSeries = false
    /// Where the detector is written, for calibration messages.
    public let line: Int
    public let column: Int

    public init(id: String, type: any Detector.Type, parameters: DetectorParameters, line: Int, column: Int) {
        self.id = id
        self.type = type
        self.parameters = parameters
        self.line = line
        self.column = column
    }

    public var typeName: String { type.type }
    public var definition: DetectorDefinition { type.definition }
    /// The threshold key of this type in model files.
    public var thresholdKey: String { definition.thresholdKey ?? "threshold" }
    public var direction: Direction { parameters.direction }
    public var reset: ResetMode { parameters.reset }
    /// Watches patients: calibrated over a risk mix rather than at an expected count.
    public var watchesPatients: Bool { definition.watches == [.patients] }
}

public struct AlertSpec: Sendable {
    public let severity: Severity
    public let cooldown: Int
    /// nil: every sink.
    public let sinks: [String]?
    /// Where `sinks:` is written, for the daemon config's check of the names.
    public var sinksLine = 0, sinksColumn = 0
    /// A signal whose expected count (patient-level: the run's sum of p) is below this raises no alert.
    public var minExpected: Double = 0
    /// The network's false-alarm budget B: every series and detector gets the in-control ARL N·D·P/B.
    public var falseAlarmsPerYear: Double? = nil
    /// A facility's series with no record this many periods before the model's newest raises a `stale` alert.
    public var staleAfter: Int? = nil
    /// `inhibit: [{ while: cusum, hold: [ewma] }]`: an event of a `hold` detector is held while an alert of a
    /// `while` detector fires on the same series.
    public var inhibit: [Inhibition] = []
}

/// One `alert.inhibit` rule, by the model's detector ids.
public struct Inhibition: Sendable, Equatable {
    public let whileFiring: Set<String>
    public let hold: Set<String>
    /// Where the rule is written, for the check of its detector ids.
    public var line = 0, column = 0

    public init(whileFiring: Set<String>, hold: Set<String>) {
        self.whileFiring = whileFiring
        self.hold = hold
    }

    /// The same rule wherever it is written.
    public static func == (a: Inhibition, b: Inhibition) -> Bool { a.whileFiring == b.whileFiring && a.hold == b.hold }
}
