import Foundation
import VigilThreads
import Logging
import Metrics
import Synchronization
import VigilCore
import VigilStats

/// Records parsed from one spool file or HTTP body, with the rows the reader rejected.
public struct IngestBatch: Sendable {
    public let source: String
    public let records: [Record]
    public let rejected: [RowError]
    /// Rows with a withheld value (the mapping's `missing:` tokens).
    public let suppressed: [RowError]

    /// Parses a body held in memory, a large CSV on all cores; a bad row is rejected, the rows beside it are
    /// kept (SPEC §1).
    public init(source: String, bytes: [UInt8], format: RecordFormat, mapping: ColumnMapping) {
        var records: [Record] = []
        var rejected: [RowError] = [], suppressed: [RowError] = []
        RecordReader(mapping: mapping).readInParts(source: source, bytes: bytes, format: format, accept: { records.append($0) },
                                                   reject: { $0.suppressed ? suppressed.append($0) : rejected.append($0) })
        self.source = source
        self.records = records
        self.rejected = rejected
        self.suppressed = suppressed
    }
}

/// What became of a batch once it was durable.
public struct IngestResult: Sendable {
    /// Rows taken (including `unchanged`).
    public var accepted = 0
    /// Of those, records already stored exactly so (a re-sent file or batch): nothing was applied twice.
    public var unchanged = 0
    /// Of those, records of measures no model watches (stored, for models added later).
    public var unmatched = 0
    public var rejected: [RowError] = []
    /// Rows not taken because they carry a withheld value.
    public var suppressed: [RowError] = []
    /// Alert events the batch caused, with their event ids.
    public var events: [(id: String, alert: Alert)] = []
}

public struct IngestUnavailable: Error, CustomStringConvertible {
    public let description: String
}

/// Owns the engine and writes the state: batches queue here and one thread applies them, several at a time
/// when they arrive together (one evaluation pass and one transaction for all of them — group commit).
/// A submitter is answered only after the transaction committed, so an acknowledged batch is durable.
///
/// Records identical to the stored ones are dropped before the engine sees them (a 64-bit hash of each key
/// and line is kept per record), so re-sending a file changes nothing. Should a commit fail, the batches are
/// answered with the error and the engine is rebuilt from the database, so memory never runs ahead of disk.
// @unchecked: `queue`, `closed`, `finished`, `started` change only under `condition`; the engine, models,
// routing and sinks only on the ingest thread (and in `start`, before it runs).
public final class Ingestor: @unchecked Sendable {
    let store: StateStore
    let logger: Logger
    var sinks: [any AlertSink]
    /// Told after every commit that wrote events.
    var committed: (@Sendable () -> Void)?

    private enum Work {
        case batch(IngestBatch, CheckedContinuation<IngestResult, Error>)
        case reload([ModelConfig], CheckedContinuation<Void, Error>)
        case ping(CheckedContinuation<Void, Never>)
        /// Act now on what operators asked (a resolution, a silence changed) and answer with the events written.
        case settle(CheckedContinuation<[(id: String, alert: Alert)], Error>)
        /// The workbench page (`GET /ui`): the engine is read on its own thread.
        case page(String?, CheckedContinuation<String, Error>)
    }

    private let condition = NSCondition()
    private var queue: [Work] = []
    private var closed = false
    private var finished = false
    // Touched only by the ingest thread (and by `start` before it runs).
    private var engine: Engine
    private var models: [ModelConfig] { didSet { routing = SinkRouting(models: models, matchers: matchers, digests: digests) } }
    private let matchers: [String: AlertMatcher]
    private let digests: [String: DigestSchedule]
    /// Runs operators resolved (`Alert.run`): their alerts raise no event again.
    private var closedRuns: Set<String> = []
    private var nextHousekeeping = Date()
    private var housekeepingFailure: String?
    /// The facility registry's labels, given to every engine built here.
    private let facilities: FacilityRegistry?
    /// Which sinks each model's events go to (its `alert.sinks`).
    private var routing: SinkRouting
    private var stored: [Int: Int] = [:]
    private let storedCount = Atomic<Int>(0)
    private var started = false
    private var lastCheckpoint = Date()
    private var reported: [String: (fits: Int, status: ModelStatus)] = [:]
    private let modelStatus = Locked<[JSON]>([])
    /// Why the last commit failed for a cause of the machine (disk full, I/O), until one succeeds again.
    private let storageFailure = Locked<String?>(nil)

    private let acceptedCounter = Counter(label: "vigil_records_accepted_total")
    private let unchangedCounter = Counter(label: "vigil_records_unchanged_total")
    private let rejectedCounter = Counter(label: "vigil_records_rejected_total")
    private let suppressedCounter = Counter(label: "vigil_records_suppressed_total")
    private let alertCounters = [Alert.Status.firing, .resolved, .stale].reduce(into: [Alert.Status: Counter]()) {
        $0[$1] = Counter(label: "vigil_alerts_total", dimensions: [("status", $1.rawValue)])
    }
    private let latency = Timer(label: "vigil_ingest_seconds", preferredDisplayUnit: .seconds)

    init(store: StateStore, models: [ModelConfig], sinks: [any AlertSink], matchers: [String: AlertMatcher] = [:],
         digests: [String: DigestSchedule] = [:], facilities: FacilityRegistry? = nil, logger: Logger) {
        self.store = store
        self.models = models
        self.matchers = matchers
        self.digests = digests
        self.facilities = facilities
        self.routing = SinkRouting(models: models, matchers: matchers, digests: digests)
        self.sinks = sinks
        self.logger = logger
        self.engine = Engine(models: models)
        engine.facilities = facilities
    }

    /// Rebuilds the engine from the stored records and reconciles the alerts (a model changed while the daemon
    /// was down, or a reload); then starts the ingest thread.
    func start() throws {
        try rebuild(models: models, reconcile: true)
        locked { started = true }
        Parallel.thread(named: "vigil-ingest") { [self] in loop() }
    }

    /// Applies a batch and returns once it is durable.
    public func submit(_ batch: IngestBatch) async throws -> IngestResult {
        try await withCheckedThrowingContinuation { c in
            if !enqueue(.batch(batch, c)) { c.resume(throwing: IngestUnavailable(description: "vigil is shutting down")) }
        }
    }

    /// Swaps in new models: the engine is rebuilt from the stored records, and alerts that no longer hold
    /// are resolved, new ones raised. Throws (and keeps the old models) when the state cannot be read.
    func reload(models: [ModelConfig]) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
            if !enqueue(.reload(models, c)) { c.resume(throwing: IngestUnavailable(description: "vigil is shutting down")) }
        }
    }

    /// Returns when the ingest thread has come round to it (the watchdog's proof of life).
    func ping() async -> Bool {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            if !enqueue(.ping(c)) { c.resume() }
        }
        return !isClosed
    }

    /// Applies now what operators asked through the state (resolutions, silences); returns the events written.
    func settle() async throws -> [(id: String, alert: Alert)] {
        try await withCheckedThrowingContinuation { c in
            if !enqueue(.settle(c)) { c.resume(throwing: IngestUnavailable(description: "vigil is shutting down")) }
        }
    }

    /// The workbench page of the engine as it stands, with the stored alerts, acknowledgements and silences;
    /// `facility`: that facility's view only.
    func page(facility: String?) async throws -> String {
        try await withCheckedThrowingContinuation { c in
            if !enqueue(.page(facility, c)) { c.resume(throwing: IngestUnavailable(description: "vigil is shutting down")) }
        }
    }

    var isClosed: Bool { locked { closed } }

    /// Records stored (one per key), as of the last commit; read from any thread (`/healthz`) without a
    /// scan of the table per health check.
    var recordCount: Int { storedCount.load(ordering: .relaxed) }

    /// Why the state cannot be written now (`/readyz` is not ready meanwhile), or nil; read from any thread.
    var storageProblem: String? { storageFailure.withLock { $0 } }

    /// Notes a commit's outcome for the machine: logged when the state stops and starts being writable,
    /// not at every refused batch or retried spool file.
    private func noteStorage(failed error: Error?) {
        let reason = error.map { "\($0)" }
        let before = storageFailure.withLock { held in
            defer { held = reason }
            return held
        }
        switch (before, reason) {
        case (nil, let now?):
            logger.error("the state database cannot be written: batches are refused with 503 and spool files wait until it can",
                         metadata: ["error": "\(now)"])
        case (_?, nil):
            logger.notice("the state database is writable again: ingest resumed")
        default: break
        }
    }

    private func locked<T>(_ body: () -> T) -> T {
        condition.lock()
        defer { condition.unlock() }
        return body()
    }

    /// Takes no more work, finishes what is queued, and returns when the thread is done.
    func drain() async {
        locked {
            closed = true
            condition.broadcast()
        }
        while !locked({ finished || !started }) {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    private func enqueue(_ work: Work) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !closed else { return false }
        queue.append(work)
        condition.signal()
        return true
    }

    private func loop() {
        while true {
            condition.lock()
            while queue.isEmpty && !closed && Date() < nextHousekeeping { _ = condition.wait(until: nextHousekeeping) }
            if queue.isEmpty && closed {
                finished = true
                condition.unlock()
                return
            }
            let work = queue
            queue.removeAll()
            condition.unlock()

            var batches: [(IngestBatch, CheckedContinuation<IngestResult, Error>)] = []
            func flush() {
                if !batches.isEmpty { apply(batches) }
                batches.removeAll()
            }
            for item in work {
                switch item {
                case let .batch(b, c): batches.append((b, c))
                case let .reload(models, c):
                    flush()
                    do {
                        try rebuild(models: models, reconcile: true)
                        c.resume()
                    } catch {
                        c.resume(throwing: error)
                    }
                case let .ping(c):
                    flush()
                    c.resume()
                case let .settle(c):
                    flush()
                    do { c.resume(returning: try housekeeping()) } catch { c.resume(throwing: error) }
                case let .page(facility, c):
                    flush()
                    do { c.resume(returning: try workbench(facility: facility)) } catch { c.resume(throwing: error) }
                }
            }
            flush()
            if Date() >= nextHousekeeping { _ = try? housekeeping() }
        }
    }

    /// Once a second, and when asked: applies the resolutions operators recorded, releases held events nothing
    /// holds any more (a silence ended), and queues the digests whose interval ended.
    private func housekeeping() throws -> [(id: String, alert: Alert)] {
        nextHousekeeping = Date().addingTimeInterval(1)
        let now = Date()
        do {
            guard try store.needsSettling(now: now) else { return [] }
            let settled = try store.settle(sinks: sinks, routing: routing, now: now)
            housekeepingFailure = nil
            closedRuns.formUnion(settled.closed)
            for (id, alert) in settled.events {
                alertCounters[alert.status]?.increment()
                logger.notice("alert resolved by \(alert.resolution?.by ?? "an operator")",
                              metadata: ["event": "\(id)", "summary": "\(alert.summary)"])
            }
            for id in settled.queued { logger.info("queued for delivery", metadata: ["event": "\(id)"]) }
            if !settled.events.isEmpty || !settled.queued.isEmpty { committed?() }
            return settled.events
        } catch {
            // Once per cause, not every second while the state cannot be written.
            if "\(error)" != housekeepingFailure {
                logger.error("cannot apply operators' requests or release held events now", metadata: ["error": "\(error)"])
            }
            housekeepingFailure = "\(error)"
            throw error
        }
    }

    private func workbench(facility: String?) throws -> String {
        let now = Date()
        var content = Workbench.Content(title: "vigil", generated: now,
                                        source: "daemon on \(ProcessInfo.processInfo.hostName), state \(store.path)")
        let view = try store.operatorView(now: now)
        content.alerts = view.alerts
        content.acknowledged = view.acknowledged
        content.held = view.held
        content.silences = view.silences
        content.summary = [("records stored", "\(recordCount)"), ("models", "\(models.count)"),
                           ("alerts firing", "\(view.alerts.filter { $0.status == .firing }.count)"),
                           ("stale feeds", "\(view.alerts.filter { $0.status == .stale }.count)"),
                           ("events held", "\(view.held.count)")]
        content.warnings = engine.models.flatMap(\.statusMessages)
        content.facility = facility
        return Workbench.html(engine: engine, content)
    }

    /// Drops the events of runs an operator resolved.
    private func open(_ events: [Alert]) -> [Alert] {
        closedRuns.isEmpty ? events : events.filter { !closedRuns.contains($0.run) }
    }

    // MARK: Applying batches

    private typealias Fresh = (batch: Int, stored: StoredRecord)
    /// A record identical to one earlier in the same group (`of`: its position in the fresh records).
    private typealias Copy = (batch: Int, of: Int, origin: RecordOrigin)

    private func apply(_ batches: [(IngestBatch, CheckedContinuation<IngestResult, Error>)]) {
        let start = DispatchTime.now()
        var (results, fresh, copies) = sortOut(batches.map(\.0))
        let now = Date()
        let checked = DispatchTime.now()
        let (outcome, written) = evaluate(fresh.map(\.stored), now: now)
        let applied = DispatchTime.now()
        var rejectedAt = Set(outcome.rejectedPositions)
        var keep: [StoredRecord] = []
        keep.reserveCapacity(fresh.count)
        for (i, f) in fresh.enumerated() {
            if rejectedAt.remove(i) != nil { continue }
            results[f.batch].accepted += 1
            keep.append(f.stored)
        }
        // The engine's own rejections (a covariate a model needs) go back to the batch they came from.
        var errorAt: [Int: RowError] = [:]
        for (error, position) in zip(outcome.rejected, outcome.rejectedPositions) {
            results[fresh[position].batch].rejected.append(error)
            errorAt[position] = error
        }
        for copy in copies {
            if let error = errorAt[copy.of] {
                results[copy.batch].rejected.append(RowError(source: copy.origin.source, line: copy.origin.line,
                                                             field: error.field, reason: error.reason))
            } else {
                results[copy.batch].accepted += 1
                results[copy.batch].unchanged += 1
            }
        }
        do {
            let ids: [String]
            switch written {
            case let .success(written)?: ids = written
            case let .failure(error)? where !(error is StateStore.RolledBack): throw error
            default: ids = try store.commit(records: keep, events: outcome.events, sinks: sinks, routing: routing, now: now)
            }
            noteStorage(failed: nil)
            // Known as stored before any batch is answered: /healthz counts what an acknowledgement covers.
            for row in keep { stored[row.keyHash] = row.contentHash }
            storedCount.store(stored.count, ordering: .relaxed)
            let events = Array(zip(ids, outcome.events))
            // Events are reported with the batches; each batch hears of all (they were applied together).
            for b in results.indices { results[b].events = events.map { (id: $0.0, alert: $0.1) } }
            for (b, (_, c)) in batches.enumerated() {
                acceptedCounter.increment(by: results[b].accepted)
                unchangedCounter.increment(by: results[b].unchanged)
                rejectedCounter.increment(by: results[b].rejected.count)
                suppressedCounter.increment(by: results[b].suppressed.count)
                c.resume(returning: results[b])
            }
            for e in outcome.events { alertCounters[e.status]?.increment() }
            for (model, count) in outcome.suppressed {
                Counter(label: "vigil_alerts_suppressed_total", dimensions: [("model", model), ("reason", "min_expected")])
                    .increment(by: count)
            }
            for (id, alert) in events {
                logger.notice("alert \(alert.status.rawValue)", metadata: ["event": "\(id)", "summary": "\(alert.summary)"])
            }
            if !events.isEmpty { committed?() }
            // After the answers, so no acknowledgement waits for it.
            if keep.count >= 10_000 || Date().timeIntervalSince(lastCheckpoint) >= 10 {
                store.finishCheckpoint()
                lastCheckpoint = Date()
            }
            let end = DispatchTime.now()
            latency.recordNanoseconds(Int64(end.uptimeNanoseconds - start.uptimeNanoseconds))
            func ms(_ a: DispatchTime, _ b: DispatchTime) -> String { String(format: "%.1f", Double(b.uptimeNanoseconds - a.uptimeNanoseconds) / 1e6) }
            logger.debug("batches applied", metadata: [
                "batches": "\(batches.count)", "records": "\(fresh.count)", "events": "\(events.count)",
                "check_ms": "\(ms(start, checked))", "engine_ms": "\(ms(checked, applied))", "commit_ms": "\(ms(applied, end))",
            ])
        } catch {
            let failure = IngestFailure.classify(error)
            if failure.isTransient {
                noteStorage(failed: failure)
            } else {
                logger.error("commit failed for the batch's content; it was not applied", metadata: ["error": "\(error)"])
            }
            do { try rebuild(models: models, reconcile: false) } catch {
                logger.critical("cannot rebuild the engine from the state database", metadata: ["error": "\(error)"])
            }
            if !failure.isTransient && batches.count > 1 {
                // Which batch of the group is at fault is not known: each is applied alone.
                for batch in batches { apply([batch]) }
                return
            }
            for (_, c) in batches { c.resume(throwing: failure) }
        }
        publishModels()
    }

    /// Logs each model's new fit (status and warnings, or why it is unfitted), sets its gauges and replaces
    /// the status objects of `GET /v1/models`, when a model's fit or status changed.
    private func publishModels() {
        var changed = false
        for model in engine.models {
            let name = model.config.name
            if let last = reported[name], last.fits == model.fits, last.status == model.status { continue }
            changed = true
            reported[name] = (model.fits, model.status)
            let fitted = Gauge(label: "vigil_model_fitted", dimensions: [("model", name)])
            let warningCount = Gauge(label: "vigil_model_fit_warnings", dimensions: [("model", name)])
            var metadata: Logger.Metadata = ["model": "\(name)", "fits": "\(model.fits)"]
            if let fit = model.fit {
                metadata["baseline_rows"] = "\(fit.baselineRows)"
                metadata["seconds"] = "\(String(format: "%.3f", fit.seconds))"
            }
            switch model.status {
            case .fitted:
                fitted.record(1)
                warningCount.record(0)
                logger.info("model fitted", metadata: metadata)
            case let .fittedWithWarnings(warnings):
                fitted.record(1)
                warningCount.record(warnings.count)
                for w in warnings {
                    metadata["warning"] = "\(w)"
                    logger.warning("model fitted with warnings", metadata: metadata)
                }
            case let .unfitted(reason):
                fitted.record(0)
                warningCount.record(0)
                metadata["reason"] = "\(reason)"
                logger.error("model unfitted: its series are not evaluated", metadata: metadata)
            }
        }
        if changed { modelStatus.withLock { $0 = engine.models.map(\.statusJSON) } }
    }

    /// Each model's status (`GET /v1/models`), as of the last batch; read from any thread.
    var modelStatusJSON: [JSON] { modelStatus.withLock { $0 } }

    /// The records of a group of batches: those stored exactly so already are counted `unchanged` here;
    /// the others are `fresh` (to apply), and a record identical to a fresh one before it is its copy.
    private func sortOut(_ batches: [IngestBatch]) -> (results: [IngestResult], fresh: [Fresh], copies: [Copy]) {
        var results = Array(repeating: IngestResult(), count: batches.count)
        var fresh: [Fresh] = []
        var copies: [Copy] = []
        // Key hash → (content hash, position in `fresh`) of the records of these batches.
        var pending: [Int: (content: Int, position: Int)] = [:]
        for (b, batch) in batches.enumerated() {
            results[b].rejected = batch.rejected
            results[b].suppressed = batch.suppressed
            // Rows and their hashes on all cores (a spool file may hold millions of records).
            let records = batch.records
            let rows = Parallel.map(count: records.count, chunk: 8192) { StoredRecord(records[$0]) }
            fresh.reserveCapacity(fresh.count + rows.count)
            pending.reserveCapacity(pending.count + rows.count)
            for row in rows {
                if let earlier = pending[row.keyHash] {
                    if earlier.content == row.contentHash {
                        copies.append((b, earlier.position, row.record.origin))
                        continue
                    }
                } else if stored[row.keyHash] == row.contentHash {
                    results[b].accepted += 1
                    results[b].unchanged += 1
                    continue
                }
                pending[row.keyHash] = (row.contentHash, fresh.count)
                fresh.append((b, row))
            }
        }
        return (results, fresh, copies)
    }

    /// The engine's evaluation of the fresh records. A group of ≥ 10,000 is also written meanwhile, in the
    /// transaction that commits it with the events (`written`, the event ids); should the engine reject any
    /// record (rare), that transaction is rolled back (`written` fails with `RolledBack`). Small groups keep
    /// one thread: a thread each would cost an HTTP batch more than it saves. `written` is nil when nothing
    /// was written.
    private func evaluate(_ fresh: [StoredRecord], now: Date) -> (BatchOutcome, written: Result<[String], Error>?) {
        guard fresh.count >= 10_000 else {
            var outcome = engine.apply(fresh.map(\.record), now: now)
            outcome.events = open(outcome.events)
            return (outcome, nil)
        }
        let verdict = Handoff<[Alert]?>()
        let (store, sinks, routing) = (self.store, self.sinks, self.routing)
        var evaluated = BatchOutcome()
        let written = Parallel.alongside({
            Result {
                // The transaction waits for the engine's verdict: its events, or nil to roll back.
                try store.commit(records: fresh, sinks: sinks, routing: routing, now: now) { verdict.take() }
            }
        }, meanwhile: {
            evaluated = engine.apply(fresh.map(\.record), now: now)
            evaluated.events = open(evaluated.events)
            verdict.put(evaluated.rejectedPositions.isEmpty ? evaluated.events : nil)
        })
        return (evaluated, written)
    }

    // MARK: Rebuilding

    /// A new engine over every stored record. With `reconcile`, the alerts it finds firing are compared with
    /// the stored ones of the same models: new signals are raised, withdrawn ones resolved (one transaction).
    private func rebuild(models: [ModelConfig], reconcile: Bool) throws {
        let started = Date()
        let engine = Engine(models: models)
        engine.facilities = facilities
        var stored: [Int: Int] = [:]
        var count = 0
        var unreadable: [String] = []
        _ = try engine.apply(now: started) { take in
            unreadable = try store.forEachRecordChunk { records in
                let rows = Parallel.map(count: records.count, chunk: 8192) { StoredRecord(records[$0]) }
                for row in rows {
                    stored[row.keyHash] = row.contentHash
                    take(row.record)
                }
                count += records.count
            }
        }
        for problem in unreadable.prefix(5) {
            logger.error("a stored record could not be read back", metadata: ["problem": "\(problem)"])
        }
        let known = try store.firing()
        engine.adoptRaisedAt(known.mapValues(\.raisedAt))
        closedRuns = try store.closedRuns()
        if reconcile {
            let names = Set(models.map(\.name))
            let now = Date()
            let firing = open(engine.firingAlerts)
            let firingIDs = Set(firing.map(\.id))
            var events = firing.filter { known[$0.id] == nil }
            for (id, held) in known.sorted(by: { $0.key < $1.key }) where names.contains(held.model) && !firingIDs.contains(id) {
                guard let body = try store.alert(id: id), var alert = Alert(json: body) else { continue }
                alert.status = .resolved
                events.append(alert)
            }
            if !events.isEmpty {
                let ids = try store.commit(records: [], events: events, sinks: sinks, routing: routing, now: now)
                for (id, alert) in zip(ids, events) {
                    logger.notice("alert \(alert.status.rawValue) on reconciling", metadata: ["event": "\(id)", "summary": "\(alert.summary)"])
                }
                committed?()
            }
        }
        self.engine = engine
        self.models = models
        self.stored = stored
        storedCount.store(stored.count, ordering: .relaxed)
        reported = [:]
        publishModels()
        logger.info("engine built", metadata: [
            "records": "\(count)", "models": "\(models.count)", "firing": "\(engine.firingCount)",
            "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))",
        ])
    }
}
