/// The time unit a model counts in (SPEC §2 `unit`).
public enum PeriodUnit: String, Sendable, Codable, CaseIterable, Comparable {
    case day, week, month, quarter, year, patient
    /// Published windows compared once each (CMS's rolling 12-month releases): a record's period as written.
    case release

    /// Coarseness order: a period can be bucketed into its own unit or a coarser one.
    var rank: Int {
        switch self {
        case .day: 0
        case .week: 1
        case .month: 2
        case .quarter: 3
        case .year: 4
        case .patient, .release: -1
        }
    }

    public static func < (a: PeriodUnit, b: PeriodUnit) -> Bool { a.rank < b.rank }

    /// Periods in a year (patients are counted by day).
    public var periodsPerYear: Double {
        switch self {
        case .day, .patient: 365.25
        case .week: 365.25 / 7
        case .month: 12
        case .quarter, .release: 4
        case .year: 1
        }
    }
}

/// A period of one unit, held as an ordinal so that periods sort and subtract: days since 1970-01-01,
/// ISO weeks since the week of 1970-01-01 (Monday 1969-12-29), months, quarters and years since year 0.
public struct Period: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let unit: PeriodUnit
    public let ordinal: Int

    public init(unit: PeriodUnit, ordinal: Int) {
        self.unit = unit
        self.ordinal = ordinal
    }

    public static func < (a: Period, b: Period) -> Bool { a.ordinal < b.ordinal }

    /// `YYYY-MM`, `YYYY-Www`, `YYYY-Qn`, `YYYY` or `YYYY-MM-DD`, as a period of its own unit, or nil; also as
    /// NHSN and CMS write them: `YYYYMmm` (NHSN's `summaryYM`, `2019M07`), `YYYYQn` (`summaryYQ`, `2019Q3`)
    /// and `MM/DD/YYYY` (CMS dates; one-digit month and day too).
    public static func parse(_ text: Substring) -> Period? {
        var s = String(text)
        return s.withUTF8(parse(utf8:))
    }

    /// `parse` on the UTF-8 bytes of the text.
    public static func parse(utf8 u: UnsafeBufferPointer<UInt8>) -> Period? {
        func digits(_ range: Range<Int>) -> Int? { number(u, range) }
        if u.count >= 8 && u.count <= 10, let slash = u.firstIndex(of: UInt8(ascii: "/")) {
            return parseUSDate(u, firstSlash: slash)
        }
        guard u.count >= 4, let year = digits(0..<4) else { return nil }
        if u.count == 4 { return Period(unit: .year, ordinal: year) }
        switch (u.count, u[4]) {
        case (7, UInt8(ascii: "M")), (7, UInt8(ascii: "m")):
            guard let m = digits(5..<7), (1...12).contains(m) else { return nil }
            return Period(unit: .month, ordinal: year * 12 + m - 1)
        case (6, UInt8(ascii: "Q")), (6, UInt8(ascii: "q")):
            guard let q = digits(5..<6), (1...4).contains(q) else { return nil }
            return Period(unit: .quarter, ordinal: year * 4 + q - 1)
        default:
            break
        }
        guard u[4] == UInt8(ascii: "-") else { return nil }
        switch u.count {
        case 7 where u[5] == UInt8(ascii: "Q") || u[5] == UInt8(ascii: "q"):
            guard let q = digits(6..<7), (1...4).contains(q) else { return nil }
            return Period(unit: .quarter, ordinal: year * 4 + q - 1)
        case 7:
            guard let m = digits(5..<7), (1...12).contains(m) else { return nil }
            return Period(unit: .month, ordinal: year * 12 + m - 1)
        case 8 where u[5] == UInt8(ascii: "W") || u[5] == UInt8(ascii: "w"):
            guard let w = digits(6..<8), w >= 1, w <= CivilDate.isoWeeksInYear(year) else { return nil }
            let monday = CivilDate.isoWeekOneMonday(year) + (w - 1) * 7
            return Period(unit: .week, ordinal: CivilDate.weekOrdinal(day: monday))
        case 10 where u[7] == UInt8(ascii: "-"):
            guard let m = digits(5..<7), let d = digits(8..<10), (1...12).contains(m),
                  d >= 1, d <= CivilDate.daysInMonth(year, m) else { return nil }
            return Period(unit: .day, ordinal: CivilDate.days(year, m, d))
        default:
            return nil
        }
    }

    /// The decimal digits of `u[range]` as a number; nil past the end or at a non-digit.
    private static func number(_ u: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int? {
        guard range.upperBound <= u.count else { return nil }
        var v = 0
        for i in range {
            let d = Int(u[i]) - 48
            guard d >= 0 && d <= 9 else { return nil }
            v = v * 10 + d
        }
        return v
    }

    /// `M/D/YYYY` with one- or two-digit month and day, as a day.
    private static func parseUSDate(_ u: UnsafeBufferPointer<UInt8>, firstSlash: Int) -> Period? {
        guard let second = u[(firstSlash + 1)...].firstIndex(of: UInt8(ascii: "/")),
              (1...2).contains(firstSlash), (1...2).contains(second - firstSlash - 1), u.count - second - 1 == 4 else { return nil }
        guard let m = number(u, 0..<firstSlash), let d = number(u, (firstSlash + 1)..<second), let y = number(u, (second + 1)..<u.count),
              (1...12).contains(m), d >= 1, d <= CivilDate.daysInMonth(y, m) else { return nil }
        return Period(unit: .day, ordinal: CivilDate.days(y, m, d))
    }

    /// The period of `unit` that contains this one, or nil when `unit` is finer (a month has no week) or
    /// the period straddles two of them (a week in a monthly model).
    public func bucketed(into target: PeriodUnit) -> Period? {
        if target == unit { return self }
        if target == .release { return unit == .patient ? nil : self }
        guard target != .patient, unit != .patient, unit < target else { return nil }
        switch unit {
        case .day:
            if target == .week { return Period(unit: .week, ordinal: CivilDate.weekOrdinal(day: ordinal)) }
            let (y, m, _) = CivilDate.civil(ordinal)
            return Period(unit: .month, ordinal: y * 12 + m - 1).bucketed(into: target)
        case .week:
            // A week can straddle two months, quarters or years: it is counted only by weekly models.
            return nil
        case .month:
            let year = ordinal.floorDiv(12), month0 = ordinal - year * 12
            return target == .quarter ? Period(unit: .quarter, ordinal: year * 4 + month0 / 3)
                                      : Period(unit: .year, ordinal: year)
        case .quarter:
            return Period(unit: .year, ordinal: ordinal.floorDiv(4))
        case .year, .patient, .release:
            return nil
        }
    }

    /// Day ordinal of the period's first day.
    var firstDay: Int {
        switch unit {
        case .day, .patient, .release: return ordinal
        case .week: return CivilDate.weekMonday(ordinal)
        case .month:
            let year = ordinal.floorDiv(12)
            return CivilDate.days(year, ordinal - year * 12 + 1, 1)
        case .quarter:
            let year = ordinal.floorDiv(4)
            return CivilDate.days(year, (ordinal - year * 4) * 3 + 1, 1)
        case .year: return CivilDate.days(ordinal, 1, 1)
        }
    }

    /// The canonical text of the period: `2025-03`, `2025-W09`, `2025-Q1`, `2025`, `2025-03-01`. A string holds
    /// up to 15 bytes in itself: made from the stack buffer, not in place with room for more, it is no heap block.
    public var description: String {
        withText { String(decoding: $0, as: UTF8.self) }
    }

    /// `body` given the canonical text's bytes, written into a buffer on the stack (the trace prints one per
    /// observation, and needs no string of it).
    func withText<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buffer in
            var n = 0
            func put(_ b: UInt8) { buffer[n] = b; n += 1 }
            /// Decimal digits, zero-padded to `width`, written from the last.
            func number(_ value: Int, width: Int) {
                if value < 0 { put(UInt8(ascii: "-")) }
                var count = 1
                var v = abs(value)
                while v >= 10 { v /= 10; count += 1 }
                let digits = max(width, count)
                v = abs(value)
                for i in stride(from: n + digits - 1, through: n, by: -1) {
                    buffer[i] = UInt8(48 + v % 10)
                    v /= 10
                }
                n += digits
            }
            switch unit {
            case .year:
                number(ordinal, width: 4)
            case .quarter:
                let year = ordinal.floorDiv(4)
                number(year, width: 4); put(UInt8(ascii: "-")); put(UInt8(ascii: "Q")); number(ordinal - year * 4 + 1, width: 1)
            case .month:
                let year = ordinal.floorDiv(12)
                number(year, width: 4); put(UInt8(ascii: "-")); number(ordinal - year * 12 + 1, width: 2)
            case .week:
                let monday = CivilDate.weekMonday(ordinal)
                let year = CivilDate.civil(monday + 3).year
                number(year, width: 4); put(UInt8(ascii: "-")); put(UInt8(ascii: "W"))
                number((monday - CivilDate.isoWeekOneMonday(year)) / 7 + 1, width: 2)
            case .day, .patient, .release:
                let (y, m, d) = CivilDate.civil(ordinal)
                number(y, width: 4); put(UInt8(ascii: "-")); number(m, width: 2); put(UInt8(ascii: "-")); number(d, width: 2)
            }
            return body(UnsafeBufferPointer(rebasing: buffer[..<n]))
        }
    }
}

extension Int {
    @inline(__always) func floorDiv(_ d: Int) -> Int {
        let q = self / d
        return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q
    }
}

/// Proleptic Gregorian calendar arithmetic on day numbers (days since 1970-01-01), after Howard Hinnant's
/// `days_from_civil` / `civil_from_days`.
public enum CivilDate {
    public static func days(_ y: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y - 1 : y
        let era = y.floorDiv(400)
        let yoe = y - era * 400
        let mp = (m + 9) % 12
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    public static func civil(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719468
        let era = z.floorDiv(146097)
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    public static func isLeap(_ y: Int) -> Bool { y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) }

    public static func daysInMonth(_ y: Int, _ m: Int) -> Int {
        [31, isLeap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
    }

    /// 0 = Monday … 6 = Sunday (1970-01-01 was a Thursday).
    public static func weekday(_ days: Int) -> Int { days + 3 - (days + 3).floorDiv(7) * 7 }

    /// The Monday of ISO week 1: the week holding the year's first Thursday (the week of 4 January).
    public static func isoWeekOneMonday(_ year: Int) -> Int {
        let jan4 = days(year, 1, 4)
        return jan4 - weekday(jan4)
    }

    /// 53 when the year starts on a Thursday, or is a leap year starting on a Wednesday; else 52.
    public static func isoWeeksInYear(_ year: Int) -> Int {
        (isoWeekOneMonday(year + 1) - isoWeekOneMonday(year)) / 7
    }

    /// Week ordinal of the ISO week holding `day`: weeks since the one starting Monday 1969-12-29.
    public static func weekOrdinal(day: Int) -> Int { (day + 3).floorDiv(7) }

    public static func weekMonday(_ ordinal: Int) -> Int { ordinal * 7 - 3 }
}
