import Foundation
import VigilStats

/// Why a record cannot get an expectation from a model: the field at fault and the reason.
public struct FieldProblem: Error, Sendable, Equatable {
    public let field: String
    public let reason: String
}

/// A model's expectation ready to evaluate: E = g⁻¹(η) × exposure for counts, p = g⁻¹(η) for patients,
/// with the variance that the standardized residual needs (METHODS.md, notation).
public struct Expectation: Sendable {
    public enum Form: Sendable {
        case mean(Double)
        case rate(Double)
        case linear(LinearPredictor, logit: Bool)
        /// E is the record's value of this column.
        case supplied(column: String)
    }

    public let form: Form
    public let offset: Bool
    /// NB2 size of a `negative_binomial` expectation (variance E + E²/θ).
    public let theta: Double?
    /// Events out of trials (`binomial`, `beta_binomial`): E = n p, p from the logit predictor.
    public var proportion = false
    /// The intra-class correlation of a `beta_binomial` expectation (variance n p (1 − p)(1 + (n − 1)ρ)).
    public var rho: Double? = nil

    /// Whether E is proportional to exposure (`rate`, or a log-linear model with the log(exposure) offset).
    public var usesExposure: Bool {
        switch form {
        case .mean, .supplied: false
        case .rate: true
        case let .linear(_, logit): !logit && offset
        }
    }

    /// Whether E depends on the period (seasonal terms), beyond the covariates and exposure.
    public var isSeasonal: Bool {
        if case let .linear(predictor, _) = form { return !predictor.seasonal.isEmpty }
        return false
    }

    /// The covariates' factor on `day` (the period's first day) with the seasonal terms: × exp(η_s) for the log
    /// link; for a risk or proportion p, η_s added on the logit scale.
    public func seasonal(_ factor: Double, day: Int) -> Double {
        guard case let .linear(predictor, logit) = form, !predictor.seasonal.isEmpty else { return factor }
        let s = predictor.seasonalEta(day: day)
        guard logit else { return factor * Foundation.exp(s) }
        return Link.logit.mean(Link.logit.eta(factor) + s)
    }

    /// Whether E is read per record and summed over a period's records (`supplied`), not computed from
    /// the period's covariates and summed exposure.
    public var isPerRecord: Bool {
        if case .supplied = form { return true }
        return false
    }

    /// E per unit of exposure when `usesExposure`, else E (or p): what the covariates alone decide (seasonal
    /// terms apart).
    public func factor(covariates: Covariates) -> Result<Double, FieldProblem> {
        switch form {
        case let .mean(m): return .success(m)
        case let .rate(r): return .success(r)
        case let .linear(predictor, logit):
            // The fit's link with R's guards, as `predict(fit, type = "response")`.
            return predictor.eta(covariates).map { eta in (logit ? Link.logit : Link.log).mean(eta) }
        case let .supplied(column):
            return LinearPredictor.number(covariates, column).flatMap { e in
                // E = 0 would make z undefined and every event infinitely surprising.
                e > 0 ? .success(e) : .failure(FieldProblem(field: column, reason: "\(e) is not an expected count > 0"))
            }
        }
    }

    /// E from the covariates' factor and the exposure (a proportion's: n p); nil when E needs an exposure (or
    /// trials) that is missing.
    public func expected(factor: Double, exposure: Double?, trials: Double? = nil) -> Double? {
        if proportion { return trials.map { factor * $0 } }
        guard usesExposure else { return factor }
        return exposure.map { factor * $0 }
    }

    /// E (or p) of a record with these covariates and exposure, on `day` (the period's first day; seasonal
    /// terms need it).
    public func value(covariates: Covariates, exposure: Double?, trials: Double? = nil, day: Int? = nil) -> Result<Double, FieldProblem> {
        factor(covariates: covariates).flatMap { f in
            guard let e = expected(factor: day.map { seasonal(f, day: $0) } ?? f, exposure: exposure, trials: trials) else {
                if proportion { return .failure(FieldProblem(field: "trials", reason: "missing; events are out of trials")) }
                let reason = if case .rate = form { "missing; E = rate × exposure" } else { "missing; the model's offset is log(exposure)" }
                return .failure(FieldProblem(field: "exposure", reason: reason))
            }
            return .success(e)
        }
    }

    /// What the detectors see for a count with this expectation (for a proportion, out of `trials`).
    public func input(observed: Double, expected: Double, trials: Double = 0) -> DetectorInput {
        if proportion, trials > 0 {
            return .proportion(events: observed, trials: trials, risk: expected / trials, rho: rho ?? 0)
        }
        if let theta { return .negativeBinomial(observed: observed, expected: expected, theta: theta) }
        return .poisson(observed: observed, expected: expected)
    }
}

/// η = intercept + Σ terms, from published coefficients or a baseline fit.
public struct LinearPredictor: Sendable {
    public enum Term: Sendable {
        /// β × the covariate's numeric value.
        case linear(String, Double)
        /// β of the record's level; levels absent from the table are an error (not the reference).
        case levels(String, [String: Double])
        /// β when every condition holds.
        case when([PublishedModel.Condition], Double)
    }

    public let intercept: Double
    public let terms: [Term]
    /// Serfling terms (k, sine?, β), which read the period, not the covariates.
    public let seasonal: [(k: Int, sine: Bool, beta: Double)]

    public init(intercept: Double, terms: [Term], seasonal: [(k: Int, sine: Bool, beta: Double)] = []) {
        self.intercept = intercept
        self.terms = terms
        self.seasonal = seasonal
    }

    /// Σ β·sin/cos(2πk·u) on `day`.
    public func seasonalEta(day: Int) -> Double {
        seasonal.reduce(0) { $0 + $1.beta * Seasonal.value(k: $1.k, sine: $1.sine, day: day) }
    }

    public func eta(_ covariates: Covariates) -> Result<Double, FieldProblem> {
        var eta = intercept
        for term in terms {
            switch term {
            case let .linear(name, beta):
                switch Self.number(covariates, name) {
                case let .success(x): eta += beta * x
                case let .failure(p): return .failure(p)
                }
            case let .levels(name, table):
                guard let level = covariates[name] else { return .failure(FieldProblem(field: name, reason: "missing; the model needs it")) }
                guard let beta = table[level] else {
                    return .failure(FieldProblem(field: name, reason: "level \"\(level)\" was not in the baseline (the fitted levels are \(table.keys.sorted().joined(separator: ", ")))"))
                }
                eta += beta
            case let .when(conditions, beta):
                var holds = true
                for condition in conditions {
                    switch Self.test(condition, covariates) {
                    case let .success(h): holds = holds && h
                    case let .failure(p): return .failure(p)
                    }
                }
                if holds { eta += beta }
            }
        }
        return .success(eta)
    }

    static func number(_ covariates: Covariates, _ name: String) -> Result<Double, FieldProblem> {
        guard let text = covariates[name] else { return .failure(FieldProblem(field: name, reason: "missing; the model needs it")) }
        guard let x = Double(text.trimmingSpaces), x.isFinite else {
            return .failure(FieldProblem(field: name, reason: "\"\(text)\" is not a number"))
        }
        return .success(x)
    }

    static func test(_ condition: PublishedModel.Condition, _ covariates: Covariates) -> Result<Bool, FieldProblem> {
        switch condition.test {
        case let .levels(levels):
            guard let value = covariates[condition.covariate] else {
                return .failure(FieldProblem(field: condition.covariate, reason: "missing; the model needs it"))
            }
            return .success(levels.contains(value.trimmingSpaces))
        case let .bounds(gt, ge, lt, le):
            switch number(covariates, condition.covariate) {
            case let .failure(p): return .failure(p)
            case let .success(x):
                if let gt, !(x > gt) { return .success(false) }
                if let ge, !(x >= ge) { return .success(false) }
                if let lt, !(x < lt) { return .success(false) }
                if let le, !(x <= le) { return .success(false) }
                return .success(true)
            }
        }
    }
}

extension Expectation {
    /// The expectation a model states without data (`mean`, `rate`, `coefficients`), nil for fitted kinds.
    public init?(stated spec: ExpectedSpec) {
        switch spec.kind {
        case let .mean(m): self.init(form: .mean(m), offset: false, theta: nil)
        case let .rate(r): self.init(form: .rate(r), offset: true, theta: nil)
        case let .coefficients(published):
            var terms: [LinearPredictor.Term] = []
            var seasonal: [(k: Int, sine: Bool, beta: Double)] = []
            for term in published.terms {
                switch term.body {
                case let .linear(name):
                    if let s = Seasonal.term(name) { seasonal.append((s.k, s.sine, term.beta)) } else { terms.append(.linear(name, term.beta)) }
                case let .when(conditions): terms.append(.when(conditions, term.beta))
                }
            }
            self.init(form: .linear(LinearPredictor(intercept: published.intercept, terms: terms, seasonal: seasonal),
                                    logit: published.link == .logit),
                      offset: spec.offset, theta: nil)
        case let .supplied(column): self.init(form: .supplied(column: column), offset: false, theta: nil)
        case .poisson, .negativeBinomial, .logistic, .binomial, .betaBinomial:
            return nil
        }
    }
}

extension String {
    /// Without leading and trailing spaces and tabs; the string itself when it has none (no copy).
    var trimmingSpaces: String {
        let u = utf8
        guard let first = u.first, let last = u.last else { return self }
        func blank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }
        guard blank(first) || blank(last) else { return self }
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return String(s)
    }
}
