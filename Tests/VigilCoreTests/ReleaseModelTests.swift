import Foundation
import Testing
import VigilStats
@testable import VigilCore

/// `unit: release`: CMS's overlapping 12-month windows, each compared once — O/E with NHSN's mid-P interval,
/// a signal when the interval lies above 1, and no CUSUM across releases.
struct ReleaseModelTests {
    static let model = """
        model: cms-clabsi
        measure: CLABSI
        unit: release
        expected: { kind: supplied, column: predicted }

        """

    /// Two hospitals, three quarterly releases of overlapping windows, in CMS's long layout read with the
    /// shipped mapping.
    static func feed() -> String {
        let header = "Facility ID,Facility Name,Address,City/Town,State,ZIP Code,County/Parish,Telephone Number,"
            + "Measure ID,Measure Name,Compared to National,Score,Footnote,Start Date,End Date"
        var lines = [header]
        // (hospital, window end, observed, device days, predicted)
        let windows: [(String, String, String, Int, Int, Double)] = [
            ("010001", "01/01/2023", "12/31/2023", 14, 5212, 4.1),
            ("010001", "04/01/2023", "03/31/2024", 9, 5300, 4.3),
            ("010001", "07/01/2023", "06/30/2024", 4, 5100, 4.0),
            ("010002", "01/01/2023", "12/31/2023", 3, 2100, 2.9),
            ("010002", "04/01/2023", "03/31/2024", 2, 2050, 2.8),
            ("010002", "07/01/2023", "06/30/2024", 0, 2000, 2.7),
        ]
        for (id, start, end, o, days, e) in windows {
            let prefix = "\(id),\"HOSPITAL \(id)\",1 MAIN ST,SPRINGFIELD,AL,36000,MADISON,(256) 555-0100"
            for (measure, value) in [("HAI_1_NUMERATOR", "\(o)"), ("HAI_1_DOPC", "\(days)"), ("HAI_1_ELIGCASES", "\(e)"),
                                     ("HAI_1_SIR", String(format: "%.3f", Double(o) / e))] {
                lines.append("\(prefix),\(measure),\"CLABSI\",No Different Than National Benchmark,\(value),,\(start),\(end)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test func eachReleaseIsComparedOnceByItsInterval() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let mapping = try ColumnMappingParser.load(path: root.appendingPathComponent("Models/columns/cms-hai-hospital.yaml").path)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cms-\(UUID().uuidString).csv").path
        try Self.feed().write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var records: [Record] = []
        var rejected: [RowError] = []
        try RecordReader(mapping: mapping).read(path: path, accept: { records.append($0) }, reject: { rejected.append($0) })
        #expect(rejected.isEmpty, "\(rejected)")
        #expect(records.count == 6)
        let engine = Engine(models: [try ModelConfigParser.parse(data: Array(Self.model.utf8), file: "m.yaml").get()])
        let outcome = engine.apply(records)
        #expect(outcome.rejected.isEmpty)
        var rows: [TraceRow] = []
        engine.trace { rows.append($0) }
        #expect(rows.count == 6, "one comparison per hospital and release")
        for row in rows {
            let interval = StandardizedRatio(observed: row.observed, expected: row.expected).midPInterval()
            #expect(abs(row.statistic - interval.lower) <= 1e-12 * max(1, interval.lower), "\(row.facility) \(row.period)")
            #expect(row.signal == (interval.lower > 1))
            #expect(row.threshold == 1)
        }
        // 14 against 4.1 (mid-P lower limit 1.95) and 9 against 4.3 (1.01) are worse than expected; 4 against
        // 4.0 is not, whatever came before it: nothing is carried across releases.
        let firing = outcome.events.filter { $0.status == .firing }.map { "\($0.facility) \($0.period)" }.sorted()
        #expect(firing == ["010001 2023-12-31", "010001 2024-03-31"])
        let alert = try #require(outcome.events.first { $0.period == "2023-12-31" })
        #expect(alert.signalStart == "2023-12-31" && alert.observed == 14)
        #expect(alert.summary.contains("worse than expected"), "\(alert.summary)")
    }

    @Test func releaseModelsRefuseSequentialDetectorsAndFits() {
        let bad = """
            model: x
            measure: CLABSI
            unit: release
            expected: { kind: poisson, baseline: { from: 2023-01-01, to: 2023-12-31 } }
            detectors: [{ id: c, type: poisson_cusum, ratio: 2, h: 3 }]

            """
        guard case let .failure(errors) = ModelConfigParser.parse(data: Array(bad.utf8), file: "m.yaml") else {
            Issue.record("accepted"); return
        }
        #expect(errors.problems.map(\.message) == [
            "expected.kind: unit: release takes E from the feed (supplied) or states it (mean, rate, coefficients): there is no baseline of overlapping windows to fit",
            "expected.baseline: does not apply to unit: release (nothing is fitted)",
            "detectors[0].type: unit: release compares each published window once: use sir_interval (a poisson_cusum over overlapping windows would count the same events many times)",
        ])
        let monthly = """
            model: x
            measure: CLABSI
            expected: { kind: supplied, column: predicted }
            detectors: [{ id: s, type: sir_interval }]

            """
        guard case let .failure(more) = ModelConfigParser.parse(data: Array(monthly.utf8), file: "m.yaml") else {
            Issue.record("accepted"); return
        }
        #expect(more.problems.map(\.message) == ["detectors[0].type: sir_interval compares published windows once each: the model needs unit: release"])
    }

    /// The shipped release models (Models/cms/) take the CMS fixtures read with the shipped mappings whole:
    /// nothing rejected, one comparison per hospital, measure and release.
    @Test func shippedReleaseModelsTakeTheCMSFixtures() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let engine = Engine(models: try ModelConfigParser.load(path: root.appendingPathComponent("Models/cms").path))
        var records: [Record] = []
        for name in ["cms-hai-hospital", "cms-hrrp"] {
            let mapping = try ColumnMappingParser.load(path: root.appendingPathComponent("Models/columns/\(name).yaml").path)
            try RecordReader(mapping: mapping).read(path: root.appendingPathComponent("Tests/VigilCoreTests/Feeds/\(name).csv").path,
                                                    accept: { records.append($0) }, reject: { #expect($0.suppressed, "\($0)") })
        }
        let outcome = engine.apply(records)
        #expect(outcome.rejected.isEmpty, "\(outcome.rejected)")
        #expect(outcome.unmatched == 0)
        var rows = 0
        engine.trace { _ in rows += 1 }
        #expect(rows == records.count)
    }
}
