import Foundation
import Testing
@testable import VigilCore
@testable import VigilStats

/// Serfling terms against R (make-seasonal.R): u = yday of the period's first day / 365.25.
struct SeasonalTests {
    static func referenceRows(_ name: String) throws -> [String: [String: Double]] {
        let table = try Reference.table(name)
        let kinds = table.column("kind")!, names = table.column("name")!, values = table.column("value")!
        var out: [String: [String: Double]] = [:]
        for i in 0..<table.rowCount { out[kinds[i], default: [:]][names[i]] = Double(values[i]) }
        return out
    }

    @Test func uIsRsYdayOver365() {
        // as.POSIXlt(as.Date("2024-03-01"))$yday = 60 (a leap year); ISO week 2023-W01 starts on 2023-01-02.
        #expect(Seasonal.u(day: CivilDate.days(2024, 3, 1)) == 60 / 365.25)
        #expect(Seasonal.u(day: CivilDate.days(2023, 1, 1)) == 0)
        #expect(Period.parse("2023-W01")!.firstDay == CivilDate.days(2023, 1, 2))
        #expect(Seasonal.names(harmonics: 2) == ["sin1", "cos1", "sin2", "cos2"])
    }

    /// `vigil fit --seasonal 2 --period-column period`: R's glm with sin(2πku), cos(2πku), k = 1, 2.
    @Test func fitWithHarmonicsMatchesR() throws {
        let problem = try GLMDataSet.load(path: Reference.path("seasonal-monthly-data.csv"), family: .poisson, response: "events",
                                          offset: "exposure", covariates: [],
                                          seasonal: .init(column: "period", harmonics: 2), commentByte: UInt8(ascii: "#"))
        let fit = try GLM.fit(problem, family: .poisson)
        let r = try Self.referenceRows("seasonal-monthly-poisson-fit.csv")
        #expect(fit.coefficients.map(\.name) == ["intercept", "sin1", "cos1", "sin2", "cos2"])
        for c in fit.coefficients {
            expectClose(try #require(c.estimate), r["estimate"]![c.name]!, relative: 1e-6, absolute: 1e-9, c.name)
            expectClose(try #require(c.standardError), r["std_error"]![c.name]!, relative: 1e-4, c.name)
        }
        expectClose(fit.deviance, r["scalar"]!["deviance"]!, relative: 1e-6, "deviance")
    }

    /// A weekly NB2 model with `seasonal: { harmonics: 1 }` fitted on 2023: its coefficients and the E of
    /// every monitored week equal R's glm.nb and predict().
    @Test func seasonalModelExpectationMatchesR() throws {
        let model = try ModelConfigParser.parse(data: Array("""
            model: admissions
            measure: ADMISSIONS
            unit: week
            expected:
              kind: negative_binomial
              covariates: [teaching]
              offset: exposure
              seasonal: { harmonics: 1 }
              baseline: { from: 2023-W01, to: 2023-W52 }
            detectors: [{ id: c, type: normal_cusum, k: 0.5, h: 5 }]

            """.utf8), file: "m.yaml").get()
        let text = try String(contentsOfFile: Reference.path("seasonal-weekly-data.csv"), encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n") + "\n"
        var records: [Record] = []
        RecordReader(mapping: ColumnMapping()).read(source: "weekly.csv", bytes: Array(text.utf8), format: .csv,
                                                    accept: { records.append($0) }, reject: { Issue.record("\($0)") })
        let engine = Engine(models: [model])
        _ = engine.apply(records)
        #expect(engine.models[0].status == .fitted, "\(engine.models[0].status)")
        let r = try Self.referenceRows("seasonal-weekly-negbin-fit.csv")
        for c in try #require(engine.models[0].fit).coefficients {
            expectClose(try #require(c.estimate), r["estimate"]![c.name]!, relative: 1e-6, absolute: 1e-9, c.name)
        }
        let expected = try Reference.table("seasonal-weekly-expected.csv")
        var reference: [String: Double] = [:]
        for i in 0..<expected.rowCount {
            reference["\(expected.column("facility_id")![i]) \(expected.column("period")![i])"] = Double(expected.column("expected")![i])
        }
        var compared = 0
        engine.trace { row in
            guard let e = reference["\(row.facility) \(row.period)"] else { return }
            expectClose(row.expected, e, relative: 1e-6, "\(row.facility) \(row.period)")
            compared += 1
        }
        #expect(compared == expected.rowCount)
        // A feed column named like a seasonal term is refused for this model.
        let clash = engine.apply([try #require(records.first.map { _ in
            var out: [Record] = []
            RecordReader(mapping: ColumnMapping()).read(source: "x.csv", bytes: Array("facility_id,measure,period,events,exposure,teaching,sin1\nH01,ADMISSIONS,2024-W21,100,399,0,0.5\n".utf8),
                                                        format: .csv, accept: { out.append($0) }, reject: { _ in })
            return out[0]
        })])
        #expect(clash.rejected.first?.field == "sin1")
    }

    @Test func harmonicsAreValidated() {
        func problems(_ unit: String, _ k: Int) -> [String] {
            let yaml = """
                model: x
                measure: X
                unit: \(unit)
                expected: { kind: poisson, seasonal: { harmonics: \(k) }, baseline: { from: 2023, to: 2023 } }
                detectors: [{ id: c, type: poisson_cusum, ratio: 2, h: 3 }]

                """
            switch ModelConfigParser.parse(data: Array(yaml.utf8), file: "m.yaml") {
            case .success: return []
            case let .failure(e): return e.problems.map(\.description)
            }
        }
        #expect(problems("year", 1).contains { $0.contains("a yearly model has no season") })
        #expect(problems("month", 6).contains { $0.contains("must be < 6") })
    }
}
