import Foundation
import Testing
@testable import VigilCore

/// Column mappings for feeds as NHSN and CMS publish them: headers matched ignoring case, row filters, keys
/// joined from columns, computed numbers, withheld values suppressed (not rejected).
struct ColumnMappingTests {
    func mapping(_ yaml: String) throws -> ColumnMapping {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mapping-\(UUID().uuidString).yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try ColumnMappingParser.load(path: path)
    }

    func read(_ text: String, format: RecordFormat = .csv, mapping: ColumnMapping) -> (records: [AggregateRecord], errors: [RowError]) {
        var records: [AggregateRecord] = []
        var errors: [RowError] = []
        RecordReader(mapping: mapping).read(source: "feed.\(format.rawValue)", bytes: Array(text.utf8), format: format,
                                            accept: { if case let .aggregate(r) = $0 { records.append(r) } },
                                            reject: { errors.append($0) })
        return (records, errors)
    }

    static let nhsn = """
        measure: CLABSI
        where:
          - { column: locationType, in: [CC, CC_STEPDOWN] }
        columns:
          summaryYM: period
          infCount: events
          numcldays: exposure
          facility_id: [orgID, locCDC]
        """

    /// An NHSN-style monthly export: capitalization unlike the mapping's, `2019M07` periods, ward rows left out,
    /// one series per location, a withheld count suppressed beside good rows.
    @Test func nhsnMonthlyExport() throws {
        let text = """
            OrgID,LocCDC,locationType,SUMMARYYM,InfCount,NumCLDays,numPatDays
            10101,IN:ACUTE:CC:M,CC,2019M07,2,812,2100
            10101,IN:ACUTE:WARD:M,WARD,2019M07,1,300,5000
            10101,IN:ACUTE:CC:S,CC,2019M07,N/A,90,800
            10202,IN:ACUTE:CC:MS,CC,2019M08,0,455,1200
            10202,IN:ACUTE:CC:MS,CC,2019M13,0,455,1200

            """
        let (records, errors) = read(text, mapping: try mapping(Self.nhsn))
        #expect(records.map(\.facility) == ["10101:IN:ACUTE:CC:M", "10202:IN:ACUTE:CC:MS"])
        #expect(records.map(\.period.description) == ["2019-07", "2019-08"])
        #expect(records.map(\.events) == [2, 0] && records.map(\.exposure) == [812, 455])
        #expect(records.allSatisfy { $0.measure == "CLABSI" && $0.covariates["numpatdays"] != nil })
        #expect(errors.map(\.description) == [
            "feed.csv:4: events: suppressed (N/A)",
            "feed.csv:6: period: \"2019M13\" is not a period (YYYY-MM, YYYY-Www, YYYY-Qn, YYYY, YYYY-MM-DD, YYYYMmm, YYYYQn or MM/DD/YYYY)",
        ])
        #expect(errors.map(\.suppressed) == [true, false])
    }

    /// The same mapping on NDJSON objects.
    @Test func ndjsonThroughTheSameMapping() throws {
        let text = """
            {"orgID":"10101","locCDC":"CC-M","LOCATIONTYPE":"CC","summaryYM":"2019M07","infCount":"3","numcldays":"700"}
            {"orgID":"10101","locCDC":"W","LOCATIONTYPE":"WARD","summaryYM":"2019M07","infCount":"3","numcldays":"700"}

            """
        let (records, errors) = read(text, format: .ndjson, mapping: try mapping(Self.nhsn))
        #expect(errors.isEmpty)
        #expect(records.map(\.facility) == ["10101:CC-M"] && records.first?.events == 3)
    }

    /// A number computed from columns (a rate per 100 times its denominator), `MM/DD/YYYY` dates, CMS's tokens.
    @Test func computedFieldsAndCMSValues() throws {
        let m = try mapping("""
            measure: READM-30-HF
            columns:
              Facility ID: facility_id
              End Date: period
              Number of Readmissions: events
              exposure: { product: [Predicted Readmission Rate, Number of Discharges], divide: 100 }
            """)
        let text = """
            Facility ID,Number of Discharges,Predicted Readmission Rate,Number of Readmissions,End Date
            010001,400,20.5,90,06/30/2023
            010005,Not Available,19.0,Too Few to Report,06/30/2023
            010006,250,abc,40,06/30/2023

            """
        let (records, errors) = read(text, mapping: m)
        #expect(records.count == 1)
        #expect(records.first.map { abs($0.exposure! - 82) < 1e-12 && $0.events == 90 && $0.period.description == "2023-06-30" } == true)
        #expect(errors.map(\.description) == [
            "feed.csv:3: events: suppressed (Too Few to Report)",
            "feed.csv:4: exposure: Predicted Readmission Rate \"abc\" is not a number",
        ])
    }

    /// A computed covariate (an expected count for `kind: supplied`): withheld inputs suppress the row, other
    /// text rejects it naming the column, and it may not take the name of a column the file has.
    @Test func computedCovariates() throws {
        let m = try mapping("""
            measure: READM-30-HF
            columns:
              expected_readmissions: { product: [rate, discharges], divide: 100 }
            """)
        let text = """
            facility_id,period,events,rate,discharges
            A,2023-06,30,20,150
            B,2023-06,30,N/A,150
            C,2023-06,30,x,150

            """
        let (records, errors) = read(text, mapping: m)
        #expect(records.map { $0.covariates["expected_readmissions"] } == ["30.0"])
        #expect(errors.map(\.description) == [
            "feed.csv:3: expected_readmissions: suppressed (N/A)",
            "feed.csv:4: expected_readmissions: rate \"x\" is not a number",
        ])
        let (_, clash) = read("facility_id,period,events,rate,discharges,Expected_Readmissions\nA,2023-06,1,2,3,4\n", mapping: m)
        #expect(clash.map(\.reason) == ["the mapping computes expected_readmissions, which the header already has as a column"])
    }

    /// Two headers equal but for case cannot be told apart: the file's one error names both.
    @Test func headersEqualButForCaseAreAnError() throws {
        let (records, errors) = read("orgID,ORGID,summaryYM,infCount\n1,2,2019M07,1\n", mapping: try mapping(Self.nhsn))
        #expect(records.isEmpty)
        #expect(errors.map(\.description) == ["feed.csv:1: columns \"orgID\" and \"ORGID\" differ only in case: headers are matched ignoring case"])
        let (_, absent) = read("orgID,summaryYM,infCount,numcldays,locationType\n1,2019M07,1,10,CC\n", mapping: try mapping(Self.nhsn))
        #expect(absent.first?.reason.hasPrefix("the mapping names column locCDC that the header does not have") == true)
    }

    /// A plain SPEC file (no mapping) keeps its rules: an empty count is missing, not suppressed; a model's
    /// covariate name finds a header written in other case.
    @Test func withoutAMappingNothingIsSuppressed() throws {
        let (records, errors) = read("FACILITY_ID,Measure,period,events,ALOS\nA,CDI,2025-01,,9.5\nA,CDI,2025-02,1,9.5\n", mapping: ColumnMapping())
        #expect(errors.map(\.description) == ["feed.csv:2: events: missing"] && !errors[0].suppressed)
        #expect(records.first?.covariates["alos"] == "9.5" && records.first?.facility == "A")
    }

    /// A long file's rows gathered into records; an ID twice for one facility and window, or a measure
    /// without its count row, is an error naming the line; other IDs are not read.
    @Test func pivotedLongFile() throws {
        let m = try mapping("""
            columns: { Facility ID: facility_id, End Date: period }
            pivot:
              column: Measure ID
              value: Score
              measures:
                CLABSI: { events: HAI_1_NUMERATOR, exposure: HAI_1_DOPC }
                CAUTI: { events: HAI_2_NUMERATOR, exposure: HAI_2_DOPC }
            """)
        let text = """
            Facility ID,State,Measure ID,Score,End Date
            01,AL,HAI_1_SIR,0.8,06/30/2024
            01,AL,HAI_1_DOPC,900,06/30/2024
            01,AL,HAI_1_NUMERATOR,2,06/30/2024
            02,AL,HAI_1_NUMERATOR,1,06/30/2024
            01,AL,HAI_2_DOPC,400,06/30/2024
            01,AL,HAI_1_NUMERATOR,3,06/30/2024
            01,AL,HAI_1_NUMERATOR,5,12/31/2024

            """
        let (records, errors) = read(text, mapping: m)
        #expect(records.map { "\($0.facility) \($0.measure) \($0.period) \($0.events) \($0.exposure.map { "\($0)" } ?? "-")" } == [
            "01 CLABSI 2024-06-30 2 900.0", "02 CLABSI 2024-06-30 1 -", "01 CLABSI 2024-12-31 5 -",
        ])
        #expect(records.first?.covariates["state"] == "AL")
        #expect(errors.map(\.description) == [
            "feed.csv:7: Measure ID HAI_1_NUMERATOR again for the same facility and period (first on line 3)",
            "feed.csv:6: events: no Measure ID HAI_2_NUMERATOR row for this facility and period",
        ])
    }

    /// A wide file (a group of columns per quarter): one record per row and quarter, the row's other columns
    /// shared, a withheld quarter suppressed and a bad one rejected beside the good ones.
    @Test func wideQuarterlyFile() throws {
        let m = try mapping("""
            measure: LTC_CDI
            columns: { CCN: facility_id }
            wide:
              2024Q1: { events: CDI Q1, trials: Residents Q1, resident_days: Days Q1 }
              2024Q2: { events: CDI Q2, trials: Residents Q2, resident_days: Days Q2 }
            """)
        let text = """
            CCN,State,CDI Q1,Residents Q1,Days Q1,CDI Q2,Residents Q2,Days Q2
            015009,AL,2,95,8100,1,97,8200
            015010,AL,Not Available,40,3500,0,41,3600
            015011,AL,9,4,400,0,5,410

            """
        let (records, errors) = read(text, mapping: m)
        #expect(records.map { "\($0.facility) \($0.measure) \($0.period) \($0.events)/\($0.trials ?? -1) \($0.covariates["resident_days"] ?? "-")" } == [
            "015009 LTC_CDI 2024-Q1 2/95 8100", "015009 LTC_CDI 2024-Q2 1/97 8200",
            "015010 LTC_CDI 2024-Q2 0/41 3600", "015011 LTC_CDI 2024-Q2 0/5 410",
        ])
        #expect(records.first?.covariates["state"] == "AL")
        #expect(errors.map(\.description) == [
            "feed.csv:3: events: suppressed (Not Available)",
            "feed.csv:4: trials: 4 is fewer than the 9 events (events are out of trials)",
        ])
        #expect(throws: ConfigErrors.self) {
            _ = try mapping("wide: { 2024Q5: { events: a } }\ncolumns: { x: period }\n")
        }
    }

    /// A pivot's problems: a record field it cannot make, an ID used twice, a measure without events, a
    /// measure given beside it.
    @Test func pivotProblemsHavePositions() throws {
        do {
            _ = try mapping("""
                measure: CLABSI
                pivot:
                  column: Measure ID
                  value: Score
                  measures:
                    CLABSI: { events: HAI_1_NUMERATOR, period: HAI_1_X }
                    CAUTI: { exposure: HAI_1_NUMERATOR }
                """)
            Issue.record("no error")
        } catch let error as ConfigErrors {
            #expect(error.problems.map { "\($0.line):\($0.column): \($0.message)" } == [
                "1:10: measure: a pivot's measures come from its measure IDs: give no measure",
                "6:48: pivot.measures.CLABSI.period: a pivot makes events, exposure, trials or covariates, not period",
                "7:12: pivot.measures.CAUTI.events: required",
                "7:24: pivot.measures.CAUTI.exposure: measure ID HAI_1_NUMERATOR is already used",
            ], "\(error.description)")
        }
    }

    /// Mapping files' problems, each with its line and column.
    @Test func mappingProblemsHavePositions() throws {
        do {
            _ = try mapping("""
                columns:
                  orgID: facility
                  facility_id: [orgID, locCDC]
                  period: { product: [a] }
                  summaryYM: facility_id
                where:
                  - { column: x, in: [a], equals: b }
                  - { in: [a] }
                """)
            Issue.record("no error")
        } catch let error as ConfigErrors {
            let lines = error.problems.map { "\($0.line):\($0.column)" }
            #expect(error.problems.count == 5, "\(error.description)")
            #expect(lines == ["2:10", "4:11", "5:14", "7:5", "8:5"], "\(error.description)")
        }
    }
}

/// Each shipped mapping (Models/columns/) reads its fixture, written in the export's layout, into the records
/// expected of it (Tests/VigilCoreTests/Feeds/*.expected.csv), rejecting nothing.
struct ShippedMappingTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The expected file's columns after the five record fields are covariates the mapping computes.
    @Test(arguments: [("nhsn-clabsi-monthly", 1), ("nhsn-cauti-monthly", 0), ("nhsn-cdi-monthly", 1), ("nhsn-mrsa-monthly", 0),
                     ("cms-hai-hospital", 1), ("cms-hrrp", 2)])
    func shippedMappingReadsItsFixture(_ name: String, suppressed: Int) throws {
        let mapping = try ColumnMappingParser.load(path: Self.root.appendingPathComponent("Models/columns/\(name).yaml").path)
        let feeds = Self.root.appendingPathComponent("Tests/VigilCoreTests/Feeds")
        let lines = try String(contentsOf: feeds.appendingPathComponent("\(name).expected.csv"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        let computed = lines[0].split(separator: ",").dropFirst(5).map(String.init)
        var records: [String] = []
        var errors: [RowError] = []
        try RecordReader(mapping: mapping).read(path: feeds.appendingPathComponent("\(name).csv").path, accept: { record in
            guard case let .aggregate(r) = record else { return }
            records.append(([r.facility, r.measure, r.period.description, "\(r.events)", r.exposure.map { "\(Int($0))" } ?? ""]
                + computed.map { r.covariates[$0] ?? "?" }).joined(separator: ","))
        }, reject: { errors.append($0) })
        let expected = Array(lines.dropFirst())
        #expect(records == expected)
        #expect(errors.filter { !$0.suppressed }.isEmpty, "\(errors)")
        #expect(errors.filter(\.suppressed).count == suppressed)
    }
}
