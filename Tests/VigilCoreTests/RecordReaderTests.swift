import Foundation
import Testing
@testable import VigilCore

struct RecordReaderTests {
    func read(_ text: String, format: RecordFormat = .csv, mapping: ColumnMapping = ColumnMapping()) -> ([Record], [String]) {
        var records: [Record] = []
        var errors: [String] = []
        RecordReader(mapping: mapping).read(source: "feed.\(format.rawValue)", bytes: Array(text.utf8), format: format,
                                            accept: { records.append($0) }, reject: { errors.append($0.description) })
        return (records, errors)
    }

    /// Plain records are read in place, every other one (quoted, CRLF, non-ASCII, blank, another width) by
    /// the general scanner: the same rows with every field quoted — none of them plain — give the same
    /// records and the same row errors on the same lines, and so does a file read in small chunks.
    @Test func plainRecordsReadInPlaceLikeQuotedOnes() throws {
        var rows: [[String]] = [["facility_id", "measure", "period", "events", "exposure", "size"]]
        for i in 0..<400 {
            var row = ["F\(i % 13)", "CLABSI", "\(2010 + i / 12)-\(String(format: "%02d", i % 12 + 1))", "\(i % 5)", "\(100 + i)", ["small", "medium", "large"][i % 3]]
            switch i % 29 {
            case 3: row[0] = "Hôpital \(i)"                       // non-ASCII
            case 5: row[5] = "large, teaching"                      // needs quotes
            case 7: row[3] = "-1"                                   // a bad count
            case 11: row.append("extra")                            // another width
            case 13: row.removeLast(2)
            case 17: row = []                                       // a blank line
            case 19: row[4] = ""                                    // a missing exposure
            default: break
            }
            rows.append(row)
        }
        func text(quoting all: Bool, crlfEvery: Int = 0) -> String {
            var out = ""
            for (n, row) in rows.enumerated() {
                out += row.map { all ? "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : CSVField.quote($0) }.joined(separator: ",")
                out += crlfEvery > 0 && n % crlfEvery == 0 ? "\r\n" : "\n"
            }
            return String(out.dropLast())   // the last record without its line feed
        }
        func summary(_ text: String) -> [String] {
            let (records, errors) = read(text)
            return records.map { r in
                guard case let .aggregate(a) = r else { return "patient" }
                return "\(a.facility)|\(a.measure)|\(a.period)|\(a.events)|\(a.exposure.map { "\($0)" } ?? "-")|\(a.covariates.values)|\(a.origin.line)"
            } + errors
        }
        let plain = summary(text(quoting: false))
        #expect(plain.count == 400 - 14)   // 14 blank lines skipped
        #expect(plain.filter { $0.hasPrefix("feed.csv:") }.count == 14 + 14 + 14)
        #expect(plain == summary(text(quoting: true)))
        #expect(plain == summary(text(quoting: false, crlfEvery: 7)))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-plain-\(UUID().uuidString).csv").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try text(quoting: false).write(toFile: path, atomically: true, encoding: .utf8)
        var chunked = try CSVReader(path: path, source: "feed.csv", chunkSize: 97)
        var lines: [Int] = []
        let layout = try RecordReader(mapping: ColumnMapping()).csvLayout(reader: &chunked).get()
        RecordReader(mapping: ColumnMapping()).readCSVRows(reader: &chunked, layout: layout,
                                                          accept: { lines.append($0.origin.line) }, reject: { lines.append(-$0.line) })
        #expect(lines.count == plain.count)
        #expect(lines.filter { $0 > 0 } == plain.compactMap { $0.split(separator: "|").last.flatMap { Int($0) } })
    }

    /// A row's covariates are the previous row's only when every covariate field repeats: quoted fields are
    /// kept without separators, so "12","3" and "1","23" are the same bytes cut differently and must stay apart.
    @Test func repeatedCovariatesAreComparedFieldByField() {
        for quoted in [false, true] {
            let rows = [["F1", "2020-01", "12", "3"], ["F1", "2020-02", "1", "23"], ["F1", "2020-03", "1", "23"],
                        ["F1", "2020-04", "12", "3"], ["F2", "2020-01", "12", "3"], ["F2", "2020-02", "", "123"]]
            let text = "facility_id,period,beds,icu\n" + rows.map { row in
                row.enumerated().map { quoted && $0.offset >= 2 ? "\"\($0.element)\"" : $0.element }.joined(separator: ",")
                    + ",CLABSI,1,100"
            }.joined(separator: "\n")
            let (records, errors) = read(text.replacingOccurrences(of: "icu\n", with: "icu,measure,events,exposure\n"))
            #expect(errors.isEmpty)
            #expect(records.map(\.covariates.values) == rows.map { Array($0[2...]) }, "quoted: \(quoted)")
        }
    }

    /// A spool body read in parts on all cores gives the records and row errors of the sequential read, in
    /// the same order with the same lines, whatever the part size; quoted line feeds stay inside their record.
    @Test func bodiesReadInPartsLikeSequentially() {
        var text = "facility_id,measure,period,events,exposure,note\r\n"
        for i in 0..<300 {
            let events = i % 23 == 0 ? "x" : "\(i % 4)"
            let note = i % 17 == 0 ? "\"two\nlines, \"\"quoted\"\"\"" : "n\(i)"
            text += "F\(i % 9),CLABSI,\(2000 + i / 12)-\(String(format: "%02d", i % 12 + 1)),\(events),\(100 + i),\(note)\n"
            if i % 50 == 0 { text += "F1,CLABSI,2025-01\n" }   // a short row
        }
        let bytes = Array(text.utf8)
        let reader = RecordReader(mapping: ColumnMapping())
        func summary(_ read: (_ accept: (Record) -> Void, _ reject: (RowError) -> Void) -> Void) -> [String] {
            var lines: [String] = []
            read({ lines.append("\($0.facility) \($0.measure) \($0.origin.source):\($0.origin.line)") },
                 { lines.append("rejected \($0.description)") })
            return lines
        }
        let sequential = summary { reader.read(source: "feed.csv", bytes: bytes, format: .csv, accept: $0, reject: $1) }
        #expect(sequential.count == 306)
        #expect(sequential.filter { $0.hasPrefix("rejected") }.count == 20)
        for partSize in [1, 37, 500, 4096, 1 << 21] {
            let parts = summary { reader.readInParts(source: "feed.csv", bytes: bytes, format: .csv, partSize: partSize, accept: $0, reject: $1) }
            #expect(parts == sequential, "part size \(partSize)")
        }
    }

    /// Every reason of SPEC §1 once, each next to good rows that are still taken.
    @Test func everyBadRowIsReportedAndGoodRowsAreTaken() {
        let text = """
            facility_id,measure,period,events,exposure,teaching
            A,CLABSI,2025-01,2,1000,yes
            A,CLABSI,2025-02,-2,1000,yes
            A,CLABSI,2025-13,1,1000,yes
            A,CLABSI,2025-03,1,0,yes
            ,CLABSI,2025-04,1,1000,yes
            A,CLABSI,2025-05,1,1000
            A,CLABSI,2025-06,x,1000,yes
            A,CLABSI,2025-07,1,abc,yes
            A,CLABSI,2025-08,1,,no

            """
        var bytes = Array(text.utf8)
        bytes += Array("A,CLABSI,2025-09,1,1000,".utf8) + [0xFF, 0xFE] + Array("\n".utf8)
        var records: [Record] = []
        var errors: [String] = []
        RecordReader().read(source: "feed.csv", bytes: bytes, format: .csv,
                            accept: { records.append($0) }, reject: { errors.append($0.description) })
        #expect(errors == [
            "feed.csv:3: events: \"-2\" is not a count >= 0",
            "feed.csv:4: period: \"2025-13\" is not a period (YYYY-MM, YYYY-Www, YYYY-Qn, YYYY, YYYY-MM-DD, YYYYMmm, YYYYQn or MM/DD/YYYY)",
            "feed.csv:5: exposure: \"0\" is not > 0",
            "feed.csv:6: facility_id: missing",
            "feed.csv:7: 5 fields, the header has 6",
            "feed.csv:8: events: \"x\" is not a count >= 0",
            "feed.csv:9: exposure: \"abc\" is not a number",
            "feed.csv:11: field 6 is not valid UTF-8",
        ])
        #expect(records.count == 2)
        if case let .aggregate(r) = records[1] {
            #expect(r.exposure == nil && r.covariates["teaching"] == "no" && r.origin.line == 10)
        } else { Issue.record("not aggregate") }
    }

    @Test func missingColumnsAreOneFileError() {
        let (records, errors) = read("facility_id,period,events\nA,2025-01,1\n")
        #expect(records.isEmpty)
        #expect(errors == ["feed.csv:1: missing column measure (the header has facility_id, period, events)"])
        let (_, e2) = read("facility,when,count\nA,2025-01,1\n")
        #expect(e2.first?.contains("neither events") == true)
    }

    @Test func columnMappingForNHSNExports() {
        let mapping = ColumnMapping(columns: ["orgID": "facility_id", "summaryYM": "period", "numCLABSI": "events", "numCLDays": "exposure"],
                                    measure: "CLABSI")
        let (records, errors) = read("orgID,summaryYM,numCLABSI,numCLDays,locationType\n10101,2025-03,2,812,CC\n", mapping: mapping)
        #expect(errors.isEmpty)
        guard case let .aggregate(r)? = records.first else { Issue.record("no record"); return }
        #expect(r.facility == "10101" && r.measure == "CLABSI" && r.events == 2 && r.exposure == 812)
        #expect(r.covariates["locationType"] == "CC")
    }

    @Test func ndjsonWithNestedCovariatesAndBadLines() {
        let text = """
            {"facility_id":"A","measure":"CLABSI","period":"2025-01","events":2,"exposure":1000.5,"covariates":{"bedsize":"large","icu":0.2}}
            {"facility_id":"A","measure":"CLABSI","period":"2025-02","events":1.5}
            not json
            {"facility_id":"B","measure":"SSI_COLO","time":"2025-01-02T10:00:00Z","outcome":true,"episode_id":"e1","age":70}

            """
        let (records, errors) = read(text, format: .ndjson)
        #expect(errors.count == 2)
        #expect(errors.first == "feed.ndjson:2: events: \"1.5\" is not a count >= 0")
        #expect(errors.last?.hasPrefix("feed.ndjson:3: not a JSON object") == true)
        #expect(records.count == 2)
        if case let .aggregate(r) = records[0] {
            #expect(r.covariates["bedsize"] == "large" && r.covariates["icu"] == "0.2" && r.exposure == 1000.5)
        } else { Issue.record("not aggregate") }
        if case let .patient(p) = records[1] {
            #expect(p.outcome && p.episode == "e1" && p.covariates["age"] == "70" && p.origin.line == 4)
        } else { Issue.record("not patient") }
    }

    /// A file read in 1 MiB chunks keeps its line numbers across chunk boundaries.
    @Test func ndjsonFileLineNumbersAcrossChunks() throws {
        let good = #"{"facility_id":"A","measure":"CLABSI","period":"2025-01","events":2,"padding":"\#(String(repeating: "x", count: 200))"}"#
        let lines = Array(repeating: good, count: 9000) + ["{\"facility_id\":\"A\"", good]
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-chunks-\(UInt64.random(in: 0...UInt64.max)).ndjson").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var count = 0
        var errors: [RowError] = []
        try RecordReader().read(path: path, accept: { _ in count += 1 }, reject: { errors.append($0) })
        #expect(count == 9001)
        #expect(errors.map(\.line) == [9001])
    }

    @Test func patientRowsAndTheirReasons() {
        let (records, errors) = read("""
            facility_id,measure,time,outcome,age
            A,SSI_COLO,2025-01-02,1,70
            A,SSI_COLO,2025-01-32,1,70
            A,SSI_COLO,2025-01-03,yes,70

            """)
        #expect(records.count == 1)
        #expect(errors == ["feed.csv:3: time: \"2025-01-32\" is not a date (YYYY-MM-DD) or RFC 3339 date-time",
                           "feed.csv:4: outcome: \"yes\" is not an outcome 0/1 (or true/false)"])
    }

    /// A covariate the model needs, an exposure it needs, a period it cannot bucket: rejected by the engine
    /// with the model named, and nothing stored.
    @Test func engineRejectsWhatAModelCannotUse() throws {
        let yaml = """
            model: cdi-cah
            measure: CDI
            unit: month
            expected:
              kind: coefficients
              intercept: -9.4938
              terms:
                - { when: { cdi_test_type: NAAT }, beta: 0.3893 }
                - { when: { alos: { ge: 2.6 } }, beta: 0.5290 }
            detectors:
              - { id: cusum, type: poisson_cusum, ratio: 2, h: 3 }

            """
        let model = try ModelConfigParser.parse(data: Array(yaml.utf8), file: "cdi.yaml").get()
        let engine = Engine(models: [model])
        let (records, _) = read("""
            facility_id,measure,period,events,exposure,cdi_test_type,alos
            A,CDI,2025-01,1,3000,NAAT,3.1
            A,CDI,2025-02,1,3000,,3.1
            A,CDI,2025-03,1,,NAAT,3.1
            A,CDI,2025-W14,1,3000,NAAT,3.1
            A,CDI,2025-05,1,3000,NAAT,long

            """)
        let outcome = engine.apply(records)
        #expect(outcome.accepted == 1)
        #expect(outcome.rejected.map(\.description) == [
            "feed.csv:3: cdi_test_type: missing; the model needs it (model cdi-cah)",
            "feed.csv:4: exposure: missing; model cdi-cah needs it (E is proportional to exposure)",
            "feed.csv:5: period: \"2025-W14\" is a week; model cdi-cah counts by month",
            "feed.csv:6: alos: \"long\" is not a number (model cdi-cah)",
        ])
        var trace: [TraceRow] = []
        engine.trace { trace.append($0) }
        // NHSN CAH CDI: exp(-9.4938 + 0.3893 + 0.5290) × 3000 (hand calculation).
        #expect(trace.count == 1)
        #expect(abs(trace[0].expected - 0.5660162831651472) < 1e-12)
    }
}

/// Reading ahead in parts parsed on several threads gives the rows of the sequential reader, in order,
/// with the same line numbers, whatever the part size: quoted line breaks, CRLF, a stray quote, bad rows.
struct ReadAheadTests {
    static func describe(_ row: ReadAhead.Row) -> String {
        switch row {
        case let .record(.aggregate(r)):
            "\(r.origin.line) \(r.facility) \(r.period) \(r.events) \(r.exposure ?? -1) \(r.covariates.values)"
        case let .record(.patient(r)): "\(r.origin.line) \(r.facility) \(r.time) \(r.outcome)"
        case let .rejected(error): error.description
        }
    }

    /// Parts cut from a file with quoted fields (line feeds and commas inside them, a stray quote), and
    /// from one without any quote (the cutter's fast path), give the rows and line numbers of one reader.
    @Test(arguments: [true, false]) func partsGiveTheSequentialRows(quotes: Bool) throws {
        var text = "\u{FEFF}facility_id,measure,period,events,exposure,note\r\n"
        for i in 0..<400 {
            switch i % 9 {
            case 0 where quotes: text += "F\(i),CLABSI,2024-01,\(i % 4),100,\"two\nlines, \"\"quoted\"\"\"\r\n"
            case 1: text += "F\(i),CLABSI,2024-02,-1,100,bad count\n"
            case 2 where quotes: text += "F\(i),CLABSI,2024-03,1,100,a 5\" stray quote\n"
            case 3: text += "F\(i),CLABSI,2024-04,1\n"
            case 4: text += "\n"
            case 5: text += "F\(i),CLABSI,2024-05,\(i % 3),\(i).5,\r\n"
            default: text += "F\(i),CLABSI,2024-05,\(i % 3),\(i).5,plain\n"
            }
        }
        text += quotes ? "F999,CLABSI,2024-06,2,50,\"last\nrecord\"" : "F999,CLABSI,2024-06,2,50,last,"
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-parts-\(UUID().uuidString).csv").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        var expected: [String] = []
        try RecordReader().read(path: path, accept: { expected.append(Self.describe(.record($0))) },
                                reject: { expected.append(Self.describe(.rejected($0))) })
        #expect(expected.count > 350)
        for partSize in [1, 7, 64, 1000, 1 << 21] {
            let ahead = ReadAhead(reader: RecordReader(), path: path, capacity: 3, partSize: partSize)
            var got: [String] = []
            while let block = try ahead.next() { got += block.map(Self.describe) }
            #expect(got == expected, "part size \(partSize)")
        }
    }

    @Test func missingFileAndEmptyFile() throws {
        let missing = ReadAhead(reader: RecordReader(), path: "/nonexistent/x.csv")
        #expect(throws: RowError.self) { _ = try missing.next() }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-empty-\(UUID().uuidString).csv").path
        try Data().write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let empty = ReadAhead(reader: RecordReader(), path: path)
        let rows = try #require(try empty.next())
        #expect(rows.map(Self.describe) == ["x.csv:1: the file is empty (no header row)".replacingOccurrences(of: "x.csv", with: (path as NSString).lastPathComponent)])
        #expect(try empty.next() == nil)
    }
}
