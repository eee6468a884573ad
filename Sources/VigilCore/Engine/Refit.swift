import Foundation
import VigilStats

extension SeriesView {
    /// Model `m` refitted on its baseline rows across all facilities (a fitted expectation), with its
    /// `arl0:` thresholds calibrated at the baseline's expectations. Reads the engine, changes nothing.
    func refitted(model m: Int) -> ModelRuntime {
        var model = models[m]
        let config = model.config
        model.problem = nil
        var rows = BaselineFit.Rows()
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
                    rows.append(y: r.outcome ? 1 : 0, exposure: nil, covariates: r.covariates, day: r.time.day)
                }
                if rows.count > before { patientsPerYear.append(Double(rows.count - before) / baselineYears) }
            } else {
                Self.forEachBucket(countSeries(job), unit: config.unit) { bucket in
                    let covariates = covariates[Int(bucket.tuple)]
                    guard hot[m].inBaseline(bucket.period), config.selects(covariates) else { return }
                    // A proportion's period without trials (or with none) says nothing about p.
                    if hot[m].needsTrials && bucket.trials < 1 { return }
                    rows.append(y: Double(bucket.events), exposure: bucket.exposure.isNaN ? nil : bucket.exposure,
                                trials: bucket.trials < 0 ? nil : Double(bucket.trials),
                                covariates: covariates, group: bucket.tuple, day: bucket.period.firstDay)
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
            baselineExpected = rows.covariates.indices.compactMap {
                try? expectation.value(covariates: rows.covariates[$0], exposure: rows.exposure[$0], day: rows.day[$0]).get()
            }
        } else {
            // The factor is computed once per covariate set.
            var factors: [Int32: Double?] = [:]
            for (i, group) in rows.group.enumerated() {
                let factor: Double?
                if let group, let known = factors[group] { factor = known } else {
                    factor = try? expectation.factor(covariates: rows.covariates[i]).get()
                    if let group { factors[group] = factor }
                }
                if let factor, let e = expectation.expected(factor: expectation.seasonal(factor, day: rows.day[i]),
                                                            exposure: rows.exposure[i], trials: rows.trials[i]) {
                    baselineExpected.append(e)
                }
            }
        }
        model.calibrate(baselineExpected: baselineExpected, baselineTrials: rows.trials.compactMap { $0 })
        return model
    }
}
