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
        for (spec, threshold) in zip(config.detectors, thresholds) {
            guard let t = threshold, t.isFinite, t > 0 else { return nil }
            switch spec.kind {
            case .poissonCUSUM:
                out.append(.poissonCUSUM(PoissonCUSUM(ratio: spec.ratio ?? 2, h: t, reset: spec.reset)))
            case .negbinCUSUM:
                guard let theta = spec.theta ?? expectation?.theta, theta > 0 else { return nil }
                out.append(.negativeBinomialCUSUM(NegativeBinomialCUSUM(ratio: spec.ratio ?? 2, theta: theta, h: t, reset: spec.reset)))
            case .normalCUSUM:
                out.append(.normalCUSUM(NormalCUSUM(k: spec.k ?? ModelDefaults.normalCUSUMk, h: t, direction: spec.direction, reset: spec.reset)))
            case .ewma:
                out.append(.ewma(EWMA(lambda: spec.lambda ?? ModelDefaults.ewmaLambda, L: t, direction: spec.direction, reset: spec.reset)))
            case .bernoulliCUSUM:
                out.append(.bernoulliCUSUM(BernoulliCUSUM(oddsRatio: spec.oddsRatio ?? 2, h: t, reset: spec.reset)))
            case .binomialCUSUM:
                out.append(.binomialCUSUM(BinomialCUSUM(oddsRatio: spec.oddsRatio ?? 2, h: t, reset: spec.reset)))
            case .sirInterval:
                out.append(.sirInterval(SIRInterval(level: spec.level ?? 0.95)))
            }
        }
        return out
    }

    /// Solves every `arl0:` threshold (METHODS.md, "ARLs on the data a detector sees") at `arl_expected` or
    /// the median baseline E: count CUSUMs, and normal CUSUMs and EWMAs on z of the model's counts (Poisson,
    /// or NB2 with the fitted θ); without an E the latter two are solved on N(0, 1). The Bernoulli CUSUM is
    /// solved over the risk mix of the baseline patients. Proportions are solved at the median baseline n and
    /// E (binomial, or beta-binomial with the fitted ρ).
    mutating func calibrate(baselineExpected: [Double], baselineTrials: [Double] = []) {
        medianExpected = median(baselineExpected.filter { $0 > 0 && $0.isFinite })
        medianTrials = median(baselineTrials.filter { $0 >= 1 && $0.isFinite })
        for (i, spec) in config.detectors.enumerated() where spec.threshold == nil {
            guard let target = modelTarget(i) else { continue }
            do {
                thresholds[i] = try Self.threshold(spec, arl0: target, theta: spec.theta ?? expectation?.theta,
                                                   baselineExpected: baselineExpected, counts: countsBuilder(trials: medianTrials))
            } catch {
                thresholds[i] = nil
                // A per-series detector solves each series' own threshold; only the fallback is missing.
                if !spec.perSeries {
                    problem = "model \(config.name), detector \(spec.id): cannot calibrate arl0 \(target): \(error)"
                }
            }
        }
    }

    struct CalibrationFailure: Error, CustomStringConvertible { let description: String }

    /// ARL1 of detector `d` with threshold `h` at expected count `e` (patient-level: risk) under the shift it is
    /// designed for: counts of mean ratio × E, odds × odds_ratio, or z shifted by 2k (normal CUSUM) or 1 (EWMA).
    /// Proportions at the median baseline n.
    public func designARL1(detector d: Int, threshold h: Double, expected e: Double) -> Double? {
        let spec = config.detectors[d]
        let theta = spec.theta ?? expectation?.theta ?? .infinity
        let fir = spec.reset == .fir ? h / 2 : 0
        let counts = countsBuilder(trials: medianTrials)
        switch spec.kind {
        case .sirInterval:
            return nil
        case .binomialCUSUM:
            let r = spec.oddsRatio ?? 2
            guard let c = try? counts(e, theta) else { return nil }
            return try? ARL.binomialLattice(oddsRatio: r, counts: c, shiftOddsRatio: r).arl(h: h, headStart: fir)
        case .poissonCUSUM, .negbinCUSUM:
            let r = spec.ratio ?? 2
            return try? ARL.negativeBinomialLattice(ratio: r, theta: spec.kind == .poissonCUSUM ? .infinity : theta,
                                                    expected: e, shift: r).arl(h: h, headStart: fir)
        case .bernoulliCUSUM:
            let r = spec.oddsRatio ?? 2
            return try? ARL.bernoulliLattice(oddsRatio: r, risk: e, shiftOddsRatio: r).arl(h: h, headStart: fir)
        case .normalCUSUM:
            let k = spec.k ?? ModelDefaults.normalCUSUMk
            guard let c = try? counts(e, theta) else { return nil }
            return try? ARL.normalCUSUM(k: k, h: h, counts: c, mean: e + 2 * k * c.variance.squareRoot(),
                                        direction: spec.direction, headStart: fir)
        case .ewma:
            guard let c = try? counts(e, theta) else { return nil }
            return try? ARL.ewmaExact(lambda: spec.lambda ?? ModelDefaults.ewmaLambda, L: h,
                                      input: .counts(c, mean: e + c.variance.squareRoot(), direction: spec.direction))
        }
    }

    /// How a threshold search starts (per-series thresholds): from nothing; bracketing outward from a close
    /// value and solved to tolerance (a node of the E grid, from the model's threshold); or from a value
    /// interpolated between two nodes, kept when its ARL reaches the target (a grid point between nodes).
    /// Lattice CUSUMs treat the last two alike: every step near the value from one factorization.
    enum SearchStart {
        case scratch
        case around(Double)
        case interpolated(Double)

        var guess: Double? {
            switch self {
            case .scratch: nil
            case let .around(g), let .interpolated(g): g > 0 && g.isFinite ? g : nil
            }
        }
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

    static func threshold(_ spec: DetectorSpec, arl0: Double, theta: Double?, baselineExpected: [Double],
                          counts: CountsBuilder = { e, theta in try ARL.Counts(expected: e, theta: theta ?? .infinity) },
                          start: SearchStart = .scratch) throws -> Double {
        func typicalE() -> Double? {
            if let e = spec.arlExpected { return e }
            return median(baselineExpected.filter { $0 > 0 && $0.isFinite })
        }
        func needE() throws -> Double {
            guard let e = typicalE() else {
                throw CalibrationFailure(description: "no baseline expectations to calibrate at; give arl_expected")
            }
            return e
        }
        let fir = spec.reset == .fir ? 0.5 : 0
        func solve(_ chart: ARL.LatticeCUSUM) throws -> Double {
            guard let guess = start.guess else { return try chart.threshold(forARL0: arl0, headStartFraction: fir) }
            return try chart.threshold(forARL0: arl0, headStartFraction: fir, near: guess)
        }
        switch spec.kind {
        case .sirInterval:
            throw CalibrationFailure(description: "sir_interval has no threshold to solve (it signals when the interval lies above 1)")
        case .normalCUSUM:
            let k = spec.k ?? ModelDefaults.normalCUSUMk
            guard let e = typicalE() else {
                return try ARL.threshold(forARL0: arl0, initial: 2) { try ARL.normalCUSUM(k: k, h: $0, sided: .one, headStart: $0 * fir) }
            }
            guard let chart = try ARL.normalCUSUMLattice(k: k, counts: counts(e, theta), mean: e, direction: spec.direction) else {
                throw CalibrationFailure(description: "at E = \(e) the chart never signals (E − k√V < 0 looking down)")
            }
            return try solve(chart)
        case .ewma:
            let lambda = spec.lambda ?? ModelDefaults.ewmaLambda
            let input: ARL.EWMAInput
            if let e = typicalE() {
                input = .counts(try counts(e, theta), mean: e, direction: spec.direction)
            } else {
                input = .normal(shift: 0)
            }
            let arl = { (L: Double) in try ARL.ewmaExact(lambda: lambda, L: L, input: input) }
            switch start {
            case .scratch:
                return try ARL.threshold(forARL0: arl0, initial: 2, relativeTolerance: 1e-4, arl)
            case let .around(guess):
                return try ARL.threshold(forARL0: arl0, around: guess, relativeTolerance: 1e-4, arl)
            case let .interpolated(guess):
                // Up in steps of 0.5% until the ARL reaches the target (L is smooth in E).
                var L = guess
                for _ in 0..<20 where L > 0 && L.isFinite {
                    if try arl(L) >= arl0 { return L }
                    L *= 1.005
                }
                return try ARL.threshold(forARL0: arl0, around: guess, relativeTolerance: 1e-4, arl)
            }
        case .poissonCUSUM:
            return try solve(ARL.poissonLattice(ratio: spec.ratio ?? 2, expected: try needE()))
        case .negbinCUSUM:
            guard let theta else { throw CalibrationFailure(description: "no theta yet (the baseline fit gives it)") }
            return try solve(ARL.negativeBinomialLattice(ratio: spec.ratio ?? 2, theta: theta, expected: try needE()))
        case .binomialCUSUM:
            return try solve(ARL.binomialLattice(oddsRatio: spec.oddsRatio ?? 2, counts: counts(try needE(), theta)))
        case .bernoulliCUSUM:
            let risks = baselineExpected.filter { $0 > 0 && $0 < 1 }
            guard !risks.isEmpty else { throw CalibrationFailure(description: "no baseline patients to calibrate over") }
            let oddsRatio = spec.oddsRatio ?? 2
            if let first = risks.first, risks.allSatisfy({ $0 == first }) {
                return try ARL.bernoulliLattice(oddsRatio: oddsRatio, risk: first).threshold(forARL0: arl0, headStartFraction: fir)
            }
            return try ARL.threshold(forARL0: arl0, initial: 2) {
                try ARL.bernoulliCUSUM(oddsRatio: oddsRatio, h: $0, risks: risks, headStart: $0 * fir)
            }
        }
    }
}

/// The median (the mean of the middle two for an even count), nil for no values.
func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}
