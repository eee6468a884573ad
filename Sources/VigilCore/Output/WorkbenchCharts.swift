import Foundation
import VigilStats

/// The workbench page's pictures, as inline SVG (no scripts needed to see them, so they print).
enum WorkbenchCharts {
    /// One facility on a funnel plot: O and E over its last monitored periods.
    struct FunnelPoint {
        let facility: String
        let label: String
        let observed: Int
        let expected: Double
        /// Its facility view is on the page (the point links to it).
        let linked: Bool
        var sir: Double { Double(observed) / expected }
    }

    /// Where a point lies against the limits.
    enum Band: String { case high99 = "above 99.8%", high95 = "above 95%", inside = "inside", low95 = "below 95%", low99 = "below 99.8%" }

    static func band(_ p: FunnelPoint, phi: Double?) -> Band {
        guard let l95 = Funnel.limits(expected: p.expected, level: Funnel.levels[0], phi: phi),
              let l99 = Funnel.limits(expected: p.expected, level: Funnel.levels[1], phi: phi) else { return .inside }
        let s = p.sir
        if s > l99.upper { return .high99 }
        if s > l95.upper { return .high95 }
        if s < l99.lower { return .low99 }
        if s < l95.lower { return .low95 }
        return .inside
    }

    static let bandColor: [Band: String] = [.high99: "#c0392b", .high95: "#e67e22", .inside: "#7f8c8d", .low95: "#5dade2", .low99: "#1f618d"]

    /// SIR against E (log axis) with the 95% and 99.8% limits around 1; one circle per facility (class `pt`).
    static func funnel(_ points: [FunnelPoint], phi: Double?, model: String) -> String {
        let width = 640.0, height = 340.0, left = 48.0, right = 12.0, top = 10.0, bottom = 36.0
        let es = points.map(\.expected)
        let eMin = max(1, es.min() ?? 1), eMax = max(eMin * 4, (es.max() ?? 10) * 1.15)
        let sirMax = points.map(\.sir).filter(\.isFinite).max() ?? 2
        let yMax = max(2, min(sirMax * 1.1, 12))
        func x(_ e: Double) -> Double { left + (width - left - right) * (log10(e) - log10(eMin)) / (log10(eMax) - log10(eMin)) }
        func y(_ v: Double) -> Double { top + (height - top - bottom) * (1 - min(v, yMax) / yMax) }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var svg = "<svg class=\"funnel\" data-model=\"\(esc(model))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"funnel plot of \(esc(model))\">\n"
        // Axes: SIR ticks, E decades.
        var tick = 0.0
        let step = yMax > 6 ? 2.0 : (yMax > 3 ? 1.0 : 0.5)
        while tick <= yMax + 1e-9 {
            svg += "<line x1=\"\(f(left))\" x2=\"\(f(width - right))\" y1=\"\(f(y(tick)))\" y2=\"\(f(y(tick)))\" stroke=\"#eee\"/>"
                + "<text x=\"\(f(left - 4))\" y=\"\(f(y(tick) + 4))\" font-size=\"11\" text-anchor=\"end\">\(Alert.short(tick))</text>\n"
            tick += step
        }
        var decade = pow(10, floor(log10(eMin)))
        while decade <= eMax {
            for m in [1.0, 2, 5] where decade * m >= eMin && decade * m <= eMax {
                let e = decade * m
                svg += "<line x1=\"\(f(x(e)))\" x2=\"\(f(x(e)))\" y1=\"\(f(top))\" y2=\"\(f(height - bottom))\" stroke=\"#f3f3f3\"/>"
                    + "<text x=\"\(f(x(e)))\" y=\"\(f(height - bottom + 14))\" font-size=\"11\" text-anchor=\"middle\">\(Alert.short(e).replacingOccurrences(of: ".0", with: ""))</text>\n"
            }
            decade *= 10
        }
        svg += "<text x=\"\(f((left + width) / 2))\" y=\"\(f(height - 4))\" font-size=\"12\" text-anchor=\"middle\">expected count E (last 12 periods, log scale)</text>"
            + "<text x=\"12\" y=\"\(f(top + (height - bottom) / 2))\" font-size=\"12\" transform=\"rotate(-90 12 \(f(top + (height - bottom) / 2)))\" text-anchor=\"middle\">SIR = O/E</text>\n"
        svg += "<line x1=\"\(f(left))\" x2=\"\(f(width - right))\" y1=\"\(f(y(1)))\" y2=\"\(f(y(1)))\" stroke=\"#333\"/>\n"
        // Limits on a log grid of E.
        let grid = (0...120).map { eMin * pow(eMax / eMin, Double($0) / 120) }
        for (level, dash) in zip(Funnel.levels, ["5 3", ""]) {
            let limits = grid.compactMap { e in Funnel.limits(expected: e, level: level, phi: phi).map { (e, $0) } }
            for side in [\(lower: Double, upper: Double).lower, \.upper] {
                svg += "<polyline class=\"limit\" data-level=\"\(level.name)\" fill=\"none\" stroke=\"#555\" stroke-width=\"1.2\""
                    + (dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"") + " points=\""
                    + limits.map { "\(f(x($0.0))),\(f(y($0.1[keyPath: side])))" }.joined(separator: " ") + "\"/>\n"
            }
        }
        for p in points {
            let band = band(p, phi: phi)
            let title = "\(p.label): O = \(p.observed), E = \(Alert.fixed2(p.expected)), SIR = \(Alert.fixed2(p.sir)) (\(band.rawValue))"
            let circle = "<circle class=\"pt\" data-facility=\"\(esc(p.facility))\" data-band=\"\(band.rawValue)\" cx=\"\(f(x(p.expected)))\" "
                + "cy=\"\(f(y(p.sir)))\" r=\"\(band == .inside ? 3 : 4.5)\" fill=\"\(bandColor[band] ?? "#777")\" fill-opacity=\"0.8\">"
                + "<title>\(esc(title))</title></circle>"
            svg += p.linked ? "<a href=\"#facility=\(esc(p.facility))\">\(circle)</a>\n" : circle + "\n"
        }
        return svg + "</svg>\n"
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]

    /// A series' control chart: observed (dots) and expected (line) with the alerts' periods marked, then one
    /// panel per detector with its statistic and its threshold (dashed) and the signals.
    static func control(_ result: Engine.SeriesResult, detectors: [String], alertPeriods: Set<String>, limit: Int = 400) -> String {
        let all = result.observations.count
        guard all > 0 else { return "<p>No monitored observations.</p>\n" }
        let start = max(0, all - limit)
        let observations = Array(result.observations[start...])
        let n = observations.count
        let width = 900.0, left = 56.0, right = 10.0, panel = 90.0, gap = 26.0
        let height = 20 + panel + gap + Double(detectors.count) * (panel + gap) + 10
        let stepX = (width - left - right) / Double(max(n - 1, 1))
        func x(_ i: Int) -> Double { left + Double(i) * stepX }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var svg = "<svg class=\"control\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\">\n"
        let countMax = max(1, observations.map { max(Double($0.observed), $0.input.expected) }.max() ?? 1)
        let top = 16.0
        func yCount(_ v: Double) -> Double { top + panel * (1 - v / countMax) }
        svg += "<text x=\"\(f(left - 4))\" y=\"\(f(top + 4))\" font-size=\"11\" text-anchor=\"end\">\(Alert.short(countMax))</text>"
            + "<text x=\"\(f(left - 4))\" y=\"\(f(top + panel))\" font-size=\"11\" text-anchor=\"end\">0</text>"
            + "<text x=\"\(f(left))\" y=\"\(f(top - 4))\" font-size=\"11\">observed (dots) and expected (line)</text>\n"
        for (i, o) in observations.enumerated() where alertPeriods.contains(o.label.text) {
            svg += "<line class=\"alert-mark\" x1=\"\(f(x(i)))\" x2=\"\(f(x(i)))\" y1=\"\(f(top))\" y2=\"\(f(top + panel))\" stroke=\"#c0392b\" stroke-width=\"2\" opacity=\"0.5\"><title>alert at \(esc(o.label.text))</title></line>"
        }
        svg += "<polyline fill=\"none\" stroke=\"#888\" stroke-width=\"1.5\" points=\""
            + observations.enumerated().map { "\(f(x($0.offset))),\(f(yCount($0.element.input.expected)))" }.joined(separator: " ") + "\"/>\n"
        for (i, o) in observations.enumerated() {
            svg += "<circle cx=\"\(f(x(i)))\" cy=\"\(f(yCount(Double(o.observed))))\" r=\"2.2\" fill=\"#222\"/>"
        }
        svg += "\n"
        for (d, name) in detectors.enumerated() where d < result.steps.count {
            let steps = Array(result.steps[d][start...])
            let y0 = top + panel + gap + Double(d) * (panel + gap)
            let values = steps.flatMap { [$0.statistic, $0.threshold] }.filter(\.isFinite)
            let hi = max(values.max() ?? 1, 1e-9), lo = min(values.min() ?? 0, 0)
            func y(_ v: Double) -> Double { y0 + panel * (hi - (v.isFinite ? v : lo)) / (hi - lo) }
            let color = palette[d % palette.count]
            svg += "<text x=\"\(f(left))\" y=\"\(f(y0 - 4))\" font-size=\"11\" fill=\"\(color)\">\(esc(name)): statistic, threshold dashed</text>"
                + "<text x=\"\(f(left - 4))\" y=\"\(f(y0 + 4))\" font-size=\"11\" text-anchor=\"end\">\(Alert.short(hi))</text>"
                + "<text x=\"\(f(left - 4))\" y=\"\(f(y0 + panel))\" font-size=\"11\" text-anchor=\"end\">\(Alert.short(lo))</text>\n"
            svg += "<polyline fill=\"none\" stroke=\"#c0392b\" stroke-dasharray=\"4 3\" points=\""
                + steps.enumerated().map { "\(f(x($0.offset))),\(f(y($0.element.threshold)))" }.joined(separator: " ") + "\"/>\n"
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\""
                + steps.enumerated().map { "\(f(x($0.offset))),\(f(y($0.element.statistic)))" }.joined(separator: " ") + "\"/>\n"
            for (i, s) in steps.enumerated() where s.signal {
                svg += "<circle class=\"signal\" cx=\"\(f(x(i)))\" cy=\"\(f(y(s.statistic)))\" r=\"3.5\" fill=\"\(color)\"/>"
            }
            svg += "\n"
        }
        let labelY = height - 4
        svg += "<text x=\"\(f(left))\" y=\"\(f(labelY))\" font-size=\"11\">\(esc(observations[0].label.text))</text>"
            + "<text x=\"\(f(width - right))\" y=\"\(f(labelY))\" font-size=\"11\" text-anchor=\"end\">\(esc(observations[n - 1].label.text))</text>\n"
        return svg + "</svg>\n"
    }

    static func esc(_ s: String) -> String { Workbench.esc(s) }
}
