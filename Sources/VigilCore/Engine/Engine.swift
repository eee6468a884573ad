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
    /// Positions (0-based, in the order taken) of the rejected records: the daemon stores all but these.
    public var rejectedPositions: [Int] = []
    /// Records of measures that no model watches (not kept).
    public var unmatched = 0
    public var events: [Alert] = []
    /// Signals newly kept back from alerting by `alert.min_expected`, by model name.
    public var suppressed: [String: Int] = [:]
    /// Rows written to the trace (when one was asked for).
    public var traceRows = 0
}

/// The surveillance engine shared by the daemon and `vigil replay`: records in, expected values and
/// detector statistics per facility series, alert decisions out (SPEC §1–§3).
///
/// The state is the latest record per key — (facility, measure, period) for counts, the episode for
/// patients — and every series is evaluated from that state in period order, so the same records in any
/// arrival order give the same final state, trace and alert ids. A batch re-evaluates only the series it
/// touched; a record inside a model's baseline window refits the model and re-evaluates all its series.
///
/// Counts are kept per facility as period-sorted arrays with their covariates interned, so a model
/// computes its expectation once per distinct covariate set; series are evaluated on all cores.
public final class Engine {
    public private(set) var models: [ModelRuntime]
    /// Told what each step of a batch did and how many seconds it took (`vigil replay --timings`).
    public var timings: ((_ step: String, _ seconds: Double) -> Void)?
    private let routes: [String: [Int]]
    let covariates = CovariateTable()
    private(set) var facts: [TupleFacts]
    private var counts: [String: SeriesStore<CountSeries>] = [:]
    private var patients: [String: SeriesStore<PatientSeries>] = [:]
    /// What the per-record path needs of each model, copied out once (a `ModelRuntime` is large to copy).
    private let hot: [HotModel]
    private var lastMeasure: (measure: String, routes: [Int], store: SeriesStore<CountSeries>?)?
    /// Patient records taken so far: orders patients with equal times.
    private var arrivals = 0
    private var firing: [SeriesID: [String: Alert]] = [:]
    private var suppressedSeen: [SeriesID: Set<String>] = [:]
    private let thresholdCache = SeriesThresholds()

    struct HotModel {
        let unit: PeriodUnit
        let patientLevel: Bool
        let needsExposure: Bool
        let needsTrials: Bool
        let baseline: BaselineWindow?
        /// The model reads seasonal terms from the period: feed columns named sin1, cos1, … are refused.
        let seasonal: Bool

        init(_ model: ModelRuntime) {
            unit = model.config.unit
            patientLevel = model.config.isPatientLevel
            needsExposure = model.needsExposure
            needsTrials = model.needsTrials
            baseline = model.config.expected.baseline
            seasonal = model.config.expected.harmonics > 0 || (Expectation(stated: model.config.expected)?.isSeasonal ?? false)
        }

        func inBaseline(_ p: Period) -> Bool { baseline?.contains(p) ?? false }
    }

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
        let runtimes = configs.map(ModelRuntime.init(config:))
        self.models = runtimes
        self.facts = Array(repeating: TupleFacts(), count: configs.count)
        self.hot = runtimes.map(HotModel.init)
        for i in models.indices where models[i].config.expected.baseline == nil {
            // A `mean` model's E is known without data; other unfitted kinds calibrate at arl_expected.
            if case let .mean(e) = models[i].config.expected.kind {
                models[i].calibrate(baselineExpected: [e])
            } else {
                models[i].calibrate(baselineExpected: [])
            }
        }
        for i in models.indices where models[i].config.expected.kind.family != nil {
            models[i].problem = "model \(models[i].config.name): no records in the baseline window yet, nothing fitted"
        }
    }

    /// Alerts currently firing, sorted by id.
    public var firingAlerts: [Alert] { firing.values.flatMap(\.values).sorted { $0.id < $1.id } }

    /// Gives firing alerts the time they were first raised (the daemon's stored alerts, after a restart
    /// rebuilt the engine), so a later `resolved` event carries it.
    public func adoptRaisedAt(_ raised: [String: Date]) {
        for (series, alerts) in firing {
            for id in alerts.keys { if let at = raised[id] { firing[series]?[id]?.raisedAt = at } }
        }
    }

    // MARK: Ingest

    /// Applies a batch: checks and stores each record (a rejected one changes nothing), refits models whose
    /// baseline changed, re-evaluates the touched series and returns the alert events.
    public func apply(_ batch: [Record], now: Date = Date()) -> BatchOutcome {
        apply(now: now) { take in batch.forEach(take) }
    }

    /// Applies the records that `records` hands to its argument, one at a time (a file is read straight into
    /// the engine, never held as a whole). With `trace`, every series is evaluated — not only the touched
    /// ones — and the trace of the resulting state (SPEC §5, without its header) is written there.
    public func apply(now: Date = Date(), trace: LineWriter? = nil,
                      records: (_ take: (Record) -> Void) throws -> Void) rethrows -> BatchOutcome {
        var clock = Stopwatch()
        var outcome = BatchOutcome()
        var dirty = Array(repeating: DirtySlots(), count: models.count)
        var refit: Set<Int> = []
        var position = 0
        try records { record in
            switch take(record, dirty: &dirty, refit: &refit) {
            case .accepted: outcome.accepted += 1
            case .unmatched: outcome.unmatched += 1
            case let .rejected(error):
                outcome.rejected.append(error)
                outcome.rejectedPositions.append(position)
            }
            position += 1
        }
        timings?("read and checked \(outcome.accepted + outcome.rejected.count + outcome.unmatched) records", clock.lap())
        let refitting = refit.sorted()
        if !refitting.isEmpty {
            // Models fit side by side; each fit also splits its rows over the cores.
            let engine = UncheckedBox(self)
            let refitted = Parallel.map(refitting) { engine.value.refitted(model: $0) }
            for (m, runtime) in zip(refitting, refitted) {
                models[m] = runtime
                facts[m].expectationChanged()
            }
            timings?("fitted \(refitting.count) model\(refitting.count == 1 ? "" : "s")", clock.lap())
        }
        // Every batch ends with the facts of every covariate set, which evaluation reads from all cores.
        for m in models.indices { facts[m].extend(models[m], covariates) }
        var jobs: [SeriesJob] = []
        for m in models.indices {
            let all = trace != nil || refit.contains(m)
            for slot in slotsInFacilityOrder(of: m) where all || dirty[m].contains(slot) {
                jobs.append(SeriesJob(model: m, slot: slot))
            }
        }
        let format: TraceFormat? = trace.map { _ in TraceFormat(models: models) }
        evaluate(jobs, now: now, format: format) { job, result, text in
            if let text {
                trace?.write(bytes: text)
                outcome.traceRows += result.steps.reduce(0) { $0 + $1.count }
            }
            diff(job, result.alerts, into: &outcome.events)
            if !result.suppressed.isEmpty { countSuppressed(job, result.suppressed, into: &outcome.suppressed) }
        }
        let solving = timings == nil ? SeriesThresholds.Work() : thresholdCache.cost
        timings?("evaluated \(jobs.count) series" + (trace == nil ? "" : ", wrote \(outcome.traceRows) trace rows")
                 + (solving.levels == 0 ? "" : " (per-series thresholds: \(solving.levels) levels of E, \(solving.nodes) solved "
                    + "from scratch, \(String(format: "%.2f", solving.seconds)) s of solving on all workers)"), clock.lap())
        return outcome
    }

    /// Folds a series' fresh alerts into those firing: new ones are events, held ones keep when they were
    /// raised and take the revised numbers (no event), missing ones are `resolved` events.
    private func diff(_ job: SeriesJob, _ fresh: [Alert], into events: inout [Alert]) {
        let id = SeriesID(model: job.model, facility: facility(of: job))
        if fresh.isEmpty && firing[id] == nil { return }
        var current = firing[id] ?? [:]
        let freshIDs = Set(fresh.map(\.id))
        for alert in fresh {
            if let held = current[alert.id] {
                var updated = alert
                updated.raisedAt = held.raisedAt
                current[alert.id] = updated
            } else {
                current[alert.id] = alert
                events.append(alert)
            }
        }
        for (key, alert) in current.sorted(by: { $0.key < $1.key }) where !freshIDs.contains(key) {
            var resolved = alert
            resolved.status = .resolved
            current[key] = nil
            events.append(resolved)
        }
        firing[id] = current.isEmpty ? nil : current
    }

    /// Counts the suppressed signals of a series not seen before (a series is evaluated again on every batch
    /// that touches it).
    private func countSuppressed(_ job: SeriesJob, _ ids: [String], into counts: inout [String: Int]) {
        let id = SeriesID(model: job.model, facility: facility(of: job))
        var seen = suppressedSeen[id] ?? []
        for alert in ids where seen.insert(alert).inserted { counts[models[job.model].config.name, default: 0] += 1 }
        suppressedSeen[id] = seen
    }

    private enum Taken {
        case accepted, unmatched
        case rejected(RowError)
    }

    /// Checks a record against every model that takes it and stores it; a rejected record changes nothing.
    private func take(_ record: Record, dirty: inout [DirtySlots], refit: inout Set<Int>) -> Taken {
        let routed: [Int]
        if let last = lastMeasure, last.measure == record.measure { routed = last.routes } else {
            routed = routes[record.measure] ?? []
            lastMeasure = (record.measure, routed, counts[record.measure])
        }
        if routed.isEmpty { return .unmatched }
        switch record {
        case let .aggregate(r):
            let store = lastMeasure?.store ?? {
                let store = SeriesStore(empty: CountSeries())
                counts[r.measure] = store
                lastMeasure = (r.measure, routed, store)
                return store
            }()
            let slot = store.slot(r.facility)
            let tuple = covariates.id(of: r.covariates, hint: store.series[slot].records.last?.tuple)
            for m in routed {
                if facts[m].count <= Int(tuple) { facts[m].extend(models[m], covariates) }
                guard facts[m].selected[Int(tuple)] else { continue }
                if let error = check(r, tuple: tuple, model: m) { return .rejected(error) }
            }
            store.series[slot].put(StoredCount(period: r.period, events: r.events, exposure: r.exposure ?? .nan,
                                               tuple: tuple, trials: r.trials.map { Int32(clamping: $0) } ?? -1))
            for m in routed where facts[m].selected[Int(tuple)] {
                dirty[m].insert(slot)
                if let bucket = r.period.bucketed(into: hot[m].unit), hot[m].inBaseline(bucket) { refit.insert(m) }
            }
        case let .patient(r):
            let taking = routed.filter { models[$0].config.selects(r.covariates) }
            for m in taking {
                if let error = check(r, model: m) { return .rejected(error) }
            }
            let store = patients[r.measure] ?? {
                let store = SeriesStore(empty: PatientSeries())
                patients[r.measure] = store
                return store
            }()
            let slot = store.slot(r.facility)
            arrivals += 1
            if let episode = r.episode, let at = store.series[slot].episodes[episode] {
                store.series[slot].entries[at] = (arrivals, r)
            } else {
                if let episode = r.episode { store.series[slot].episodes[episode] = store.series[slot].entries.count }
                store.series[slot].entries.append((arrivals, r))
            }
            for m in taking {
                dirty[m].insert(slot)
                if hot[m].inBaseline(Period(unit: .day, ordinal: r.time.day)) { refit.insert(m) }
            }
        }
        return .accepted
    }

    /// Why model `m` cannot take an aggregate record, or nil. Outside the baseline window the expectation
    /// must be computable (levels known to the fit, numbers that parse, bounds that can be tested).
    private func check(_ r: AggregateRecord, tuple: Int32, model m: Int) -> RowError? {
        let model = hot[m]
        func reject(_ field: String?, _ reason: String) -> RowError {
            RowError(source: r.origin.source, line: r.origin.line, field: field, reason: reason)
        }
        var name: String { models[m].config.name }
        if model.patientLevel {
            return reject(nil, "an aggregate record, but \(r.measure) is watched by patient-level model \(name)")
        }
        guard let bucket = r.period.bucketed(into: model.unit) else {
            return reject("period", "\"\(r.period)\" is a \(r.period.unit.rawValue); model \(name) counts by \(model.unit.rawValue)")
        }
        if model.needsExposure && r.exposure == nil {
            return reject("exposure", "missing; model \(name) needs it (E is proportional to exposure)")
        }
        if model.needsTrials && r.trials == nil {
            return reject("trials", "missing; model \(name) watches events out of trials")
        }
        if let missing = facts[m].missing[Int(tuple)] {
            return reject(missing, "missing; the model needs it (model \(name))")
        }
        if model.seasonal, let reserved = r.covariates.names.names.first(where: { Seasonal.term($0) != nil }) {
            return reject(reserved, "reserved for model \(name)'s seasonal terms (computed from the period); rename the column")
        }
        if facts[m].factor[Int(tuple)].isNaN, !model.inBaseline(bucket), let problem = Self.expectationProblem(models[m], r.covariates) {
            return reject(problem.field, "\(problem.reason) (model \(name))")
        }
        return nil
    }

    /// Why model `m` cannot take a patient record, or nil.
    private func check(_ r: PatientRecord, model m: Int) -> RowError? {
        let model = models[m]
        let config = model.config
        func reject(_ field: String?, _ reason: String) -> RowError {
            RowError(source: r.origin.source, line: r.origin.line, field: field, reason: reason)
        }
        if !config.isPatientLevel {
            return reject(nil, "a patient-level record, but \(r.measure) is watched by aggregate model \(config.name)")
        }
        if let name = model.missingCovariate(r.covariates) {
            return reject(name, "missing; the model needs it (model \(config.name))")
        }
        if hot[m].seasonal, let reserved = r.covariates.names.names.first(where: { Seasonal.term($0) != nil }) {
            return reject(reserved, "reserved for model \(config.name)'s seasonal terms (computed from the period); rename the column")
        }
        if !hot[m].inBaseline(Period(unit: .day, ordinal: r.time.day)), let problem = Self.expectationProblem(model, r.covariates) {
            return reject(problem.field, "\(problem.reason) (model \(config.name))")
        }
        return nil
    }

    private static func expectationProblem(_ model: ModelRuntime, _ covariates: Covariates) -> FieldProblem? {
        guard let expectation = model.expectation, case let .failure(problem) = expectation.factor(covariates: covariates) else { return nil }
        return problem
    }

    // MARK: Series

    /// One series to evaluate: model `model` over the facility in `slot` of its measure's store.
    struct SeriesJob: Sendable {
        let model: Int
        let slot: Int
    }

    private func slotsInFacilityOrder(of m: Int) -> [Int] {
        let config = models[m].config
        return (config.isPatientLevel ? patients[config.measure]?.slotsInFacilityOrder
                                      : counts[config.measure]?.slotsInFacilityOrder) ?? []
    }

    func facility(of job: SeriesJob) -> String {
        let config = models[job.model].config
        return config.isPatientLevel ? patients[config.measure]!.facilities[job.slot] : counts[config.measure]!.facilities[job.slot]
    }

    /// The facility's patient records of a model's measure in time order (arrival order among equal times).
    func orderedPatients(_ job: SeriesJob) -> [PatientRecord] {
        let config = models[job.model].config
        return (patients[config.measure]?.series[job.slot].entries ?? []).sorted {
            $0.record.time.instant != $1.record.time.instant ? $0.record.time.instant < $1.record.time.instant : $0.arrival < $1.arrival
        }.map(\.record)
    }

    func countSeries(_ job: SeriesJob) -> CountSeries {
        counts[models[job.model].config.measure]!.series[job.slot]
    }

    // MARK: Baseline

    /// Model `m` refitted on its baseline rows across all facilities (a fitted expectation), with its
    /// `arl0:` thresholds calibrated at the baseline's expectations. Reads the engine, changes nothing.
    private func refitted(model m: Int) -> ModelRuntime {
        var model = models[m]
        let config = model.config
        model.problem = nil
        var rows: [BaselineFit.Row] = []
        var seriesWithBaseline = 0
        var patientsPerYear: [Double] = []
        let baselineYears = config.expected.baseline.map { Double($0.to.ordinal - $0.from.ordinal + 1) / 365.25 } ?? 1
        for slot in slotsInFacilityOrder(of: m) {
            let job = SeriesJob(model: m, slot: slot)
            let before = rows.count
            defer { if rows.count > before { seriesWithBaseline += 1 } }
            if config.isPatientLevel {
                for r in orderedPatients(job)
                where hot[m].inBaseline(Period(unit: .day, ordinal: r.time.day)) && config.selects(r.covariates) {
                    rows.append(.init(y: r.outcome ? 1 : 0, exposure: nil, covariates: r.covariates, day: r.time.day))
                }
                if rows.count > before { patientsPerYear.append(Double(rows.count - before) / baselineYears) }
            } else {
                forEachBucket(countSeries(job), unit: config.unit) { bucket in
                    let covariates = covariates[bucket.tuple]
                    guard hot[m].inBaseline(bucket.period), config.selects(covariates) else { return }
                    // A proportion's period without trials (or with none) says nothing about p.
                    if hot[m].needsTrials && bucket.trials < 1 { return }
                    rows.append(.init(y: Double(bucket.events), exposure: bucket.exposure.isNaN ? nil : bucket.exposure,
                                      trials: bucket.trials < 0 ? nil : Double(bucket.trials),
                                      covariates: covariates, group: bucket.tuple, day: bucket.period.firstDay))
                }
            }
        }
        model.seriesWithBaseline = seriesWithBaseline
        model.baselinePatientsPerYear = patientsPerYear
        if let family = config.expected.kind.family {
            model.fits += 1
            do {
                let (expectation, fit) = try BaselineFit.fit(config.expected, family: family, rows: rows, model: config.name)
                model.expectation = expectation
                model.fit = fit
            } catch {
                model.expectation = nil
                model.fit = nil
                model.problem = "\(error)"
                return model
            }
        }
        guard let expectation = model.expectation else { return model }
        var baselineExpected: [Double] = []
        if config.isPatientLevel {
            baselineExpected = rows.compactMap { try? expectation.value(covariates: $0.covariates, exposure: $0.exposure, day: $0.day).get() }
        } else {
            // The factor is computed once per covariate set.
            var factors: [Int32: Double?] = [:]
            for row in rows {
                let factor: Double?
                if let group = row.group, let known = factors[group] { factor = known } else {
                    factor = try? expectation.factor(covariates: row.covariates).get()
                    if let group = row.group { factors[group] = factor }
                }
                if let factor, let e = expectation.expected(factor: expectation.seasonal(factor, day: row.day), exposure: row.exposure,
                                                            trials: row.trials) {
                    baselineExpected.append(e)
                }
            }
        }
        model.calibrate(baselineExpected: baselineExpected, baselineTrials: rows.compactMap(\.trials))
        return model
    }

    // MARK: Evaluation

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
    private func forEachBucket(_ series: CountSeries, unit: PeriodUnit, summing factors: [Double]? = nil, _ body: (Bucket) -> Void) {
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
        var result = SeriesResult()
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
            forEachBucket(series, unit: config.unit, summing: perRecord ? facts.factor : nil) { b in
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
        let facility = facility(of: job)
        let patient = config.isPatientLevel
        for (d, spec) in config.detectors.enumerated() {
            var detector = fresh[d]
            var steps: [DetectorStep] = []
            steps.reserveCapacity(observations.count)
            var lastAlert: Int? = nil
            for (i, o) in observations.enumerated() {
                if i == switchAt, let h = own[d] { detector.setThreshold(h) }
                let step = detector.update(o.input)
                steps.append(step)
                guard step.signal else { continue }
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
                result.alerts.append(alert)
            }
            result.steps.append(steps)
        }
        return result
    }

    /// Evaluates `jobs` on all cores, a window at a time (so memory holds two windows' results), and hands
    /// each result — with its trace text when `format` is given — to `consume` in job order. `consume` takes
    /// a window on a thread of its own while the next window is evaluated on this one: evaluated on a
    /// dispatch worker instead (the first arrangement), a window's `concurrentPerform` got one core, not
    /// both, and the replay benchmark's evaluate phase used 60% of the machine (1.24–1.49 s, now 1.0 s).
    private func evaluate(_ jobs: [SeriesJob], now: Date, format: TraceFormat?,
                          consume: (SeriesJob, SeriesResult, [UInt8]?) -> Void) {
        let window = 512
        let windows = stride(from: 0, to: jobs.count, by: window).map { Array(jobs[$0..<min(jobs.count, $0 + window)]) }
        guard !windows.isEmpty else { return }
        let engine = UncheckedBox(self)
        func compute(_ part: [SeriesJob]) -> [Evaluated] {
            Parallel.map(part) { job in
                let result = engine.value.evaluate(job, now: now)
                return Evaluated(result: result, text: format.map { $0.text(job.model, facility: engine.value.facility(of: job), result) })
            }
        }
        var current = compute(windows[0])
        for w in windows.indices {
            let taking = current
            func take() { for (k, job) in windows[w].enumerated() { consume(job, taking[k].result, taking[k].text) } }
            // The last window (a small batch's only one) is taken here: no thread to start for it.
            guard w + 1 < windows.count else { take(); break }
            Parallel.alongside(take, meanwhile: { current = compute(windows[w + 1]) })
        }
    }

    private struct Evaluated: Sendable {
        let result: SeriesResult
        let text: [UInt8]?
    }

    /// The current evaluation of one facility's series under model `m`, nil when there is none.
    func result(model m: Int, facility: String) -> SeriesResult? {
        let config = models[m].config
        let store = config.isPatientLevel ? patients[config.measure]?.slot(of: facility) : counts[config.measure]?.slot(of: facility)
        guard let slot = store else { return nil }
        return evaluate(SeriesJob(model: m, slot: slot), now: Date())
    }

    /// The trace of the current state: series by model (file order), facility (byte order), detector, period.
    public func trace(_ emit: (TraceRow) -> Void) {
        var jobs: [SeriesJob] = []
        for m in models.indices { for slot in slotsInFacilityOrder(of: m) { jobs.append(SeriesJob(model: m, slot: slot)) } }
        evaluate(jobs, now: Date(), format: nil) { job, result, _ in
            let config = models[job.model].config
            let facility = facility(of: job)
            for (d, spec) in config.detectors.enumerated() {
                for (o, step) in zip(result.observations, result.steps[d]) {
                    emit(TraceRow(model: config.name, detector: spec.id, facility: facility, measure: config.measure,
                                  period: o.label.text, observed: o.observed, expected: o.input.expected,
                                  statistic: step.statistic, threshold: step.threshold, signal: step.signal))
                }
            }
        }
    }
}

/// The slots a batch touched, for one model, as flags by slot.
struct DirtySlots {
    private var flags: [Bool] = []

    func contains(_ slot: Int) -> Bool { slot < flags.count && flags[slot] }

    mutating func insert(_ slot: Int) {
        if slot >= flags.count { flags.append(contentsOf: repeatElement(false, count: slot + 1 - flags.count)) }
        flags[slot] = true
    }
}

/// Wall-clock seconds between laps.
struct Stopwatch {
    private var last = DispatchTime.now().uptimeNanoseconds

    init() {}

    mutating func lap() -> Double {
        let now = DispatchTime.now().uptimeNanoseconds
        defer { last = now }
        return Double(now - last) / 1e9
    }
}

/// A value handed to worker threads that only read it (or write disjoint parts of it).
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
