import Foundation
import Testing
import VigilStats
@testable import VigilCore

/// Events out of trials (`expected.kind: binomial | beta_binomial`, `binomial_cusum`): E = n p from the
/// grouped logistic fit of the baseline, the CUSUM on the events out of each period's n.
struct ProportionModelTests {
    static func model(kind: String = "binomial", detector: String = "{ id: cusum, type: binomial_cusum, odds_ratio: 2, h: 5 }") -> String {
        """
        model: falls
        measure: FALLS
        unit: month
        expected: { kind: \(kind), baseline: { from: 2023-01, to: 2023-12 } }
        detectors: [\(detector)]

        """
    }

    /// Six homes, two years; home H1 triples its odds in 2024.
    static func feed(trialsColumn: String = "trials") -> String {
        var lines = ["facility_id,measure,period,events,\(trialsColumn)"]
        var rng = SplitMix64(seed: 11)
        for h in 1...6 {
            for month in 0..<24 {
                let n = 60 + 10 * h
                let p = h == 1 && month >= 12 ? 0.12 : 0.04
                var y = 0
                for _ in 0..<n where rng.nextUniform() < p { y += 1 }
                lines.append("H\(h),FALLS,\(2023 + month / 12)-\(String(format: "%02d", month % 12 + 1)),\(y),\(n)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func read(_ text: String) -> (records: [Record], rejected: [String]) {
        var records: [Record] = []
        var rejected: [String] = []
        RecordReader().read(source: "feed.csv", bytes: Array(text.utf8), format: .csv,
                            accept: { records.append($0) }, reject: { rejected.append($0.description) })
        return (records, rejected)
    }

    /// Intercept-only grouped logistic: p̂ = Σy/Σn over the baseline (the MLE in closed form); the CUSUM is
    /// W = y ln 2 − n ln(1 + p̂) recomputed by hand (h = 5), and only H1 signals.
    @Test func binomialCUSUMOnTheFittedProportion() throws {
        let engine = Engine(models: [try ModelConfigParser.parse(data: Array(Self.model().utf8), file: "m.yaml").get()])
        let (records, rejected) = Self.read(Self.feed())
        #expect(rejected.isEmpty)
        let outcome = engine.apply(records)
        #expect(outcome.rejected.isEmpty)
        var events = 0, trials = 0
        for case let .aggregate(r) in records where r.period.description.hasPrefix("2023") {
            events += r.events
            trials += r.trials ?? 0
        }
        let p = Double(events) / Double(trials)
        let expectation = try #require(engine.models[0].expectation)
        #expect(expectation.proportion && expectation.rho == nil)
        var rows: [TraceRow] = []
        engine.trace { rows.append($0) }
        var s: [String: Double] = [:]
        for row in rows {
            let record = records.compactMap { r -> AggregateRecord? in
                if case let .aggregate(a) = r, a.facility == row.facility, a.period.description == row.period { return a }
                return nil
            }.first
            let n = Double(try #require(record?.trials))
            expectClose(row.expected, n * p, relative: 1e-6, "E of \(row.facility) \(row.period)")
            var next = max(0, (s[row.facility] ?? 0) + Double(row.observed) * log(2) - n * log(1 - p + 2 * p))
            expectClose(row.statistic, next, relative: 1e-6, absolute: 1e-9, "S of \(row.facility) \(row.period)")
            if next > 5 { next = 0 }
            s[row.facility] = next
        }
        #expect(rows.count == 6 * 12)
        let firing = Set(outcome.events.filter { $0.status == .firing }.map(\.facility))
        #expect(firing == ["H1"])
        // The alert says what the events are out of, and survives the daemon's JSON round trip.
        let alert = try #require(outcome.events.first)
        #expect(alert.trials == 70 && alert.summary.contains("\(alert.observed) of 70 observed"), "\(alert.summary)")
        #expect(Alert(json: alert.json.serialized())?.trials == 70)
    }

    /// A record without trials cannot be a proportion; more events than trials is the reader's error.
    @Test func trialsAreRequiredAndBoundTheEvents() throws {
        let engine = Engine(models: [try ModelConfigParser.parse(data: Array(Self.model().utf8), file: "m.yaml").get()])
        let (records, rejected) = Self.read("""
            facility_id,measure,period,events,trials
            A,FALLS,2023-01,3,40
            A,FALLS,2023-02,2,
            A,FALLS,2023-03,5,4
            A,FALLS,2023-04,1,x

            """)
        #expect(rejected == [
            "feed.csv:4: trials: 4 is fewer than the 5 events (events are out of trials)",
            "feed.csv:5: trials: \"x\" is not a count >= 0",
        ])
        let outcome = engine.apply(records)
        #expect(outcome.rejected.map(\.description) == ["feed.csv:3: trials: missing; model falls watches events out of trials"])
    }

    /// beta_binomial: ρ from the baseline fit (= GLM.fit on the same grouped rows), the EWMA's z on the
    /// beta-binomial variance n p (1 − p)(1 + (n − 1)ρ), and an arl0 solved at the median baseline n and E.
    @Test func betaBinomialCarriesRhoIntoTheDetectors() throws {
        let text = Self.model(kind: "beta_binomial", detector: "{ id: cusum, type: binomial_cusum, odds_ratio: 2, arl0: 100 }")
        let engine = Engine(models: [try ModelConfigParser.parse(data: Array(text.utf8), file: "m.yaml").get()])
        let (records, _) = Self.read(Self.feed())
        _ = engine.apply(records)
        let model = engine.models[0]
        let rho = try #require(model.expectation?.rho)
        var y: [Double] = [], n: [Double] = []
        for case let .aggregate(r) in records where r.period.description.hasPrefix("2023") {
            y.append(Double(r.events) / Double(r.trials!))
            n.append(Double(r.trials!))
        }
        let direct = try GLM.fit(GLMProblem(response: y, weights: n, design: DesignMatrix(rowCount: y.count, covariates: [])),
                                 family: .betaBinomial)
        expectClose(rho, try #require(direct.rho), relative: 1e-9, "rho")
        let input = try #require(model.expectation).input(observed: 5, expected: 4, trials: 100)
        expectClose(input.variance, 4 * 0.96 * (1 + 99 * rho), relative: 1e-12, "beta-binomial variance")
        let h = try #require(model.thresholds[0])
        let medianN = try #require(model.medianTrials), medianE = try #require(model.medianExpected)
        let chart = try ARL.binomialLattice(oddsRatio: 2, counts: ARL.Counts(trials: Int(medianN.rounded()), risk: medianE / medianN.rounded(), rho: rho))
        let arl = try chart.arl(h: h)
        #expect(arl >= 100 && arl < 110, "ARL0 \(arl) at h \(h)")
    }

    /// per_series: each home's threshold is solved at its own mean baseline n and E (binomial counts): its ARL0
    /// there reaches the target and stays close to it, and homes of different sizes get different h.
    @Test func perSeriesThresholdsAtEachSeriesN() throws {
        let text = Self.model(detector: "{ id: cusum, type: binomial_cusum, odds_ratio: 2, arl0: 200, per_series: true }")
        let engine = Engine(models: [try ModelConfigParser.parse(data: Array(text.utf8), file: "m.yaml").get()])
        let (records, _) = Self.read(Self.feed())
        _ = engine.apply(records)
        let p = try #require(engine.models[0].expectation).factor(covariates: .none).get()
        var rows: [TraceRow] = []
        engine.trace { rows.append($0) }
        var thresholds: [String: Double] = [:]
        for row in rows { thresholds[row.facility] = row.threshold }
        #expect(Set(thresholds.values).count > 1, "\(thresholds)")
        for (facility, h) in thresholds {
            let n = 60 + 10 * Int(facility.dropFirst())!   // every month of a home has the same n
            let e = SeriesThresholds.gridValue(SeriesThresholds.level(Double(n) * p))
            let chart = try ARL.binomialLattice(oddsRatio: 2, counts: ARL.Counts(trials: n, risk: e / Double(n)))
            let arl = try chart.arl(h: h)
            #expect(arl >= 200 && arl < 1.3 * 200, "\(facility): h \(h), ARL0 \(arl)")
        }
    }

    @Test func binomialCUSUMNeedsAProportionModel() {
        let bad = """
            model: x
            measure: CLABSI
            expected: { kind: rate, rate: 0.001 }
            detectors: [{ id: c, type: binomial_cusum, odds_ratio: 2, h: 3 }]

            """
        guard case let .failure(errors) = ModelConfigParser.parse(data: Array(bad.utf8), file: "m.yaml") else {
            Issue.record("accepted"); return
        }
        #expect(errors.problems.map(\.message) == [
            "detectors[0].type: binomial_cusum watches events out of trials: the model needs expected.kind binomial or beta_binomial",
        ])
    }
}

private func expectClose(_ actual: Double, _ expected: Double, relative: Double, absolute: Double = 0,
                         _ what: @autoclosure () -> String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    let tolerance = max(relative * abs(expected), absolute)
    #expect(abs(actual - expected) <= tolerance, "\(what()): \(actual) vs \(expected)", sourceLocation: sourceLocation)
}
