import Foundation
import VigilStats

/// Records into the engine's state: each checked against every model that takes it, stored in its
/// facility's series, and the series and models it touches noted.
extension Engine {
    enum Taken {
        case accepted, unmatched
        case rejected(RowError)
    }

    /// Checks a record against every model that takes it and stores it; a rejected record changes nothing.
    func take(_ record: Record, dirty: inout [DirtySlots], refit: inout Set<Int>) -> Taken {
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
    func check(_ r: AggregateRecord, tuple: Int32, model m: Int) -> RowError? {
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
        if facts[m].factor[Int(tuple)].isNaN, !model.inBaseline(bucket), let problem = Self.expectationProblem(models[m].expectation, r.covariates) {
            return reject(problem.field, "\(problem.reason) (model \(name))")
        }
        return nil
    }

    /// Why model `m` cannot take a patient record, or nil.
    func check(_ r: PatientRecord, model m: Int) -> RowError? {
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
        if !hot[m].inBaseline(Period(unit: .day, ordinal: r.time.day)), let problem = Self.expectationProblem(model.expectation, r.covariates) {
            return reject(problem.field, "\(problem.reason) (model \(config.name))")
        }
        return nil
    }

    /// Takes the expectation, not its model: a `ModelRuntime` argument was a copy of the whole model per record.
    static func expectationProblem(_ expectation: Expectation?, _ covariates: Covariates) -> FieldProblem? {
        guard let expectation, case let .failure(problem) = expectation.factor(covariates: covariates) else { return nil }
        return problem
    }
}
