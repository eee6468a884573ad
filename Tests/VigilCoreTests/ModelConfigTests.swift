import Testing
import VigilStats
@testable import VigilCore

struct ModelConfigTests {
    func problems(_ yaml: String) -> [String] {
        switch ModelConfigParser.parse(data: Array(yaml.utf8), file: "m.yaml") {
        case .success: return []
        case let .failure(e): return e.problems.map(\.description)
        }
    }

    @Test func validModelWithDefaults() throws {
        let yaml = """
            model: clabsi-acute
            measure: CLABSI
            expected:
              kind: negative_binomial
              covariates: [teaching, bedsize]
              reference: { bedsize: small }
              baseline: { from: 2022-01, to: 2023-12 }
            detectors:
              - { id: nb, type: negbin_cusum, ratio: 1.5, arl0: 120 }
              - { id: ewma, type: ewma, L: 2.8 }

            """
        let m = try ModelConfigParser.parse(data: Array(yaml.utf8), file: "m.yaml").get()
        #expect(m.unit == .month && m.expected.offset && m.alert.cooldown == 0 && m.alert.severity == .warning)
        #expect(m.expected.references == ["bedsize": "small"])
        #expect(m.expected.baseline?.from.description == "2022-01" && m.expected.baseline?.to.description == "2023-12")
        #expect(m.detectors[0].threshold == nil && m.detectors[0].arl0 == 120)
        #expect(m.detectors[1].parameters["lambda"] == 0.2 && m.detectors[1].reset == .zero)
        #expect(m.version == ModelConfigParser.version(of: Array(yaml.utf8)) && m.version.count == 12)
    }

    /// Each message with its line and column, several per file (SPEC §2's example message included).
    @Test func everyProblemWithLineAndColumn() {
        let found = problems("""
            model: CLABSI acute
            measure: CLABSI
            unit: month
            expected:
              kind: poisson
              covariates: [teaching]
              baseline: { from: 2022-01, to: 2021-12 }
              offset: days
            detectors:
              - { id: cusum, type: poisson_cusum, ratio: 1, h: 4 }
              - { id: e, type: ewma, lambda: 1.5, L: 3, arl0: 100 }
              - { id: x, type: shewhart }
            alert: { severity: loud, cooldown: 2, extra: 1 }

            """)
        #expect(found == [
            "m.yaml:1:8: model: must match [a-z0-9_-]+",
            "m.yaml:7:13: expected.baseline: from (2022-01) is after to (2021-12)",
            "m.yaml:8:11: expected.offset: must be exposure or none",
            "m.yaml:10:46: detectors[0].ratio: must be a number > 0 and != 1",
            "m.yaml:11:34: detectors[1].lambda: must be a number in (0, 1]",
            "m.yaml:11:51: detectors[1].arl0: give L or arl0, not both",
            "m.yaml:12:20: detectors[2].type: must be one of poisson_cusum, negbin_cusum, normal_cusum, ewma, bernoulli_cusum, binomial_cusum, sir_interval",
            "m.yaml:13:20: alert.severity: must be one of info, warning, critical",
            "m.yaml:13:39: alert.extra: unknown key (allowed here: severity, cooldown, sinks, min_expected, false_alarms_per_year, stale_after, inhibit)",
        ])
    }

    @Test func yamlSyntaxErrorIsLocated() {
        let found = problems("model: a\nexpected: [\n")
        #expect(found.count == 1)
        #expect(found[0] == "m.yaml:3:1: not valid YAML: while parsing a flow node did not find expected node content")
    }

    @Test func kindsAndUnitsMustAgree() {
        let found = problems("""
            model: ssi
            measure: SSI_COLO
            unit: month
            expected: { kind: logistic, baseline: { from: 2022-01, to: 2022-12 } }
            detectors:
              - { id: c, type: bernoulli_cusum, odds_ratio: 2, h: 4 }

            """)
        #expect(found.contains { $0.contains("expected.kind: logistic models are patient-level") })
        #expect(found.contains { $0.contains("bernoulli_cusum watches patient-level records") })
        let nb = problems("""
            model: x
            measure: CLABSI
            expected: { kind: rate, rate: 0.001 }
            detectors:
              - { id: c, type: negbin_cusum, ratio: 2, h: 4 }
              - { id: d, type: poisson_cusum, ratio: 2, arl0: 100 }

            """)
        #expect(nb.contains { $0.contains("negbin_cusum needs theta") })
        #expect(nb.contains { $0.contains("give arl_expected or expected.baseline") })
    }

    @Test func calibrationSolvesArl0() throws {
        let stated = """
            model: x
            measure: CLABSI
            expected: { kind: mean, mean: 2 }
            detectors:
              - { id: c, type: normal_cusum, k: 0.5, arl0: 335.37 }
              - { id: p, type: poisson_cusum, ratio: 2, arl0: 500, arl_expected: 2 }

            """
        let rate = """
            model: y
            measure: CAUTI
            expected: { kind: rate, rate: 0.001 }
            detectors:
              - { id: c, type: normal_cusum, k: 0.5, arl0: 335.37 }

            """
        let engine = Engine(models: [try ModelConfigParser.parse(data: Array(stated.utf8), file: "m.yaml").get(),
                                     try ModelConfigParser.parse(data: Array(rate.utf8), file: "r.yaml").get()])
        // Without an E (a rate model), on N(0, 1): METHODS.md's normal CUSUM k = 0.5, h = 4 has ARL0 335.37.
        #expect(abs((engine.models[1].thresholds[0] ?? 0) - 4) < 1e-3)
        // A mean model's z are of Poisson(2) counts: its ARL0 on those counts reaches the target.
        let hz = try #require(engine.models[0].thresholds[0])
        let counts = try VigilStats.ARL.Counts(expected: 2)
        #expect(try VigilStats.ARL.normalCUSUM(k: 0.5, h: hz, counts: counts, mean: 2) >= 335.37)
        #expect(abs(hz - 4) > 0.05, "counts need another h than N(0, 1): \(hz)")
        // The count CUSUM's ARL is a step function of h: the solved h is mid-step, one step lower is below 500.
        let h = try #require(engine.models[0].thresholds[1])
        let chart = try VigilStats.ARL.poissonLattice(ratio: 2, expected: 2)
        let step = chart.scale / Double(VigilStats.ARL.latticeDenominator(k: chart.k, h: h / chart.scale))
        #expect(try VigilStats.ARL.poissonCUSUM(ratio: 2, h: h, expected: 2) >= 500)
        #expect(try VigilStats.ARL.poissonCUSUM(ratio: 2, h: h - step, expected: 2) < 500)
    }
}
