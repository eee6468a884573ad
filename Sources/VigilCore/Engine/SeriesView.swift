import Foundation
import VigilStats

/// What evaluating a series reads of the engine, as a value: the models, their facts per covariate set and
/// the stored series (arrays shared with the engine until it next writes them). Evaluation and refits run
/// on all cores over a view while the engine goes on deciding alerts.
struct SeriesView: Sendable {
    let models: [ModelRuntime]
    let facts: [TupleFacts]
    let hot: [Engine.HotModel]
    let covariates: [Covariates]
    let counts: [String: StoredSeries<CountSeries>]
    let patients: [String: StoredSeries<Engine.PatientSeries>]
    let thresholdCache: SeriesThresholds
    let facilities: FacilityRegistry?

    /// One series to evaluate: model `model` over the facility in `slot` of its measure's store.
    struct SeriesJob: Sendable {
        let model: Int
        let slot: Int
    }

    func slotsInFacilityOrder(of m: Int) -> [Int] {
        let config = models[m].config
        return (config.isPatientLevel ? patients[config.measure]?.slotsInFacilityOrder
                                      : counts[config.measure]?.slotsInFacilityOrder) ?? []
    }

    /// (Jobs are made from the stores' own slots: the lookups below always find them.)
    func facility(of job: SeriesJob) -> String {
        let config = models[job.model].config
        return (config.isPatientLevel ? patients[config.measure]?.facilities[job.slot] : counts[config.measure]?.facilities[job.slot]) ?? ""
    }

    /// The facility's patient records of a model's measure in time order (arrival order among equal times).
    func orderedPatients(_ job: SeriesJob) -> [PatientRecord] {
        let config = models[job.model].config
        return (patients[config.measure]?.series[job.slot].entries ?? []).sorted {
            $0.record.time.instant != $1.record.time.instant ? $0.record.time.instant < $1.record.time.instant : $0.arrival < $1.arrival
        }.map(\.record)
    }

    func countSeries(_ job: SeriesJob) -> CountSeries {
        counts[models[job.model].config.measure]?.series[job.slot] ?? CountSeries()
    }

    /// The records of one model period: those written in a finer unit (dates in a monthly model) summed,
    /// covariates of the latest. `exposure` is NaN when a record in it has none.
    struct Bucket {
        let period: Period
        var events: Int
        var exposure: Double
        var tuple: Int32
        /// Σ of the records' trials; −1 when a record in it has none.
        var trials: Int
        /// Σ of the records' factors when the caller asked for them (`supplied` E is per record).
        var factorSum = 0.0
    }

    @inline(__always)
    static func forEachBucket(_ series: CountSeries, unit: PeriodUnit, summing factors: [Double]? = nil, _ body: (Bucket) -> Void) {
        let records = series.records
        var i = 0
        while i < records.count {
            guard let p = records[i].period.bucketed(into: unit) else { i += 1; continue }
            var bucket = Bucket(period: p, events: records[i].events, exposure: records[i].exposure, tuple: records[i].tuple,
                                trials: Int(records[i].trials))
            if let factors { bucket.factorSum = factors[Int(records[i].tuple)] }
            i += 1
            while i < records.count {
                guard let q = records[i].period.bucketed(into: unit) else { i += 1; continue }
                guard q == p else { break }
                bucket.events += records[i].events
                bucket.exposure += records[i].exposure
                bucket.trials = bucket.trials < 0 || records[i].trials < 0 ? -1 : bucket.trials + Int(records[i].trials)
                bucket.tuple = records[i].tuple
                if let factors { bucket.factorSum += factors[Int(records[i].tuple)] }
                i += 1
            }
            body(bucket)
        }
    }

    /// What a monitored observation is called in the trace and in alerts.
    enum Label: Sendable {
        case period(Period)
        case patient(time: String, episode: String?)

        var text: String {
            switch self {
            case let .period(p): p.description
            case let .patient(time, episode): episode.map { "\(time)#\($0)" } ?? time
            }
        }
    }

    /// One monitored observation of a series.
    struct Observation: Sendable {
        let label: Label
        let position: Int          // period ordinal, or patient number
        let observed: Int
        let input: DetectorInput
    }

    /// A series' evaluation: its observations, each detector's steps over them, and the alerts raised.
    struct SeriesResult: Sendable {
        var facility = ""
        var observations: [Observation] = []
        var steps: [[DetectorStep]] = []
        var alerts: [Alert] = []
        /// Ids of signals kept back by `alert.min_expected`.
        var suppressed: [String] = []
    }

    /// Runs every detector of a model over one facility's series.
    func evaluate(_ job: SeriesJob, now: Date) -> SeriesResult {
        let m = job.model
        let model = models[m]
        let config = model.config
        var result = SeriesResult(facility: facility(of: job))
        guard let expectation = model.expectation else { return result }
        let after = config.expected.baseline?.to
        // What the series' own thresholds need: its baseline E (counts) or risk mix (patients).
        let perSeries = config.detectors.contains(where: \.perSeries)
        var baselineSum = 0.0, baselineCount = 0, baselineTrials = 0.0
        var baselineRisks: [Double] = []
        if config.isPatientLevel {
            var n = 0
            for r in orderedPatients(job) {
                if let after, r.time.day <= after.ordinal {
                    if perSeries, config.selects(r.covariates),
                       case let .success(p) = expectation.value(covariates: r.covariates, exposure: nil, day: r.time.day) {
                        baselineRisks.append(p)
                    }
                    continue
                }
                if !config.select.isEmpty && !config.selects(r.covariates) { continue }
                guard case let .success(p) = expectation.value(covariates: r.covariates, exposure: nil, day: r.time.day) else { continue }
                n += 1
                result.observations.append(Observation(label: .patient(time: r.time.text, episode: r.episode), position: n,
                                                       observed: r.outcome ? 1 : 0, input: .patient(outcome: r.outcome, risk: p)))
            }
        } else {
            let facts = facts[m]
            let seasonal = expectation.isSeasonal
            let selecting = !config.select.isEmpty
            let series = countSeries(job)
            result.observations.reserveCapacity(series.records.count)
            let perRecord = expectation.isPerRecord
            Self.forEachBucket(series, unit: config.unit, summing: perRecord ? facts.factor : nil) { b in
                let inBaseline = after.map { b.period <= $0 } ?? false
                if inBaseline && !perSeries { return }
                if selecting && !facts.selected[Int(b.tuple)] { return }
                var factor = perRecord ? b.factorSum : facts.factor[Int(b.tuple)]
                if seasonal { factor = expectation.seasonal(factor, day: b.period.firstDay) }
                let trials = b.trials < 0 ? nil : Double(b.trials)
                guard !factor.isNaN, let e = expectation.expected(factor: factor, exposure: b.exposure.isNaN ? nil : b.exposure, trials: trials),
                      e.isFinite else { return }
                // A proportion out of no trials is no observation.
                if expectation.proportion && b.trials < 1 { return }
                if inBaseline {
                    baselineSum += e
                    baselineCount += 1
                    baselineTrials += trials ?? 0
                    return
                }
                result.observations.append(Observation(label: .period(b.period), position: b.period.ordinal, observed: b.events,
                                                       input: expectation.input(observed: Double(b.events), expected: e, trials: trials ?? 0)))
            }
        }
        let observations = result.observations
        // Series thresholds (METHODS.md): at the mean E of the baseline periods; a series without baseline rows
        // keeps the model's threshold for its first 12 monitored periods and takes its own, at their mean E,
        // from the 13th on, so the past never changes as periods arrive.
        var thresholds = model.thresholds
        var switchAt: Int? = nil
        var own: [Int: Double] = [:]
        if perSeries {
            // (A patient series without baseline patients keeps the model's threshold.)
            var seriesE: Double? = nil, seriesTrials: Double? = nil
            if !config.isPatientLevel && baselineCount > 0 {
                seriesE = baselineSum / Double(baselineCount)
                seriesTrials = baselineTrials / Double(baselineCount)
            } else if !config.isPatientLevel && observations.count >= 12 {
                seriesE = observations.prefix(12).reduce(0) { $0 + $1.input.expected } / 12
                seriesTrials = observations.prefix(12).reduce(0) { $0 + $1.input.trials } / 12
                switchAt = 12
            }
            let years = config.expected.baseline.map { Double($0.to.ordinal - $0.from.ordinal + 1) / 365.25 } ?? 1
            for d in config.detectors.indices {
                guard let target = model.seriesTarget(d, patientsPerYear: Double(baselineRisks.count) / years),
                      let h = thresholdCache.threshold(model: m, model, detector: d, expected: seriesE,
                                                       trials: expectation.proportion ? seriesTrials : nil, risks: baselineRisks,
                                                       target: target) else { continue }
                if switchAt == nil || thresholds[d] == nil { thresholds[d] = h } else { own[d] = h }
            }
        }
        guard let fresh = model.makeDetectors(thresholds: thresholds) else {
            result.observations = []
            return result
        }
        let facility = result.facility
        let patient = config.isPatientLevel
        for (d, spec) in config.detectors.enumerated() {
            var detector = fresh[d]
            var steps: [DetectorStep] = []
            steps.reserveCapacity(observations.count)
            var lastAlert: Int? = nil
            for i in observations.indices {
                if i == switchAt, let h = own[d] { detector.setThreshold(h) }
                let step = detector.update(observations[i].input)
                steps.append(step)
                guard step.signal else { continue }
                let o = observations[i]   // a copy (its label's strings retained) only where a signal needs it
                if let lastAlert, o.position - lastAlert <= config.alert.cooldown { continue }
                let start = min(step.runStart - 1, i)
                var runObserved = 0
                var runExpected = 0.0
                if patient {
                    for j in start...i { runObserved += observations[j].observed; runExpected += observations[j].input.expected }
                }
                let period = o.label.text
                let id = Alert.id(model: config.name, detector: spec.id, facility: facility, measure: config.measure, period: period)
                // Below min_expected the signal stands (trace, reset) but raises no alert and starts no cooldown.
                guard (patient ? runExpected : o.input.expected) >= config.alert.minExpected else {
                    result.suppressed.append(id)
                    continue
                }
                lastAlert = o.position
                var alert = Alert(
                    id: id,
                    status: .firing, model: config.name, modelVersion: config.version, detector: spec.id,
                    detectorType: spec.typeName, facility: facility, measure: config.measure, period: period,
                    signalStart: observations[start].label.text,
                    observed: patient ? runObserved : o.observed, expected: patient ? runExpected : o.input.expected,
                    statistic: step.statistic, threshold: step.threshold, severity: config.alert.severity, raisedAt: now,
                    patients: patient ? i - start + 1 : nil)
                if !patient && expectation.proportion { alert.trials = Int(o.input.trials) }
                alert.facilityLabels = facilities?[facility]
                result.alerts.append(alert)
            }
            result.steps.append(steps)
        }
        return result
    }
}
