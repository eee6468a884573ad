import Foundation

/// A sink's `digest: { every: 24h, at: "07:00", timezone: America/Chicago }`: the sink gets one message per
/// interval listing the events of that interval instead of one message per event. Whole days step by the
/// calendar of `timezone` (07:00 stays 07:00 across daylight saving); shorter intervals divide the day and
/// start at `at` local time.
public struct DigestSchedule: Sendable, Equatable {
    /// Seconds.
    public let every: Double
    /// Minutes after local midnight.
    public let at: Int
    public let timeZone: TimeZone

    public init?(every: Double, at: Int, timeZone: TimeZone) {
        guard every >= 1, every <= 366 * 86400, at >= 0, at < 1440 else { return nil }
        let days = every / 86400
        guard days == days.rounded() || (86400 / every).rounded() == 86400 / every else { return nil }
        self.every = every
        self.at = at
        self.timeZone = timeZone
    }

    private var calendar: Calendar {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = timeZone
        return c
    }

    /// The local `at` time of t's local day.
    private func anchor(of t: Date) -> Date {
        let c = calendar
        let midnight = c.startOfDay(for: t)
        return c.date(bySettingHour: at / 60, minute: at % 60, second: 0, of: midnight) ?? midnight.addingTimeInterval(Double(at) * 60)
    }

    /// The interval t falls in: [start, end).
    public func interval(containing t: Date) -> (start: Date, end: Date) {
        let c = calendar
        var start = anchor(of: t)
        if start > t { start = anchor(of: c.date(byAdding: .day, value: -1, to: start) ?? start.addingTimeInterval(-86400)) }
        let days = Int((every / 86400).rounded())
        if every >= 86400 {
            // Days counted from a fixed local day, so a 7-day digest keeps its weekday.
            let reference = c.startOfDay(for: Date(timeIntervalSince1970: 0))
            let index = c.dateComponents([.day], from: reference, to: c.startOfDay(for: start)).day ?? 0
            let back = ((index % days) + days) % days
            start = anchor(of: c.date(byAdding: .day, value: -back, to: start) ?? start)
            let end = anchor(of: c.date(byAdding: .day, value: days, to: start) ?? start.addingTimeInterval(every))
            return (start, end)
        }
        let steps = (t.timeIntervalSince(start) / every).rounded(.down)
        let s = start.addingTimeInterval(steps * every)
        return (s, s.addingTimeInterval(every))
    }

    /// `2026-12-01T07:00:00-06:00`: the interval's start in the digest's own time zone (the digest's id).
    public func label(_ start: Date) -> String {
        var style = Date.ISO8601FormatStyle(timeZone: timeZone)
        style = style.year().month().day().time(includingFractionalSeconds: false).timeZone(separator: .omitted)
        return start.formatted(style)
    }

    /// `24h`, `7d`, `30m`, `90s`.
    public static func seconds(_ text: String) -> Double? {
        guard let unit = text.last, let n = Double(text.dropLast()), n > 0, n.isFinite else { return nil }
        switch unit {
        case "s": return n
        case "m": return n * 60
        case "h": return n * 3600
        case "d": return n * 86400
        default: return nil
        }
    }
}
