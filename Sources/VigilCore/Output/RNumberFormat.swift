import Foundation

/// R's rules for printing a column of numbers (`formatReal` behind `format(x, digits)`, and
/// `format.pval`), so vigil's tables read like R's and can be compared by eye.
public enum RNumberFormat {
    /// `format(x, digits = d)`: one common layout for the whole vector, fixed unless fixed notation would
    /// be wider than scientific.
    public static func format(_ values: [Double], digits: Int) -> [String] {
        var maxLeft = 1, maxRight = 0, maxSignificant = 1, anyNegative = false, bigExponent = false
        let finite = values.filter(\.isFinite)
        for x in finite {
            let (power, significant) = decompose(x, digits: digits)
            if x < 0 { anyNegative = true }
            maxLeft = max(maxLeft, power >= 1 ? power + 1 : 1)
            maxRight = max(maxRight, max(0, significant - power - 1))
            maxSignificant = max(maxSignificant, significant)
            if abs(power) >= 100 { bigExponent = true }
        }
        let neg = anyNegative ? 1 : 0
        let fixedWidth = neg + maxLeft + (maxRight > 0 ? maxRight + 1 : 0)
        let sciWidth = neg + (maxSignificant > 1 ? maxSignificant + 1 : 1) + (bigExponent ? 5 : 4)
        let useFixed = fixedWidth <= sciWidth
        return values.map { x in
            guard x.isFinite else { return x.isNaN ? "NaN" : (x > 0 ? "Inf" : "-Inf") }
            return useFixed ? String(format: "%.\(maxRight)f", x)
                            : String(format: "%.\(maxSignificant - 1)e", x)
        }
    }

    /// `format.pval(p, digits, eps)`: p-values below eps print as "< eps"; the rest in two groups, those
    /// ≥ 1e-3 (or 1e-4 when digits > 1) and the smaller ones, each formatted together.
    public static func pValues(_ p: [Double], digits: Int, eps: Double = Double.ulpOfOne) -> [String] {
        var out = [String](repeating: "", count: p.count)
        let shown = p.indices.filter { p[$0] >= eps }
        let exponent = { (v: Double) in Int(floor(log10(v > 0 ? v : 1e-50))) }
        let fixedGroup = shown.filter { exponent(p[$0]) >= -3 || (exponent(p[$0]) == -4 && digits > 1) }
        let otherGroup = shown.filter { !fixedGroup.contains($0) }
        for group in [fixedGroup, otherGroup] where !group.isEmpty {
            for (i, s) in zip(group, format(group.map { p[$0] }, digits: digits)) { out[i] = s }
        }
        if shown.count < p.count {
            var d = max(1, digits - 2)
            var separator = d == 1 ? "" : " "
            if !shown.isEmpty {
                let width = shown.map { out[$0].count }.max() ?? 0
                if d > 1 && d + 6 > width { d = max(1, width - 7) }
                separator = d == 1 && width <= 6 ? "" : " "
            }
            let label = "<" + separator + format([eps], digits: d)[0]
            for i in p.indices where p[i] < eps { out[i] = label }
        }
        return out
    }

    /// Decimal exponent and the significant digits (≤ digits, trailing zeros dropped) of x rounded to
    /// `digits` significant digits.
    static func decompose(_ x: Double, digits: Int) -> (power: Int, significant: Int) {
        guard x != 0 else { return (0, 1) }
        let text = String(format: "%.\(digits - 1)e", abs(x))   // d.ddde±XX, correctly rounded
        guard let e = text.firstIndex(of: "e"), let power = Int(text[text.index(after: e)...]) else { return (0, digits) }
        var mantissa = text[..<e].replacingOccurrences(of: ".", with: "")
        while mantissa.count > 1 && mantissa.hasSuffix("0") { mantissa.removeLast() }
        return (power, mantissa.count)
    }
}
