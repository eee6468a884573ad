import Foundation
import Testing
@testable import VigilCore

/// End-to-end replay against Replay/make-replay.R: an NB2 model with three detectors and a logistic model
/// with the risk-adjusted CUSUM, records out of order, a late record, a revision that withdraws an alert
/// and a revised patient episode.
struct ReplayReferenceTests {
    static let directory = Bundle.module.url(forResource: "Replay", withExtension: nil)!.path

    static func rows(_ name: String) throws -> [[String: String]] {
        let table = try CSVTable(path: "\(directory)/expected/\(name)")
        return (0..<table.rowCount).map { i in
            Dictionary(uniqueKeysWithValues: table.header.enumerated().map { ($1, table.columns[$0][i]) })
        }
    }

    static func records(_ file: String) throws -> [Record] {
        var out: [Record] = []
        var errors: [RowError] = []
        try RecordReader().read(path: "\(directory)/inputs/\(file)", accept: { out.append($0) }, reject: { errors.append($0) })
        #expect(errors.isEmpty, "\(errors)")
        return out
    }

    static func engine() throws -> Engine {
        Engine(models: try ModelConfigParser.load(path: "\(directory)/models"))
    }

    static func close(_ a: Double, _ b: String, _ what: String) {
        let x = Double(b)!
        #expect(abs(a - x) <= 1e-9 * max(1, abs(x)), "\(what): vigil \(a), R \(b)")
    }

    static func check(_ alerts: [Alert], against expected: [[String: String]]) {
        #expect(alerts.map(\.id).sorted() == expected.map { $0["id"]! }.sorted())
        let byID = Dictionary(uniqueKeysWithValues: alerts.map { ($0.id, $0) })
        for row in expected {
            guard let a = byID[row["id"]!] else { continue }
            #expect(a.model == row["model"] && a.detector == row["detector"] && a.facility == row["facility_id"])
            #expect(a.period == row["period"] && a.signalStart == row["signal_start"], "\(a.id)")
            #expect(String(a.observed) == row["observed"])
            close(a.expected, row["expected"]!, "\(a.id) expected")
            close(a.sir!, row["sir"]!, "\(a.id) sir")
            close(a.sirInterval!.lower, row["sir_lower"]!, "\(a.id) sir lower")
            close(a.sirInterval!.upper, row["sir_upper"]!, "\(a.id) sir upper")
            close(a.statistic, row["statistic"]!, "\(a.id) statistic")
            close(a.threshold, row["threshold"]!, "\(a.id) threshold")
        }
    }

    @Test func alertsAfterEachBatchAndTheRevisions() throws {
        let engine = try Self.engine()
        let first = engine.apply(try Self.records("1-clabsi.csv") + Self.records("1-ssi.csv"))
        #expect(first.rejected.isEmpty)
        #expect(first.events.allSatisfy { $0.status == .firing })
        let after1 = try Self.rows("alerts-after-1.csv")
        Self.check(first.events, against: after1)

        let second = engine.apply(try Self.records("2-clabsi-revisions.csv") + Self.records("2-ssi-revisions.csv"))
        let final = try Self.rows("alerts-final.csv")
        Self.check(engine.firingAlerts, against: final)
        // Batch 2's events: what it withdrew (resolved, same ids) and what it newly raised.
        let before = Set(after1.map { $0["id"]! }), now = Set(final.map { $0["id"]! })
        #expect(Set(second.events.filter { $0.status == .resolved }.map(\.id)) == before.subtracting(now))
        #expect(Set(second.events.filter { $0.status == .firing }.map(\.id)) == now.subtracting(before))
        #expect(!before.subtracting(now).isEmpty, "the revision withdraws an alert")
    }

    @Test func traceMatchesR() throws {
        let engine = try Self.engine()
        for file in ["1-clabsi.csv", "1-ssi.csv", "2-clabsi-revisions.csv", "2-ssi-revisions.csv"] {
            _ = engine.apply(try Self.records(file))
        }
        var trace: [TraceRow] = []
        engine.trace { trace.append($0) }
        let expected = try Self.rows("trace-final.csv")
        try #require(trace.count == expected.count)
        for (row, r) in zip(trace, expected) {
            #expect([row.model, row.detector, row.facility, row.measure, row.period, String(row.observed), row.signal ? "1" : "0"]
                    == [r["model"]!, r["detector"]!, r["facility_id"]!, r["measure"]!, r["period"]!, r["observed"]!, r["signal"]!])
            Self.close(row.expected, r["expected"]!, "\(row.facility) \(row.period) expected")
            Self.close(row.statistic, r["statistic"]!, "\(row.facility) \(row.period) \(row.detector) statistic")
            Self.close(row.threshold, r["threshold"]!, "\(row.facility) \(row.period) \(row.detector) threshold")
        }
    }

    /// The same records in another arrival order and batching give the same trace and alert ids (patients
    /// keep their relative order: equal times are ordered by arrival, SPEC §2).
    @Test func arrivalOrderDoesNotMatter() throws {
        let aggregate = try Self.records("1-clabsi.csv") + Self.records("2-clabsi-revisions.csv")
        let patients = try Self.records("1-ssi.csv") + Self.records("2-ssi-revisions.csv")
        let reference = try Self.engine()
        _ = reference.apply(aggregate + patients)
        // Revisions must stay after the records they replace; everything else is reversed and split.
        let revisionKeys = Set(try Self.records("2-clabsi-revisions.csv").map { key($0) })
        let originals = aggregate.filter { !revisionKeys.contains(key($0)) || $0.origin.source.hasPrefix("1-") }
        let shuffled = try Self.engine()
        let reversed = Array(originals.filter { $0.origin.source.hasPrefix("1-") }.reversed())
        for chunk in stride(from: 0, to: reversed.count, by: 97).map({ Array(reversed[$0..<min($0 + 97, reversed.count)]) }) {
            _ = shuffled.apply(chunk)
        }
        _ = shuffled.apply(patients)
        _ = shuffled.apply(try Self.records("2-clabsi-revisions.csv").reversed())
        var a: [TraceRow] = [], b: [TraceRow] = []
        reference.trace { a.append($0) }
        shuffled.trace { b.append($0) }
        #expect(a == b)
        #expect(reference.firingAlerts.map(\.id) == shuffled.firingAlerts.map(\.id))
    }

    private func key(_ r: Record) -> String {
        guard case let .aggregate(a) = r else { return "" }
        return "\(a.facility)|\(a.period)"
    }
}

/// `vigil replay` writes the trace from the last file's evaluation, formatting numbers straight into bytes;
/// the file must say exactly what `Engine.trace` reports, quoted as RFC 4180 asks.
struct ReplayTraceFileTests {
    static func line(_ row: TraceRow) -> String {
        [row.model, row.detector, row.facility, row.measure, row.period].map(CSVField.quote).joined(separator: ",")
            + ",\(row.observed),\(row.expected),\(row.statistic),\(row.threshold),\(row.signal ? 1 : 0)\n"
    }

    /// CLABSI with E = 1 and a Poisson CUSUM (ratio 2, h 2): a first month of 5 or more events signals
    /// (o ln 2 − 1 > 2).
    static func meanModel() throws -> ModelConfig {
        try ModelConfigParser.parse(data: Array("""
            model: m
            measure: CLABSI
            expected: { kind: mean, mean: 1 }
            detectors:
              - { id: d, type: poisson_cusum, ratio: 2, h: 2 }
            """.utf8), file: "m.yaml").get()
    }

    static func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("vigil-\(UUID().uuidString)-\(name)").path
    }

    @Test func traceFileIsTheEnginesTrace() throws {
        let directory = ReplayReferenceTests.directory
        let replay = Replay(models: try ModelConfigParser.load(path: "\(directory)/models"))
        let inputs = ["1-clabsi.csv", "1-ssi.csv", "2-clabsi-revisions.csv", "2-ssi-revisions.csv"].map { "\(directory)/inputs/\($0)" }
        let path = Self.temporary("trace.csv")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let summary = try replay.run(inputs: inputs, trace: path)
        var expected = Replay.traceHeader
        var rows = 0
        replay.engine.trace { expected += Self.line($0); rows += 1 }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == expected)
        #expect(summary.traceRows == rows)
        #expect(rows == 2667)
    }

    /// Model names and detector ids are `[a-z0-9_-]+`; facility ids and patient labels are free text.
    @Test func fieldsWithCommasAndQuotesAreQuoted() throws {
        let model = try ReplayTraceFileTests.meanModel()
        let input = Self.temporary("in.csv"), trace = Self.temporary("trace.csv")
        defer { for p in [input, trace] { try? FileManager.default.removeItem(atPath: p) } }
        try "facility_id,measure,period,events\n\"Saint \"\"Mary\"\", East\",CLABSI,2024-01,3\n\"Saint \"\"Mary\"\", East\",CLABSI,2024-02,0\n"
            .write(toFile: input, atomically: true, encoding: .utf8)
        let replay = Replay(models: [model])
        _ = try replay.run(inputs: [input], trace: trace)
        var expected = Replay.traceHeader
        replay.engine.trace { expected += Self.line($0) }
        let text = try String(contentsOfFile: trace, encoding: .utf8)
        #expect(text == expected)
        #expect(text.contains("m,d,\"Saint \"\"Mary\"\", East\",CLABSI,2024-01,3,1.0,"))
    }
}

/// `vigil replay --report` (the workbench page): every alert firing at the end in the table, the facility views
/// of their facilities, a funnel plot per aggregate model, and what the feeds wrote escaped.
struct ReplayReportTests {
    @Test func reportOfTheReferenceReplay() throws {
        let directory = ReplayReferenceTests.directory
        let replay = Replay(models: try ModelConfigParser.load(path: "\(directory)/models"))
        let inputs = ["1-clabsi.csv", "1-ssi.csv", "2-clabsi-revisions.csv", "2-ssi-revisions.csv"].map { "\(directory)/inputs/\($0)" }
        let summary = try replay.run(inputs: inputs)
        let html = Workbench.replayPage(replay: replay, summary: summary, inputs: inputs)
        let firing = replay.engine.firingAlerts
        #expect(!firing.isEmpty)
        #expect(html.hasPrefix("<!DOCTYPE html>") && html.hasSuffix("</html>\n"))
        #expect(html.contains("Firing alerts (<span id=\"alert-count\">\(firing.count)</span>)"))
        for alert in firing { #expect(html.contains("data-facility=\"\(alert.facility)\"><td class=")) }
        let facilities = Set(firing.map(\.facility))
        #expect(html.components(separatedBy: "<article class=\"facility\"").count - 1 == min(facilities.count, Workbench.facilityLimit))
        #expect(html.components(separatedBy: "<svg class=\"funnel\"").count - 1 == 1, "one aggregate model")
        #expect(html.contains("θ = "))   // the NB2 model's fitted size
        #expect(!html.contains("src=") && !html.contains("http://") && !html.contains("https://"), "self-contained")
    }

    @Test func feedTextIsEscaped() throws {
        let model = try ReplayTraceFileTests.meanModel()
        let input = ReplayTraceFileTests.temporary("in.csv")
        defer { try? FileManager.default.removeItem(atPath: input) }
        try "facility_id,measure,period,events\n<script>&x,CLABSI,2024-01,6\n<script>&x,CLABSI,2024-02,-1\n"
            .write(toFile: input, atomically: true, encoding: .utf8)
        let replay = Replay(models: [model])
        let summary = try replay.run(inputs: [input])
        let html = Workbench.replayPage(replay: replay, summary: summary, inputs: [input])
        #expect(!html.contains("<script>&x"))
        #expect(html.contains("&lt;script&gt;&amp;x"))
        #expect(html.contains("<h2>Rejected rows (1)</h2>"))
        #expect(html.components(separatedBy: "<script>").count == 2, "the page's own script only")
    }
}
