import Foundation
import Testing
import VigilStats
@testable import VigilCore

/// Baselines that real networks send and that once stopped monitoring: each model is contained, reported,
/// and every other model goes on.
struct DegenerateBaselineTests {
    func model(_ yaml: String) throws -> ModelConfig {
        try ModelConfigParser.parse(data: Array(yaml.utf8), file: "m.yaml").get()
    }

    func records(_ csv: String) -> [Record] {
        var out: [Record] = []
        RecordReader(mapping: ColumnMapping()).read(source: "feed.csv", bytes: Array(csv.utf8), format: .csv,
                                                    accept: { out.append($0) }, reject: { Issue.record("rejected: \($0)") })
        return out
    }

    /// Monthly rows for facilities × months with the given events.
    func feed(measure: String, facilities: [String], months: [String], events: (String, String) -> Int,
              extra: (String) -> String = { _ in "" }, header: String = "") -> String {
        var lines = ["facility_id,measure,period,events" + header]
        for f in facilities { for m in months { lines.append("\(f),\(measure),\(m),\(events(f, m))\(extra(f))") } }
        return lines.joined(separator: "\n") + "\n"
    }

    static let baselineMonths = (1...12).map { String(format: "2023-%02d", $0) }
    static let monitoredMonths = (1...6).map { String(format: "2024-%02d", $0) }

    /// All-zero MRSA counts (no offset) made the NB fit return θ = NaN and the NB CUSUM trap. Now the model is
    /// unfitted with its reason, the CLABSI model beside it alerts, and a revision that brings baseline
    /// events starts the MRSA model.
    @Test func allZeroBaselineLeavesTheModelUnfittedAndOthersGoOn() throws {
        let mrsa = try model("""
            model: mrsa
            measure: MRSA
            expected: { kind: negative_binomial, offset: none, baseline: { from: 2023-01, to: 2023-12 } }
            detectors: [{ id: nb, type: negbin_cusum, ratio: 2, h: 3 }]

            """)
        let clabsi = try model("""
            model: clabsi
            measure: CLABSI
            expected: { kind: mean, mean: 1 }
            detectors: [{ id: cusum, type: poisson_cusum, ratio: 2, h: 3 }]

            """)
        let engine = Engine(models: [mrsa, clabsi])
        let facilities = ["A", "B", "C", "D"]
        let months = Self.baselineMonths + Self.monitoredMonths
        var batch = records(feed(measure: "MRSA", facilities: facilities, months: months) { _, m in m.hasPrefix("2024") ? 3 : 0 })
        batch += records(feed(measure: "CLABSI", facilities: ["A"], months: Self.monitoredMonths) { _, _ in 6 })
        let outcome = engine.apply(batch)
        #expect(outcome.rejected.isEmpty)
        guard case let .unfitted(reason) = engine.models[0].status else {
            Issue.record("mrsa should be unfitted, is \(engine.models[0].status)"); return
        }
        #expect(reason.contains("no events"))
        #expect(engine.models[0].statusMessages.first?.hasPrefix("model mrsa unfitted") == true)
        #expect(engine.models[1].status == .fitted)
        #expect(outcome.events.contains { $0.model == "clabsi" })
        #expect(!outcome.events.contains { $0.model == "mrsa" })

        // A baseline revision with events: the model is fitted and its series evaluated.
        let revision = engine.apply(records("facility_id,measure,period,events\nA,MRSA,2023-03,1\nB,MRSA,2023-07,2\n"))
        #expect(engine.models[0].status != .unfitted(reason))
        #expect(engine.models[0].expectation != nil)
        #expect(revision.events.contains { $0.model == "mrsa" })
    }

    /// A level without baseline events: E ≈ 1e-9 there. The fit warns; with `min_expected` its signals raise no
    /// alert (counted as suppressed, still signals in the trace); alerts below E = 1 carry no SIR.
    @Test func levelWithoutEventsIsWarnedAndMinExpectedSuppresses() throws {
        let yaml = """
            model: cdi
            measure: CDI
            expected: { kind: poisson, covariates: [unit], offset: none, baseline: { from: 2023-01, to: 2023-12 } }
            detectors: [{ id: cusum, type: poisson_cusum, ratio: 2, h: 0.5 }]
            alert: { min_expected: 0.1 }

            """
        let engine = Engine(models: [try model(yaml)])
        let units = ["A": "icu", "B": "icu", "C": "ped"]
        let csv = feed(measure: "CDI", facilities: ["A", "B", "C"], months: Self.baselineMonths + Self.monitoredMonths,
                       events: { f, m in f == "C" ? (m == "2024-03" ? 1 : 0) : (m >= "2024-02" ? 4 : ((m.hasSuffix("1") ? 1 : 0))) },
                       extra: { ",\(units[$0]!)" }, header: ",unit")
        let outcome = engine.apply(records(csv))
        guard case let .fittedWithWarnings(warnings) = engine.models[0].status else {
            Issue.record("expected warnings, got \(engine.models[0].status)"); return
        }
        #expect(warnings.contains { $0.contains("unit: no events in the baseline at level ped") })
        #expect(outcome.suppressed["cdi"] == 1)
        #expect(!outcome.events.contains { $0.facility == "C" })
        var signalled = false
        engine.trace { row in if row.facility == "C" && row.signal { signalled = true } }
        #expect(signalled, "the suppressed signal is still a signal in the trace")
        let fired = try #require(outcome.events.first { $0.facility == "A" })
        let json = fired.json.serialized()
        if fired.expected < 1 {
            #expect(json.contains("\"sir\":null") && json.contains("\"sir_ci95\":null"))
            #expect(!fired.summary.contains("SIR"))
        } else {
            #expect(fired.summary.contains("(SIR "))
        }
        // The same batch again counts nothing new.
        #expect(engine.apply(records(csv)).suppressed.isEmpty)
    }

    /// Rows counted per distinct covariate set, then per level: a level of patients who all had the outcome
    /// and a level without events are both named, and a level with some of each is not.
    @Test func levelsAllOrNoneAreNamedFromTheirSets() {
        // Sets 0 and 2 are icu (3 rows, 1 event), set 1 is ped (2 rows, 2 events); by ward, set 2 (east) has none.
        let levels: [(name: String, ofSet: [String])] = [("unit", ["icu", "ped", "icu"]), ("ward", ["west", "west", "east"])]
        let warnings = BaselineFit.levelsWithoutEvents(levels, distinctOf: [0, 1, 2, 0, 1], sets: 3, y: [1, 1, 0, 0, 1],
                                                       binomial: true)
        #expect(warnings.count == 2, "\(warnings)")
        #expect(warnings.contains { $0.hasPrefix("unit: every baseline patient at level ped had the outcome") })
        #expect(warnings.contains { $0.hasPrefix("ward: no events in the baseline at level east:") })
        #expect(BaselineFit.levelsWithoutEvents(levels, distinctOf: [0, 1, 2, 0, 1], sets: 3, y: [1, 1, 0, 0, 1],
                                                binomial: false).count == 1)
    }

    @Test func sirOnlyWhereNHSNReportsOne() {
        func alert(expected: Double) -> Alert {
            Alert(id: "x", status: .firing, model: "m", modelVersion: "v", detector: "d", detectorType: "poisson_cusum",
                  facility: "F", measure: "CLABSI", period: "2025-03", signalStart: "2025-01", observed: 3,
                  expected: expected, statistic: 4.4, threshold: 4, severity: .warning, raisedAt: Date(timeIntervalSince1970: 0),
                  patients: nil)
        }
        let low = alert(expected: 0.99)
        #expect(low.sir == nil && low.sirInterval == nil)
        #expect(low.json.serialized().contains("\"sir\":null,\"sir_ci95\":null"))
        #expect(low.summary == "CLABSI at F: 3 observed vs 0.99 expected in 2025-03; CUSUM 4.40 > 4.0")
        let one = alert(expected: 1)
        #expect(one.sir == 3 && one.sirInterval != nil)
        #expect(one.summary.contains("(SIR 3.00)"))
    }

    /// A separated logistic baseline: fitted with R's warnings; infected patients get risks near 0, and the
    /// Bernoulli CUSUM stays finite.
    @Test func separatedLogisticBaselineIsFittedWithWarningsAndSound() throws {
        let engine = Engine(models: [try model("""
            model: ssi
            measure: SSI
            unit: patient
            expected: { kind: logistic, covariates: [risk], baseline: { from: 2023-01-01, to: 2023-12-31 } }
            detectors: [{ id: bc, type: bernoulli_cusum, odds_ratio: 2, h: 3 }]

            """)])
        var lines = ["facility_id,measure,time,outcome,risk"]
        for i in 0..<200 {
            let risk = Double(i) / 200
            lines.append("F\(i % 4),SSI,2023-\(String(format: "%02d", i % 12 + 1))-10,\(risk > 0.8 ? 1 : 0),\(risk)")
        }
        for i in 0..<40 { lines.append("F\(i % 4),SSI,2024-02-\(String(format: "%02d", i % 28 + 1)),1,0.5") }
        let outcome = engine.apply(records(lines.joined(separator: "\n") + "\n"))
        guard case let .fittedWithWarnings(warnings) = engine.models[0].status else {
            Issue.record("expected warnings, got \(engine.models[0].status)"); return
        }
        #expect(warnings.contains { $0.contains("fitted probabilities numerically 0 or 1") })
        var finite = true
        engine.trace { row in finite = finite && row.statistic.isFinite && row.expected.isFinite }
        #expect(finite)
        #expect(outcome.events.allSatisfy { $0.statistic.isFinite })
    }

    /// θ → ∞: the NB CUSUM's weight tends to the Poisson CUSUM's, and at θ = ∞ equals it.
    @Test func negativeBinomialCUSUMTendsToPoisson() {
        for (o, e) in [(0.0, 0.3), (3.0, 1.2), (12.0, 4.0)] {
            let poisson = PoissonCUSUM.weight(observed: o, expected: e, ratio: 1.8, logRatio: log(1.8))
            let direct = { (t: Double) in o * log(1.8) + (o + t) * log((t + e) / (t + 1.8 * e)) }
            for theta in [0.5, 3.0, 40.0] {
                let w = NegativeBinomialCUSUM.weight(observed: o, expected: e, ratio: 1.8, logRatio: log(1.8), theta: theta)
                #expect(abs(w - direct(theta)) <= 1e-12 * max(1, abs(w)))
            }
            for theta in [1e9, 1e15, 1e300, .infinity] {
                let w = NegativeBinomialCUSUM.weight(observed: o, expected: e, ratio: 1.8, logRatio: log(1.8), theta: theta)
                #expect(abs(w - poisson) <= 1e-8 * max(1, abs(poisson)), "θ \(theta): \(w) vs \(poisson)")
            }
        }
        let arlP = try? ARL.poissonCUSUM(ratio: 2, h: 3, expected: 2)
        // The same chain; its solve may run on BLAS threads that sum in another order, so to 1e-12, not bit for bit.
        let arlInfinite = try? ARL.negativeBinomialCUSUM(ratio: 2, theta: .infinity, h: 3, expected: 2)
        #expect(arlP != nil && abs((arlInfinite ?? .nan) - (arlP ?? .nan)) <= 1e-12 * (arlP ?? .nan))
        for theta in [1e7, 1e12, 1e300] {
            let arl = (try? ARL.negativeBinomialCUSUM(ratio: 2, theta: theta, h: 3, expected: 2)) ?? .nan
            #expect(abs(arl - (arlP ?? 0)) <= 1e-4 * (arlP ?? 0), "θ \(theta): ARL0 \(arl) vs Poisson \(arlP ?? 0)")
        }
        for k in 0..<30 {
            let p = Poisson(mean: 3.5).probability(k)
            #expect(abs(NegativeBinomial(mean: 3.5, theta: 1e15).probability(k) - p) <= 1e-11 * p)
        }
    }
}
