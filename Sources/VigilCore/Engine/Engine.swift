import Foundation
import VigilStats
import VigilThreads

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

    public init() {}
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
// Properties are internal, not private, for the engine's other files (Intake, AlertDecision).
public final class Engine {
    public private(set) var models: [ModelRuntime]
    /// Told what each step of a batch did and how many seconds it took (`vigil replay --timings`).
    public var timings: ((_ step: String, _ seconds: Double) -> Void)?
    let routes: [String: [Int]]
    let covariates = CovariateTable()
    // The state a record goes into is unchecked for exclusivity at run time: only the thread applying a batch
    // touches it (an `Engine` is not Sendable), and the checks were a sixth of that thread's time.
    @exclusivity(unchecked) var facts: [TupleFacts]
    @exclusivity(unchecked) var counts: [String: SeriesStore<CountSeries>] = [:]
    @exclusivity(unchecked) var patients: [String: SeriesStore<PatientSeries>] = [:]
    /// What the per-record path needs of each model, copied out once (a `ModelRuntime` is large to copy).
    let hot: [HotModel]
    @exclusivity(unchecked) var lastMeasure: (measure: String, routes: [Int], store: SeriesStore<CountSeries>?)?
    /// Patient records taken so far: orders patients with equal times.
    @exclusivity(unchecked) var arrivals = 0
    var firing: [SeriesID: [String: Alert]] = [:]
    /// Stale feeds (StaleFeeds.swift): where each series ends, each model's newest end, the stale alerts.
    var seriesEnds: [SeriesID: SeriesEnd] = [:]
    var newestEnds: [Int: SeriesEnd] = [:]
    var staleFiring: [SeriesID: Alert] = [:]
    var suppressedSeen: [SeriesID: Set<String>] = [:]
    private let thresholdCache = SeriesThresholds()
    /// Labels the alerts carry (`facility: {…}`); set before the first batch.
    public var facilities: FacilityRegistry?

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

    typealias SeriesJob = SeriesView.SeriesJob
    typealias SeriesResult = SeriesView.SeriesResult

    /// What evaluation reads, as a value (the stores' arrays are shared, not copied, until the engine writes).
    var view: SeriesView {
        SeriesView(models: models, facts: facts, hot: hot, covariates: covariates.tuples,
                   counts: counts.mapValues(\.stored), patients: patients.mapValues(\.stored), thresholdCache: thresholdCache,
                   facilities: facilities)
    }

    func slotsInFacilityOrder(of m: Int) -> [Int] {
        let config = models[m].config
        return (config.isPatientLevel ? patients[config.measure]?.slotsInFacilityOrder
                                      : counts[config.measure]?.slotsInFacilityOrder) ?? []
    }

    /// Alerts currently firing, sorted by id.
    public var firingAlerts: [Alert] { (firing.values.flatMap(\.values) + staleFiring.values).sorted { $0.id < $1.id } }

    /// How many alerts are firing (without copying and sorting them).
    public var firingCount: Int { firing.values.reduce(staleFiring.count) { $0 + $1.count } }

    /// Gives firing alerts the time they were first raised (the daemon's stored alerts, after a restart
    /// rebuilt the engine), so a later `resolved` event carries it.
    public func adoptRaisedAt(_ raised: [String: Date]) {
        for (series, alerts) in firing {
            for id in alerts.keys { if let at = raised[id] { firing[series]?[id]?.raisedAt = at } }
        }
        for (series, alert) in staleFiring { if let at = raised[alert.id] { staleFiring[series]?.raisedAt = at } }
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
            let view = self.view
            let refitted = Parallel.map(refitting) { view.refitted(model: $0) }
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
            diff(job, result, into: &outcome.events)
            noteEnd(job, result)
            if !result.suppressed.isEmpty { countSuppressed(job, result, into: &outcome.suppressed) }
        }
        if !seriesEnds.isEmpty { staleEvents(now: now, into: &outcome.events) }
        let solving = timings == nil ? SeriesThresholds.Work() : thresholdCache.cost
        timings?("evaluated \(jobs.count) series" + (trace == nil ? "" : ", wrote \(outcome.traceRows) trace rows")
                 + (solving.levels == 0 ? "" : " (per-series thresholds: \(solving.levels) levels of E, \(solving.nodes) solved "
                    + "from scratch, \(String(format: "%.2f", solving.seconds)) s of solving on all workers)"), clock.lap())
        return outcome
    }

    /// Evaluates `jobs` on all cores, a window at a time (so memory holds two windows' results), and hands
    /// each result — with its trace text when `format` is given — to `consume` in job order, on this thread,
    /// while the next window is evaluated over a `SeriesView` on a thread of its own.
    private func evaluate(_ jobs: [SeriesJob], now: Date, format: TraceFormat?,
                          consume: (SeriesJob, SeriesResult, [UInt8]?) -> Void) {
        let window = 512
        let windows = stride(from: 0, to: jobs.count, by: window).map { Array(jobs[$0..<min(jobs.count, $0 + window)]) }
        let view = self.view
        Parallel.pipeline(windows: windows.count, make: { w in
            Parallel.map(windows[w]) { job in
                let result = view.evaluate(job, now: now)
                return Evaluated(result: result, text: format.map { $0.text(job.model, facility: result.facility, result) })
            }
        }, consume: { w, evaluated in
            for (k, job) in windows[w].enumerated() { consume(job, evaluated[k].result, evaluated[k].text) }
        })
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
        return view.evaluate(SeriesJob(model: m, slot: slot), now: Date())
    }

    /// Every series of a model evaluated as it stands, in facility (byte) order.
    func seriesResults(model m: Int, _ consume: (SeriesResult) -> Void) {
        evaluate(slotsInFacilityOrder(of: m).map { SeriesJob(model: m, slot: $0) }, now: Date(), format: nil) { _, result, _ in
            consume(result)
        }
    }

    /// The trace of the current state: series by model (file order), facility (byte order), detector, period.
    public func trace(_ emit: (TraceRow) -> Void) {
        var jobs: [SeriesJob] = []
        for m in models.indices { for slot in slotsInFacilityOrder(of: m) { jobs.append(SeriesJob(model: m, slot: slot)) } }
        evaluate(jobs, now: Date(), format: nil) { job, result, _ in
            let config = models[job.model].config
            let facility = result.facility
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

