import Testing
@testable import VigilCore

struct PeriodTests {
    @Test func parsesEveryForm() {
        #expect(Period.parse("2025-03")?.description == "2025-03")
        #expect(Period.parse("2025-Q4")?.description == "2025-Q4")
        #expect(Period.parse("2025")?.description == "2025")
        #expect(Period.parse("2024-02-29")?.description == "2024-02-29")
        // As NHSN and CMS write them.
        #expect(Period.parse("2019M07")?.description == "2019-07")
        #expect(Period.parse("2019Q3")?.description == "2019-Q3")
        #expect(Period.parse("07/15/2019")?.description == "2019-07-15")
        #expect(Period.parse("7/5/2019")?.description == "2019-07-05")
        for bad in ["2025-13", "2025-00", "2025-Q5", "2023-02-29", "2025-3", "25-03", "2025-W00", "2025-W53", "abcd", "2025-03-1",
                    "2019M13", "2019M7", "2019Q0", "02/30/2019", "13/01/2019", "07/15/19", "7//2019", "/7/2019"] {
            #expect(Period.parse(Substring(bad)) == nil, "\(bad)")
        }
    }

    /// ISO 8601 weeks, checked against Python's date.isocalendar(): 2020 and 2026 have 53 weeks; 2021-01-03 is
    /// in 2020-W53; 2024-12-30 is in 2025-W01.
    @Test func isoWeeksIncludingWeek53() {
        #expect(CivilDate.isoWeeksInYear(2020) == 53)
        #expect(CivilDate.isoWeeksInYear(2026) == 53)
        #expect(CivilDate.isoWeeksInYear(2021) == 52)
        #expect(CivilDate.isoWeeksInYear(2025) == 52)
        #expect(Period.parse("2020-W53")?.description == "2020-W53")
        #expect(Period.parse("2026-W53") != nil)
        #expect(Period.parse("2021-W53") == nil)
        #expect(Period.parse("2021-01-03")?.bucketed(into: .week)?.description == "2020-W53")
        #expect(Period.parse("2024-12-30")?.bucketed(into: .week)?.description == "2025-W01")
        #expect(Period.parse("2021-01-04")?.bucketed(into: .week)?.description == "2021-W01")
        // Consecutive weeks across a 53-week year differ by one.
        #expect(Period.parse("2021-W01")!.ordinal - Period.parse("2020-W53")!.ordinal == 1)
    }

    @Test func bucketsIntoCoarserUnitsOnly() {
        let day = Period.parse("2025-05-17")!
        #expect(day.bucketed(into: .month)?.description == "2025-05")
        #expect(day.bucketed(into: .quarter)?.description == "2025-Q2")
        #expect(day.bucketed(into: .year)?.description == "2025")
        #expect(Period.parse("2025-05")!.bucketed(into: .week) == nil)
        #expect(Period.parse("2025-Q2")!.bucketed(into: .month) == nil)
        // 2025-W05 runs Monday 27 January to Sunday 2 February: it belongs to no single month.
        #expect(Period.parse("2025-W05")!.bucketed(into: .month) == nil)
        #expect(Period.parse("2025-W05")!.bucketed(into: .year) == nil)
    }

    @Test func calendarRoundTrips() {
        for d in stride(from: -800_000, to: 800_000, by: 997) {
            let (y, m, day) = CivilDate.civil(d)
            #expect(CivilDate.days(y, m, day) == d)
        }
        #expect(CivilDate.days(1970, 1, 1) == 0)
        #expect(CivilDate.weekday(0) == 3)   // Thursday
    }

    @Test func timestamps() {
        let a = Timestamp.parse("2025-03-01T10:00:00+02:00")!
        let b = Timestamp.parse("2025-03-01T08:00:00Z")!
        #expect(a.instant == b.instant)
        #expect(a.day == Period.parse("2025-03-01")!.ordinal)
        #expect(Timestamp.parse("2025-03-01")!.instant < Timestamp.parse("2025-03-01T00:00:01.5Z")!.instant)
        for bad in ["2025-03-01T25:00:00Z", "2025-03-01T10:00", "2025-03-01T10:00:00", "2025-02-30"] {
            #expect(Timestamp.parse(bad) == nil, "\(bad)")
        }
    }
}

/// A facility's stored records stay sorted by first day (then coarser unit after finer) however they
/// arrive, one per written period, so a model period's records are adjacent.
struct CountSeriesTests {
    @Test func putKeepsPeriodOrderAndReplaces() throws {
        let texts = ["2024-03", "2024-01-15", "2024-01", "2023-12-31", "2024-02", "2024-01-01", "2024-Q1", "2024-03", "2024-01-15"]
        var series = CountSeries()
        for (i, text) in texts.enumerated() {
            let period = try #require(Period.parse(Substring(text)))
            series.put(StoredCount(period: period, events: i, exposure: .nan, tuple: 0))
        }
        #expect(series.records.map(\.period.description) == ["2023-12-31", "2024-01-01", "2024-01", "2024-Q1", "2024-01-15", "2024-02", "2024-03"])
        // The later record of a written period replaced the earlier one.
        #expect(series.records.first { $0.period.description == "2024-03" }?.events == 7)
        #expect(series.records.first { $0.period.description == "2024-01-15" }?.events == 8)
    }
}
