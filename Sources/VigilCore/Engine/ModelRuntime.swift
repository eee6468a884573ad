import Foundation
import VigilStats

/// Whether a model evaluates its series, and what a user must know about its fit.
public enum ModelStatus: Sendable, Equatable {
    /// Ready: a stated expectation, or a baseline fit without warnings.
    case fitted
    /// Fitted as R would fit it, with R's warnings (and vigil's): the series are evaluated.
    case fittedWithWarnings([String])
    /// No usable expectation or threshold: the series are not evaluated; why.
    case unfitted(String)

    /// `fitted`, `fitted_with_warnings` or `unfitted`.
    public var name: String {
        switch self {
        case .fitted: "fitted"
        case .fittedWithWarnings: "fitted_with_warnings"
        case .unfitted: "unfitted"
        }
    }
}

/// What a baseline fit gave: R's estimates and warnings, and what it was fitted on.
public struct FitSummary: Sendable {
    public let family: GLMFit.FamilyKind
    public let coefficients: [GLMFit.Coefficient]
    public let theta: Double?
    /// The intra-class correlation of a beta-binomial fit.
    public var rho: Double? = nil
    public let warnings: [String]
    public let baselineRows: Int
    public let baselineEvents: Double
    public let seconds: Double
}

/// A model with what its data gave it: the expectation (stated or fitted on the baseline) and each
/// detector's threshold (stated or calibrated from `arl0`).
public struct ModelRuntime: Sendable {
    public let config: ModelConfig
    public internal(set) var expectation: Expectation?
    /// Threshold per detector (h, or L for an EWMA); nil until an `arl0` can be calibrated.
    public internal(set) var thresholds: [Double?]
    /// Why the model cannot evaluate yet (no baseline, a failed fit or calibration), or nil.
    public internal(set) var problem: String?
    /// The last baseline fit (fitted kinds), also when it left the model unfitted.
    public internal(set) var fit: FitSummary?
    /// Baseline fits so far: the daemon reports each new one.
    public internal(set) var fits = 0
    /// The median E (or p) of the baseline rows at the last calibration.
    public internal(set) var medianExpected: Double?
    /// The median trials n of a proportion model's baseline rows at the last calibration (E = n p).
    public internal(set) var medianTrials: Double?
    /// Series with baseline rows (N of the false-alarm budget), as of the last fit.
    public internal(set) var seriesWithBaseline = 0
    /// Baseline patients a year of each series that has some (patient-level budgets), as of the last fit.
    var baselinePatientsPerYear: [Double] = []

    /// Periods a year of the model's unit (P of the budget).
    public var periodsPerYear: Double { config.unit.periodsPerYear }

    /// The in-control ARL the budget gives every series and detector: N·D·P/B periods (patient-level: per
    /// baseline patient a year of the series, N·D/B — multiply by the series' patients a year).
    public var budgetARL: Double? {
        guard let b = config.alert.falseAlarmsPerYear, seriesWithBaseline > 0 else { return nil }
        let scale = Double(seriesWithBaseline * config.detectors.count) / b
        return config.isPatientLevel ? scale : scale * periodsPerYear
    }

    /// The in-control ARL a per-series threshold of detector `d` is solved for, for a series with
    /// `patientsPerYear` baseline patients a year (patient-level budgets); nil for a model-wide threshold.
    func seriesTarget(_ d: Int, patientsPerYear: Double? = nil) -> Double? {
        let spec = config.detectors[d]
        guard spec.perSeries else { return nil }
        if let arl0 = spec.arl0 { return arl0 }
        guard let a = budgetARL else { return nil }
        guard config.isPatientLevel else { return a }
        return patientsPerYear.map { a * $0 }
    }

    /// The in-control ARL of the model-wide threshold of detector `d`: its arl0, or the budget's at the median
    /// series (used by per-series detectors for series with no baseline until they have their own).
    func modelTarget(_ d: Int) -> Double? {
        if let arl0 = config.detectors[d].arl0 { return arl0 }
        guard config.detectors[d].perSeries, let a = budgetARL else { return nil }
        guard config.isPatientLevel else { return a }
        return median(baselinePatientsPerYear).map { a * $0 }
    }

    public var status: ModelStatus {
        if let problem { return .unfitted(problem) }
        if expectation == nil { return .unfitted("no expectation") }
        if let warnings = fit?.warnings, !warnings.isEmpty { return .fittedWithWarnings(warnings) }
        return .fitted
    }

    init(config: ModelConfig) {
        self.config = config
        self.expectation = Expectation(stated: config.expected)
        self.thresholds = config.detectors.map(\.threshold)
    }

    /// Covariates a record must carry for this model.
    public var neededCovariates: [String] {
        if case let .coefficients(published) = config.expected.kind { return published.covariates }
        if case let .supplied(column) = config.expected.kind { return [column] }
        return config.expected.covariates
    }

    /// The first covariate this model needs that `covariates` lacks.
    func missingCovariate(_ covariates: Covariates) -> String? {
        neededCovariates.first { covariates[$0] == nil }
    }

    public var needsExposure: Bool {
        switch config.expected.kind {
        case .rate: true
        case .mean, .supplied, .binomial, .betaBinomial: false
        default: config.expected.offset
        }
    }

    /// Events are out of trials: every record needs `trials`.
    public var needsTrials: Bool { config.expected.kind.isProportion }

    /// Fresh detectors with the current thresholds, nil when one is still unknown or unusable.
    func makeDetectors() -> [AnyDetector]? { makeDetectors(thresholds: thresholds) }

    /// Fresh detectors with these thresholds (a series' own), nil when one is unknown or unusable.
    func makeDetectors(thresholds: [Double?]) -> [AnyDetector]? {
        var out: [AnyDetector] = []
        out.reserveCapacity(config.detectors.count)
        for (d, threshold) in thresholds.enumerated() {
            guard let t = threshold, t.isFinite, t > 0,
                  let detector = AnyDetector(type: config.detectors[d].type, parameters: parameters(d), threshold: t) else { return nil }
            out.append(detector)
        }
        return out
    }

    /// Detector `d`'s keys with what the baseline fit gives (NB2 θ) for those its model leaves to it.
    func parameters(_ d: Int) -> DetectorParameters {
        let spec = config.detectors[d]
        var p = spec.parameters
        for parameter in spec.definition.parameters where parameter.absent == .fittedTheta && p[parameter.key] == nil {
            p[parameter.key] = expectation?.theta
        }
        return p
    }

    /// The NB2 size of the counts detector `d` is calibrated on: its own θ key, else the fit's (∞: Poisson).
    func countsTheta(_ d: Int) -> Double? { parameters(d)["theta"] ?? expectation?.theta }

    /// What detector `d` sees in control at expected count (or risk) `e`, for its ARL.
    func arlData(_ d: Int, expected e: Double, counts: CountsBuilder) throws -> ARLData {
        config.detectors[d].watchesPatients ? .risks([e]) : .counts(try counts(e, countsTheta(d)))
    }

    /// Solves every `arl0:` threshold (METHODS.md, "ARLs on the data a detector sees") at `arl_expected` or
    /// the median baseline E: on counts of the model's distribution (Poisson, NB2 with the fitted θ, binomial
    /// or beta-binomial at the median baseline n); charts on z without an E on N(0, 1); patient detectors over
    /// the risk mix of the baseline patients.
    mutating func calibrate(baselineExpected: [Double], baselineTrials: [Double] = []) {
        medianExpected = median(baselineExpected.filter { $0 > 0 && $0.isFinite })
        medianTrials = median(baselineTrials.filter { $0 >= 1 && $0.isFinite })
        for (i, spec) in config.detectors.enumerated() where spec.threshold == nil {
            guard let target = modelTarget(i) else { continue }
            do {
                thresholds[i] = try threshold(i, arl0: target, baselineExpected: baselineExpected,
                                              counts: countsBuilder(trials: medianTrials))
            } catch {
                thresholds[i] = nil
                // A per-series detector solves each series' own threshold; only the fallback is missing.
                if !spec.perSeries {
                    problem = "model \(config.name), detector \(spec.id): cannot calibrate arl0 \(target): \(error)"
                }
            }
        }
    }

    /// ARL1 of detector `d` with threshold `h` at expected count `e` (patient-level: risk) under the shift it is
    /// designed for. Proportions at the median baseline n.
    public func designARL1(detector d: Int, threshold h: Double, expected e: Double) -> Double? {
        let spec = config.detectors[d]
        guard let data = try? arlData(d, expected: e, counts: countsBuilder(trials: medianTrials)),
              let lengths = try? spec.type.runLengths(parameters(d), on: data) else { return nil }
        return try? lengths.arl(h, true)
    }

    /// What the detectors see in control at expected count E: Poisson or NB2(θ) counts, or — for a proportion
    /// model with typical n — binomial(n, E/n) or beta-binomial with the fitted ρ.
    typealias CountsBuilder = @Sendable (Double, Double?) throws -> ARL.Counts

    func countsBuilder(trials: Double?) -> CountsBuilder {
        guard config.expected.kind.isProportion, let trials else {
            return { e, theta in try ARL.Counts(expected: e, theta: theta ?? .infinity) }
        }
        let n = max(1, Int(trials.rounded()))
        let rho = expectation?.rho ?? 0
        return { e, _ in try ARL.Counts(trials: n, risk: e / Double(n), rho: rho) }
    }

    /// The threshold of detector `d` giving in-control ARL `arl0`: at `arl_expected` or the median of
    /// `baselineExpected` (charts on z without either: on N(0, 1)); a patient detector over the risk mix
    /// `baselineExpected`. `ownE`: a series' own threshold, at its E whatever `arl_expected` says.
    func threshold(_ d: Int, arl0: Double, baselineExpected: [Double], counts: CountsBuilder,
                   search: ThresholdSearch = .scratch, ownE: Bool = false) throws -> Double {
        let spec = config.detectors[d]
        let data: ARLData
        let stated = ownE ? nil : spec.arlExpected
        if spec.watchesPatients {
            data = .risks(baselineExpected)
        } else if let e = stated ?? median(baselineExpected.filter({ $0 > 0 && $0.isFinite })) {
            data = .counts(try counts(e, countsTheta(d)))
        } else {
            data = .standardNormal
        }
        return try spec.type.runLengths(parameters(d), on: data).threshold(forARL0: arl0, search: search)
    }
}

/// The median (the mean of the middle two for an even count), nil for no values.
func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    // By selection, not a sort: a refit takes the median of every baseline row's E.
    var v = values
    let k = v.count / 2
    let upper = nthSmallest(&v, k)
    guard v.count % 2 == 0 else { return upper }
    let lower = v[..<k].reduce(-Double.infinity) { max($0, $1) }
    return (lower + upper) / 2
}

/// Rearranges `v` so that `v[k]` is the value sorting would put there, with none larger before it; returns it
/// (Hoare's selection, the pivot a median of three).
func nthSmallest(_ v: inout [Double], _ k: Int) -> Double {
    var lo = 0, hi = v.count - 1
    while lo < hi {
        let (a, b, c) = (v[lo], v[(lo + hi) / 2], v[hi])
        let pivot = max(min(a, b), min(max(a, b), c))
        var i = lo, j = hi
        while i <= j {
            while i <= hi && v[i] < pivot { i += 1 }
            while j >= lo && pivot < v[j] { j -= 1 }
            if i <= j {
                v.swapAt(i, j)
                i += 1
                j -= 1
            }
        }
        if k <= j { hi = j } else if k >= i { lo = i } else { break }
    }
    return v[k]
}
