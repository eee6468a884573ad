import Foundation

/// Serfling's seasonal terms (METHODS.md): harmonics k = 1…K add sin(2πk·u) and cos(2πk·u) to the linear
/// predictor, u = (day of year of the period's first day − 1)/365.25 — R's `as.POSIXlt(first_day)$yday / 365.25`.
/// Their covariate names `sin1, cos1, sin2, …` are reserved: a feed column so named is refused.
public enum Seasonal {
    /// The covariate names of K harmonics, in design order: sin1, cos1, sin2, cos2, …
    public static func names(harmonics: Int) -> [String] {
        harmonics < 1 ? [] : (1...harmonics).flatMap { ["sin\($0)", "cos\($0)"] }
    }

    /// (k, sine?) of a reserved name such as `sin2`, nil for any other name.
    public static func term(_ name: String) -> (k: Int, sine: Bool)? {
        guard name.count > 3, let k = Int(name.dropFirst(3)), k >= 1, String(k) == name.dropFirst(3) else { return nil }
        if name.hasPrefix("sin") { return (k, true) }
        if name.hasPrefix("cos") { return (k, false) }
        return nil
    }

    /// u of a day ordinal (days since 1970-01-01).
    public static func u(day: Int) -> Double {
        let year = CivilDate.civil(day).year
        return Double(day - CivilDate.days(year, 1, 1)) / 365.25
    }

    /// The value of term (k, sine) on `day`.
    public static func value(k: Int, sine: Bool, day: Int) -> Double {
        let x = 2 * Double.pi * Double(k) * u(day: day)
        return sine ? Foundation.sin(x) : Foundation.cos(x)
    }

    /// Periods a year of a unit, for the K < P/2 rule (nil: a yearly model has no season).
    public static func periodsPerYear(_ unit: PeriodUnit) -> Double? {
        unit == .year ? nil : unit.periodsPerYear
    }
}
