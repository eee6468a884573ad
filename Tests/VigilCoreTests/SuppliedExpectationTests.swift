import Foundation
import Testing
import VigilStats
@testable import VigilCore

/// `expected: { kind: supplied, column: numPred }`: E is the feed's own predicted count (NHSN's numPred,
/// CMS's predicted cases), summed over a period's records, so the alert's SIR is NHSN's O/numPred.
struct SuppliedExpectationTests {
    static let model = """
        model: clabsi-nhsn
        measure: CLABSI
        unit: month
        expected: { kind: supplied, column: numPred }
        detectors: [{ id: cusum, type: poisson_cusum, ratio: 2, h: 2.5 }]

        """

    @Test func sirIsObservedOverThePublishedPredictedCount() throws {
        let engine = Engine(models: [try ModelConfigParser.parse(data: Array(Self.model.utf8), file: "m.yaml").get()])
        var records: [Record] = []
        var rejected: [String] = []
        // Two records of March (days) are one month: O = 7, E = 0.9 + 1.3 = 2.2.
        let feed = """
            facility_id,measure,period,events,NUMPRED
            A,CLABSI,2024-01,1,1.5
            A,CLABSI,2024-02,0,1.2
            A,CLABSI,2024-03-01,4,0.9
            A,CLABSI,2024-03-15,3,1.3
            B,CLABSI,2024-01,2,0
            B,CLABSI,2024-02,2,

            """
        RecordReader().read(source: "feed.csv", bytes: Array(feed.utf8), format: .csv,
                            accept: { records.append($0) }, reject: { rejected.append($0.description) })
        let outcome = engine.apply(records)
        #expect(rejected.isEmpty)
        #expect(outcome.rejected.map(\.description) == [
            "feed.csv:6: numPred: 0.0 is not an expected count > 0 (model clabsi-nhsn)",
            "feed.csv:7: numPred: missing; the model needs it (model clabsi-nhsn)",
        ])
        // S: max(0, 1·ln 2 − 1.5) = 0, then 0, then 7·ln 2 − 2.2 = 2.652 > 2.5 in 2024-03.
        let alerts = outcome.events.filter { $0.status == .firing }
        #expect(alerts.count == 1)
        guard let alert = alerts.first else { return }
        #expect(alert.period == "2024-03" && alert.observed == 7 && abs(alert.expected - 2.2) < 1e-12)
        #expect(abs(alert.statistic - (7 * log(2) - 2.2)) < 1e-12)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(alert.json.serialized().utf8)) as? [String: Any])
        #expect(abs((json["sir"] as? Double ?? 0) - 7 / 2.2) < 1e-12)
        // The interval is SIR's mid-P interval (checked against R in SIRTests) at O = 7, E = 2.2.
        let ci = StandardizedRatio(observed: 7, expected: 2.2).midPInterval()
        let written = json["sir_ci95"] as? [Double] ?? []
        #expect(written.count == 2 && zip(written, [ci.lower, ci.upper]).allSatisfy { abs($0 - $1) <= 1e-12 * $1 })
    }

    @Test func suppliedTakesNoFittingKeys() {
        let bad = """
            model: x
            measure: CLABSI
            expected: { kind: supplied, column: numPred, baseline: { from: 2023-01, to: 2023-12 }, covariates: [a] }
            detectors: [{ id: c, type: poisson_cusum, ratio: 2, h: 3 }]

            """
        guard case let .failure(errors) = ModelConfigParser.parse(data: Array(bad.utf8), file: "m.yaml") else {
            Issue.record("accepted"); return
        }
        #expect(errors.problems.map(\.message).sorted() == [
            "expected.baseline: does not apply to kind supplied", "expected.covariates: does not apply to kind supplied",
        ])
    }
}
