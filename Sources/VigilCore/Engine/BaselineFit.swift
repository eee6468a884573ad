import Foundation
import VigilThreads
import VigilStats

/// Fits a model's `poisson`, `negative_binomial` or `logistic` expectation on its baseline rows across all
/// facilities, with the statistical core's GLMs, and turns the estimates into a predictor for new records.
enum BaselineFit {
    /// The baseline's rows, one array per field: the fit takes its response, offset and weights whole, and
    /// reading a row's number never copies (retains) its covariates.
    struct Rows {
        private(set) var y: [Double] = []
        private(set) var exposure: [Double?] = []
        /// n of events out of trials (proportion models).
        private(set) var trials: [Double?] = []
        private(set) var covariates: [Covariates] = []
        /// Rows with the same group have the same covariates (an interned covariate set), read once.
        private(set) var group: [Int32?] = []
        /// The period's first day (the patient's day): what seasonal terms read.
        private(set) var day: [Int] = []

        var count: Int { y.count }
        var isEmpty: Bool { y.isEmpty }

        mutating func append(y: Double, exposure: Double?, trials: Double? = nil, covariates: Covariates, group: Int32? = nil,
                             day: Int = 0) {
            self.y.append(y)
            self.exposure.append(exposure)
            self.trials.append(trials)
            self.covariates.append(covariates)
            self.group.append(group)
            self.day.append(day)
        }
    }

    /// Why a baseline leaves its model unfitted.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The expectation and what the fit gave, or a `Failure` when the baseline cannot give a usable
    /// expectation: no rows, no events (or only events), a fit that fails or is not finite.
    static func fit(_ spec: ExpectedSpec, family: GLMFit.FamilyKind, rows: Rows, model: String) throws -> (Expectation, FitSummary) {
        let clock = Stopwatch()
        guard !rows.isEmpty else {
            throw Failure(description: "model \(model): no records in the baseline window, nothing to fit")
        }
        let n = rows.count
        let y = rows.y
        let events = y.reduce(0, +)
        guard events > 0 else {
            throw Failure(description: "model \(model): the baseline has no events (\(n) rows, 0 events): there is no rate to expect; "
                + "the model starts when the baseline has events")
        }
        let proportion = spec.kind.isProportion
        let weights: [Double]? = proportion ? rows.trials.map { $0 ?? 1 } : nil
        if proportion, events == weights?.reduce(0, +) {
            throw Failure(description: "model \(model): every trial of the \(n) baseline periods was an event: there is no proportion to estimate")
        }
        if family == .binomial, !proportion, events == Double(n) {
            throw Failure(description: "model \(model): every one of the \(n) baseline patients had the outcome: there is no risk to estimate")
        }
        var offset: [Double]? = nil
        if spec.offset {
            offset = rows.exposure.map { Foundation.log($0 ?? 1) }
        }
        // Each distinct covariate set is read once; `distinctOf[i]` is row i's.
        var firstRows: [Int] = []
        var distinctOf = [Int](repeating: 0, count: n)
        var seen: [Int32: Int] = [:]
        for (i, group) in rows.group.enumerated() {
            if let group, let d = seen[group] {
                distinctOf[i] = d
                continue
            }
            if let group { seen[group] = firstRows.count }
            distinctOf[i] = firstRows.count
            firstRows.append(i)
        }
        var covariates: [DesignMatrix.Covariate] = []
        var numeric: [String: Bool] = [:]
        var levels: [(name: String, ofSet: [String])] = []   // each categorical covariate's level per distinct set
        for name in spec.covariates {
            let values = firstRows.map { rows.covariates[$0][name]?.trimmingSpaces ?? "" }
            let numbers = values.map { Double($0) }
            if spec.references[name] == nil, numbers.allSatisfy({ $0?.isFinite == true }) {
                covariates.append(.numeric(name: name, values: distinctOf.map { numbers[$0] ?? 0 }))
                numeric[name] = true
            } else {
                covariates.append(.categorical(name: name, values: distinctOf.map { values[$0] }, reference: spec.references[name]))
                numeric[name] = false
                levels.append((name, values))
            }
        }
        // Serfling terms after the covariates, as R's `y ~ … + sin(2*pi*u) + cos(2*pi*u)`.
        var seasonalValues: [String: [Double]] = [:]
        for name in Seasonal.names(harmonics: spec.harmonics) {
            guard let term = Seasonal.term(name) else { continue }
            let values = rows.day.map { Seasonal.value(k: term.k, sine: term.sine, day: $0) }
            seasonalValues[name] = values
            covariates.append(.numeric(name: name, values: values))
        }
        let design: DesignMatrix
        do {
            design = try DesignMatrix(rowCount: n, covariates: covariates)
        } catch let error as DesignMatrix.BuildError {
            throw Failure(description: "model \(model): baseline fit: \(error.description)")
        }
        let fit: GLMFit
        do {
            let response = weights.map { n in zip(y, n).map { $0 / $1 } } ?? y
            var control = GLMControl()
            control.fitsNullModel = false   // nothing here reports it, and with an offset it is a second fit
            fit = try GLM.fit(GLMProblem(response: response, offset: offset, weights: weights, design: design), family: family,
                              control: control)
        } catch {
            throw Failure(description: "model \(model): baseline fit failed: \(error)")
        }
        let warnings = fit.warnings + levelsWithoutEvents(levels, distinctOf: distinctOf, sets: firstRows.count, y: y,
                                                          binomial: family == .binomial && !proportion)
        var estimate: [String: Double] = [:]
        for c in fit.coefficients { estimate[c.name] = c.estimate ?? 0 }   // aliased: 0, as R's predict
        var terms: [LinearPredictor.Term] = []
        for name in spec.covariates {
            if numeric[name] == true {
                terms.append(.linear(name, estimate[name] ?? 0))
            } else {
                let prefix = "\(name)["
                var table: [String: Double] = [:]
                for (n, ofSet) in levels where n == name {
                    for level in Set(ofSet) { table[level] = estimate["\(prefix)\(level)]"] ?? 0 }
                }
                terms.append(.levels(name, table))
            }
        }
        let seasonal = Seasonal.names(harmonics: spec.harmonics).compactMap { name in
            Seasonal.term(name).map { (k: $0.k, sine: $0.sine, beta: estimate[name] ?? 0) }
        }
        let predictor = LinearPredictor(intercept: estimate["intercept"] ?? 0, terms: terms, seasonal: seasonal)
        var expectation = Expectation(form: .linear(predictor, logit: family.isProportion), offset: spec.offset,
                                      theta: family == .negbin ? fit.theta : nil)
        expectation.proportion = proportion
        expectation.rho = fit.rho
        let seconds = clock.elapsed
        var summary = FitSummary(family: family, coefficients: fit.coefficients, theta: fit.theta, warnings: warnings,
                                 baselineRows: n, baselineEvents: events, seconds: seconds)
        summary.rho = fit.rho
        return (expectation, summary)
    }

    /// Levels of categorical covariates whose baseline rows have no events (or, for patients, only events):
    /// their coefficient runs off to ∓∞ and their expectation to ~0 (or 1), as in R, which does not warn.
    /// Rows and events are counted per distinct covariate set (`distinctOf[i]` is row i's), then per level.
    static func levelsWithoutEvents(_ levels: [(name: String, ofSet: [String])], distinctOf: [Int], sets: Int, y: [Double],
                                    binomial: Bool) -> [String] {
        guard !levels.isEmpty else { return [] }
        var setRows = [Int](repeating: 0, count: sets), setEvents = [Double](repeating: 0, count: sets)
        for (d, outcome) in zip(distinctOf, y) {
            setRows[d] += 1
            setEvents[d] += outcome
        }
        var warnings: [String] = []
        for (name, ofSet) in levels {
            var rows: [String: Int] = [:], events: [String: Double] = [:]
            for (d, level) in ofSet.enumerated() {
                rows[level, default: 0] += setRows[d]
                events[level, default: 0] += setEvents[d]
            }
            let none = rows.keys.filter { events[$0, default: 0] == 0 }.sorted()
            if !none.isEmpty {
                warnings.append("\(name): no events in the baseline at level\(none.count == 1 ? "" : "s") \(none.joined(separator: ", ")): "
                    + "expected counts there are near 0, so any event there looks extreme (consider alert.min_expected)")
            }
            if binomial {
                let all = rows.keys.filter { events[$0, default: 0] == Double(rows[$0, default: 0]) }.sorted()
                if !all.isEmpty {
                    warnings.append("\(name): every baseline patient at level\(all.count == 1 ? "" : "s") \(all.joined(separator: ", ")) had the outcome: "
                        + "predicted risks there are near 1")
                }
            }
        }
        return warnings
    }
}
