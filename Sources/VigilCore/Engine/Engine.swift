import Foundation
import VigilStats

/// One row of the trace (SPEC §5): a detector's value after one record's update.
public struct TraceRow: Sendable, Equatable {
    public let model: String
    public let detector: String
    public let facility: String
    public let measure: String
    public let period: String
    public let observed: Int
    public let expected: Double
    public let statistic: Double
    public let threshold: Double
    public let signal: Bool
}

/// What one batch did: how many records were taken, the rejected rows, and the alert events it caused
/// (new signals `firing`, withdrawn ones `resolved`).
public struct BatchOutcome: Sendable {
    public var accepted = 0
    public var rejected: [RowError] = []
    public var events: [Alert] = []
}

/// The surveillance engine shared by the daemon and `vigil replay`: records in, expected values and
/// detector statistics per facility series, alert decisions out (SPEC §1–§3).
///
/// The state is the latest record per key — (facility, measure, period) for counts, the episode for
/// patients — and every series is evaluated from that state in period order, so the same records in any
/// arrival order give the same final state, trace and alert ids. A batch re-evaluates only the series it
/// touched; a record inside a model's baseline window refits the model and re-evaluates all its series.
public final class Engine {
    public private(set) var models: [ModelRuntime]
    private let routes: [String: [Int]]
    private var aggregates: [String: [String: [Period: AggregateRecord]]] = [:]
    private var patients: [String: [String: PatientSeries]] = [:]
    private var arrivals = 0
    private var firing: [SeriesID: [String: Alert]] = [:]

    struct SeriesID: Hashable {
        let model: Int
        let facility: String
    }

    /// A facility's patient records of one measure, in arrival order, a repeated episode replacing the earlier.
    struct PatientSeries {
        var entries: [(arrival: Int, record: PatientRecord)] = []
        var episodes: [String: Int] = [:]
    }

    public init(models configs: [ModelConfig]) {
        var routes: [String: [Int]] = [:]
        for (i, c) in configs.enumerated() { routes[c.measure, default: []].append(i) }
        self.routes = routes
        self.models = configs.map(ModelRuntime.init(config:))
        for i in models.indices where models[i].config.expected.baseline == nil {
            models[i].calibrate(baselineExpected: [])
        }
        for i in models.indices where models[i].config.expected.kind.family != nil {
            models[i].problem = "model \(models[i].config.name): no records in the baseline window yet, nothing fitted"
        }
    }

    /// Models that take this record: its measure's models whose `select` it satisfies.
    func models(for record: Record) -> [Int] {
        (routes[record.measure] ?? []).filter { models[$0].config.selects(record.covariates) }
    }

    /// Alerts currently firing, sorted by id.
    public var firingAlerts: [Alert] { firing.values.flatMap(\.values).sorted { $0.id < $1.id } }

    // MARK: Ingest

    /// Applies a batch: checks and stores each record (a rejected one changes nothing), refits models whose
    /// baseline changed, re-evaluates the touched series and returns the alert events.
    public func apply(_ batch: [Record], now: Date = Date()) -> BatchOutcome {
        var outcome = BatchOutcome()
        var dirty: [Int: Set<String>] = [:]
        var refit: Set<Int> = []
        for record in batch {
            if let error = check(record) {
                outcome.rejected.append(error)
                continue
            }
            outcome.accepted += 1
            arrivals += 1
            for m in models(for: record) {
                dirty[m, default: []].insert(record.facility)
                if inBaseline(record, model: m) { refit.insert(m) }
            }
            switch record {
            case let .aggregate(r):
                aggregates[r.measure, default: [:]][r.facility, default: [:]][r.period] = r
            case let .patient(r):
                var series = patients[r.measure, default: [:]][r.facility] ?? PatientSeries()
                if let episode = r.episode, let at = series.episodes[episode] {
                    series.entries[at] = (arrivals, r)
                } else {
                    if let episode = r.episode { series.episodes[episode] = series.entries.count }
                    series.entries.append((arrivals, r))
                }
                patients[r.measure, default: [:]][r.facility] = series
            }
        }
        for m in refit.sorted() {
            prepare(model: m)
            dirty[m] = Set(facilities(of: m))
        }
        for m in dirty.keys.sorted() {
            for facility in dirty[m, default: []].sorted() {
                let id = SeriesID(model: m, facility: facility)
                let fresh = evaluate(model: m, facility: facility, now: now, trace: nil)
                var current = firing[id] ?? [:]
                let freshIDs = Set(fresh.map(\.id))
                for alert in fresh {
                    if let held = current[alert.id] {
                        // Still signalling: keep when it was raised, take the revised numbers (no new event).
                        var updated = alert
                        updated.raisedAt = held.raisedAt
                        current[alert.id] = updated
                    } else {
                        current[alert.id] = alert
                        outcome.events.append(alert)
                    }
                }
                for (key, alert) in current.sorted(by: { $0.key < $1.key }) where !freshIDs.contains(key) {
                    var resolved = alert
                    resolved.status = .resolved
                    current[key] = nil
                    outcome.events.append(resolved)
                }
                firing[id] = current.isEmpty ? nil : current
            }
        }
        return outcome
    }

    /// Why a record cannot be taken, or nil: it must suit every model that watches its measure.
    public func check(_ record: Record) -> RowError? {
        let origin = record.origin
        func reject(_ field: String?, _ reason: String) -> RowError {
            RowError(source: origin.source, line: origin.line, field: field, reason: reason)
        }
        for m in models(for: record) {
            let model = models[m]
            let config = model.config
            switch record {
            case let .aggregate(r):
                if config.isPatientLevel {
                    return reject(nil, "an aggregate record, but \(r.measure) is watched by patient-level model \(config.name)")
                }
                guard let bucket = r.period.bucketed(into: config.unit) else {
                    return reject("period", "\"\(r.period)\" is a \(r.period.unit.rawValue); model \(config.name) counts by \(config.unit.rawValue)")
                }
                if model.needsExposure && r.exposure == nil {
                    return reject("exposure", "missing; model \(config.name) needs it (E is proportional to exposure)")
                }
                if let problem = covariateProblem(model, r.covariates, strict: !inBaseline(bucket, config)) {
                    return reject(problem.field, "\(problem.reason) (model \(config.name))")
                }
            case let .patient(r):
                if !config.isPatientLevel {
                    return reject(nil, "a patient-level record, but \(r.measure) is watched by aggregate model \(config.name)")
                }
                let day = Period(unit: .day, ordinal: r.time.day)
                if let problem = covariateProblem(model, r.covariates, strict: !inBaseline(day, config)) {
                    return reject(problem.field, "\(problem.reason) (model \(config.name))")
                }
            }
        }
        return nil
    }

    /// Presence of every needed covariate; with `strict`, also that the expectation can be computed (levels
    /// known to the fit, numbers that parse, bounds that can be tested).
    private func covariateProblem(_ model: ModelRuntime, _ covariates: Covariates, strict: Bool) -> FieldProblem? {
        for name in model.neededCovariates where covariates[name] == nil {
            return FieldProblem(field: name, reason: "missing; the model needs it")
        }
        guard strict, let expectation = model.expectation, case let .linear(predictor, _) = expectation.form else { return nil }
        if case let .failure(problem) = predictor.eta(covariates) { return problem }
        return nil
    }

    private func inBaseline(_ record: Record, model m: Int) -> Bool {
        let config = models[m].config
        switch record {
        case let .aggregate(r): return r.period.bucketed(into: config.unit).map { inBaseline($0, config) } ?? false
        case let .patient(r): return inBaseline(Period(unit: .day, ordinal: r.time.day), config)
        }
    }

    private func inBaseline(_ p: Period, _ config: ModelConfig) -> Bool {
        config.expected.baseline?.contains(p) ?? false
    }

    private func facilities(of m: Int) -> [String] {
        let measure = models[m].config.measure
        return models[m].config.isPatientLevel ? Array((patients[measure] ?? [:]).keys) : Array((aggregates[measure] ?? [:]).keys)
    }

    // MARK: Baseline

    /// Fits a fitted expectation on the baseline rows across all facilities, then calibrates `arl0:` thresholds
    /// at the baseline's expectations.
    private func prepare(model m: Int) {
        let config = models[m].config
        models[m].problem = nil
        var rows: [BaselineFit.Row] = []
        for facility in facilities(of: m).sorted() {
            if config.isPatientLevel {
                for entry in orderedPatients(config.measure, facility)
                where inBaseline(Period(unit: .day, ordinal: entry.record.time.day), config) && config.selects(entry.record.covariates) {
                    rows.append(.init(y: entry.record.outcome ? 1 : 0, exposure: nil, covariates: entry.record.covariates))
                }
            } else {
                for bucket in buckets(config, facility) where inBaseline(bucket.period, config) && config.selects(bucket.covariates) {
                    rows.append(.init(y: Double(bucket.events), exposure: bucket.exposure, covariates: bucket.covariates))
                }
            }
        }
        if let family = config.expected.kind.family {
            do {
                models[m].expectation = try BaselineFit.fit(config.expected, family: family, rows: rows, model: config.name)
            } catch {
                models[m].expectation = nil
                models[m].problem = "\(error)"
                return
            }
        }
        guard let expectation = models[m].expectation else { return }
        let baselineExpected = rows.compactMap { try? expectation.value(covariates: $0.covariates, exposure: $0.exposure).get() }
        models[m].calibrate(baselineExpected: baselineExpected)
    }

    // MARK: Evaluation

    struct Bucket {
        let period: Period
        var events: Int
        var exposure: Double?
        var covariates: Covariates
    }

    /// A facility's records of a model's measure in the model's unit: records written in a finer unit (dates
    /// in a monthly model) are summed into their period; covariates are those of the latest record in it.
    func buckets(_ config: ModelConfig, _ facility: String) -> [Bucket] {
        guard let records = aggregates[config.measure]?[facility] else { return [] }
        var out: [Bucket] = []
        out.reserveCapacity(records.count)
        for (written, r) in records.sorted(by: { $0.key < $1.key }) {
            guard let p = written.bucketed(into: config.unit) else { continue }
            if let last = out.last, last.period == p {
                out[out.count - 1].events += r.events
                out[out.count - 1].exposure = last.exposure.flatMap { e in r.exposure.map { e + $0 } }
                out[out.count - 1].covariates = r.covariates
            } else {
                out.append(Bucket(period: p, events: r.events, exposure: r.exposure, covariates: r.covariates))
            }
        }
        return out
    }

    func orderedPatients(_ measure: String, _ facility: String) -> [(arrival: Int, record: PatientRecord)] {
        (patients[measure]?[facility]?.entries ?? []).sorted {
            $0.record.time.instant != $1.record.time.instant ? $0.record.time.instant < $1.record.time.instant : $0.arrival < $1.arrival
        }
    }

    /// One monitored observation of a series.
    struct Observation {
        let label: String
        let position: Int          // period ordinal, or patient number
        let observed: Int
        let input: DetectorInput
    }

    /// Runs every detector of model `m` over one facility's series and returns the alerts it raises; each
    /// update goes to `trace` when given.
    func evaluate(model m: Int, facility: String, now: Date, trace: ((TraceRow) -> Void)?) -> [Alert] {
        let model = models[m]
        let config = model.config
        guard let expectation = model.expectation, let fresh = model.makeDetectors() else { return [] }
        let after = config.expected.baseline?.to
        var observations: [Observation] = []
        if config.isPatientLevel {
            var n = 0
            for entry in orderedPatients(config.measure, facility) {
                let r = entry.record
                if let after, r.time.day <= after.ordinal { continue }
                if !config.select.isEmpty && !config.selects(r.covariates) { continue }
                guard case let .success(p) = expectation.value(covariates: r.covariates, exposure: nil) else { continue }
                n += 1
                let label = r.episode.map { "\(r.time.text)#\($0)" } ?? r.time.text
                observations.append(Observation(label: label, position: n, observed: r.outcome ? 1 : 0,
                                                input: .patient(outcome: r.outcome, risk: p)))
            }
        } else {
            for b in buckets(config, facility) {
                if let after, b.period <= after { continue }
                if !config.select.isEmpty && !config.selects(b.covariates) { continue }
                guard case let .success(e) = expectation.value(covariates: b.covariates, exposure: b.exposure) else { continue }
                observations.append(Observation(label: b.period.description, position: b.period.ordinal, observed: b.events,
                                                input: expectation.input(observed: Double(b.events), expected: e)))
            }
        }
        var alerts: [Alert] = []
        for (d, spec) in config.detectors.enumerated() {
            var detector = fresh[d]
            var lastAlert: Int? = nil
            for (i, o) in observations.enumerated() {
                let step = detector.update(o.input)
                let start = min(step.runStart - 1, i)
                trace?(TraceRow(model: config.name, detector: spec.id, facility: facility, measure: config.measure,
                                period: o.label, observed: o.observed, expected: o.input.expected,
                                statistic: step.statistic, threshold: step.threshold, signal: step.signal))
                guard step.signal else { continue }
                if let lastAlert, o.position - lastAlert <= config.alert.cooldown { continue }
                lastAlert = o.position
                let patient = config.isPatientLevel
                var runObserved = 0
                var runExpected = 0.0
                if patient {
                    for j in start...i { runObserved += observations[j].observed; runExpected += observations[j].input.expected }
                }
                alerts.append(Alert(
                    id: Alert.id(model: config.name, detector: spec.id, facility: facility, measure: config.measure, period: o.label),
                    status: .firing, model: config.name, modelVersion: config.version, detector: spec.id,
                    detectorType: spec.kind.rawValue, facility: facility, measure: config.measure, period: o.label,
                    signalStart: observations[start].label,
                    observed: patient ? runObserved : o.observed, expected: patient ? runExpected : o.input.expected,
                    statistic: step.statistic, threshold: step.threshold, severity: config.alert.severity, raisedAt: now,
                    patients: patient ? i - start + 1 : nil))
            }
        }
        return alerts
    }

    /// The trace of the current state: series by model (file order), facility (byte order), detector, period.
    public func trace(_ emit: (TraceRow) -> Void) {
        withoutActuallyEscaping(emit) { emit in
        for m in models.indices {
            for facility in facilities(of: m).sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                _ = evaluate(model: m, facility: facility, now: Date(), trace: emit)
            }
        }
        }
    }
}
