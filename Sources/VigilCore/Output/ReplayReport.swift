import Foundation
import VigilStats

/// `vigil replay --report FILE`: one self-contained HTML page (no scripts, no external files) for the
/// epidemiologist reading a replay — what was read and rejected, each model with its fitted expectation and
/// thresholds, the alerts firing at the end, and for the series behind them a chart of observed against
/// expected counts and of every detector's statistic as a share of its threshold.
public enum ReplayReport {
    /// Series charted (those whose latest alert is newest first); the rest are listed in the alert table.
    public static let chartLimit = 40
    /// Rows of the alert and rejected-row tables.
    public static let tableLimit = 1000

    public static func html(replay: Replay, summary: Replay.Summary, inputs: [String], generated: Date = Date()) -> String {
        let engine = replay.engine
        let firing = engine.firingAlerts.filter { !$0.isStale }.sorted { a, b in
            if a.model != b.model { return a.model < b.model }
            if a.facility != b.facility { return a.facility.utf8.lexicographicallyPrecedes(b.facility.utf8) }
            if a.period != b.period { return a.period < b.period }
            return a.detector < b.detector
        }
        var page = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>vigil replay report</title>
        <style>
        body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
        table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:2px 6px;text-align:left}
        td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f3f3}
        .critical{color:#a00;font-weight:bold}.warning{color:#a60}.info{color:#06a}
        figure{margin:1em 0 2em}figcaption{font-weight:bold}code{background:#f6f6f6}
        </style></head><body>
        <h1>vigil replay report</h1>
        <p>Generated \(esc(generated.formatted(Alert.timestampFormat))) from \(inputs.map { "<code>\(esc(($0 as NSString).lastPathComponent))</code>" }.joined(separator: ", ")).</p>

        """
        let raised = summary.events.filter { $0.status == .firing }.count
        page += "<h2>Summary</h2>\n<table>\n"
        for (label, value) in [("files", summary.files), ("records accepted", summary.accepted),
                               ("rows rejected", summary.rejected.count), ("records of measures no model watches", summary.unmatched),
                               ("alerts raised", raised), ("alerts resolved by revisions", summary.events.count - raised),
                               ("alerts firing at the end", firing.count)] {
            page += "<tr><th>\(esc(label))</th><td class=n>\(value)</td></tr>\n"
        }
        page += "</table>\n"
        if !summary.modelProblems.isEmpty {
            page += "<h2>Warnings</h2>\n<ul>\n" + summary.modelProblems.map { "<li>\(esc($0))</li>\n" }.joined() + "</ul>\n"
        }

        page += "<h2>Models</h2>\n<table>\n<tr><th>model</th><th>measure</th><th>unit</th><th>expected</th><th>baseline</th><th>detectors (threshold)</th><th>version</th></tr>\n"
        for model in engine.models {
            let c = model.config
            let detectors = zip(c.detectors, model.thresholds).map { spec, t in
                "\(spec.id): \(spec.typeName) \(spec.thresholdKey) = \(t.map { Alert.short($0) } ?? "not known yet")"
            }
            var expected = c.expected.kind.name
            if let theta = model.expectation?.theta { expected += ", θ = \(Alert.short(theta))" }
            let baseline = c.expected.baseline.map { "\($0.from) – \($0.to)" } ?? "—"
            page += "<tr><td>\(esc(c.name))</td><td>\(esc(c.measure))</td><td>\(c.unit.rawValue)</td><td>\(esc(expected))</td>"
                + "<td>\(esc(baseline))</td><td>\(detectors.map(esc).joined(separator: "<br>"))</td><td><code>\(c.version)</code></td></tr>\n"
        }
        page += "</table>\n"

        page += "<h2>Alerts firing at the end (\(firing.count))</h2>\n"
        if firing.isEmpty { page += "<p>None.</p>\n" } else {
            page += "<table>\n<tr><th>severity</th><th>facility</th><th>measure</th><th>model / detector</th><th>period</th><th>since</th>"
                + "<th>O</th><th>E</th><th>SIR (95% mid-P)</th><th>statistic / threshold</th></tr>\n"
            for a in firing.prefix(tableLimit) {
                let sir = a.sir.map { s in
                    Alert.short(s) + (a.sirInterval.map { " (\(Alert.short($0.lower))–\(Alert.short($0.upper)))" } ?? "")
                } ?? "—"
                page += "<tr><td class=\(a.severity.rawValue)>\(a.severity.rawValue)</td><td>\(esc(a.facility))</td><td>\(esc(a.measure))</td>"
                    + "<td>\(esc(a.model)) / \(esc(a.detector))</td><td>\(esc(a.period))</td><td>\(esc(a.signalStart))</td>"
                    + "<td class=n>\(a.observed)</td><td class=n>\(String(format: "%.2f", a.expected))</td><td class=n>\(sir)</td>"
                    + "<td class=n>\(String(format: "%.2f", a.statistic)) / \(Alert.short(a.threshold))</td></tr>\n"
            }
            page += "</table>\n"
            if firing.count > tableLimit { page += "<p>\(firing.count - tableLimit) more in the alerts file (<code>--alerts</code>).</p>\n" }
        }

        // The series behind the alerts, the one with the newest alert first.
        var newest: [String: (model: Int, facility: String, period: String)] = [:]
        let modelIndex = Dictionary(engine.models.enumerated().map { ($1.config.name, $0) }, uniquingKeysWith: { a, _ in a })
        for a in firing {
            guard let m = modelIndex[a.model] else { continue }
            let key = "\(m)\u{1F}\(a.facility)"
            if let held = newest[key], held.period >= a.period { continue }
            newest[key] = (m, a.facility, a.period)
        }
        let charted = newest.values.sorted { a, b in
            if a.period != b.period { return a.period > b.period }
            if a.facility != b.facility { return a.facility.utf8.lexicographicallyPrecedes(b.facility.utf8) }
            return a.model < b.model
        }
        if !charted.isEmpty {
            page += "<h2>Series with alerts (\(min(charted.count, chartLimit)) of \(charted.count))</h2>\n"
                + "<p>Top: observed (dots) and expected (line). Bottom: each detector's statistic divided by its threshold; "
                + "a signal is above the dashed line at 1.</p>\n"
        }
        for series in charted.prefix(chartLimit) {
            guard let result = engine.result(model: series.model, facility: series.facility) else { continue }
            let config = engine.models[series.model].config
            page += "<figure><figcaption>\(esc(series.facility)) — \(esc(config.measure)), model \(esc(config.name))</figcaption>\n"
            page += chart(result, detectors: config.detectors.map(\.id)) + "</figure>\n"
        }
        if !summary.rejected.isEmpty {
            page += "<h2>Rejected rows (\(summary.rejected.count))</h2>\n<pre>"
                + summary.rejected.prefix(tableLimit).map { esc($0.description) }.joined(separator: "\n") + "</pre>\n"
            if summary.rejected.count > tableLimit { page += "<p>\(summary.rejected.count - tableLimit) more on standard error.</p>\n" }
        }
        return page + "</body></html>\n"
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]

    /// Inline SVG: observed and expected on top, statistic ÷ threshold per detector below.
    static func chart(_ result: Engine.SeriesResult, detectors: [String]) -> String {
        let n = result.observations.count
        guard n > 0 else { return "<p>No monitored observations.</p>\n" }
        let width = 1000.0, left = 50.0, right = 10.0
        let top = (y: 10.0, height: 110.0), bottom = (y: 140.0, height: 110.0)
        let step = (width - left - right) / Double(max(n - 1, 1))
        func x(_ i: Int) -> Double { left + Double(i) * step }
        let counts = result.observations.map { (Double($0.observed), $0.input.expected) }
        let countMax = max(1, counts.map { max($0.0, $0.1) }.max() ?? 1)
        func yTop(_ v: Double) -> Double { top.y + top.height * (1 - v / countMax) }
        var ratios: [[Double]] = result.steps.map { $0.map { $0.threshold > 0 ? $0.statistic / $0.threshold : 0 } }
        let ratioMax = max(1.2, ratios.flatMap { $0 }.filter(\.isFinite).max() ?? 1.2)
        let ratioMin = min(0, ratios.flatMap { $0 }.filter(\.isFinite).min() ?? 0)
        ratios = ratios.map { $0.map { $0.isFinite ? $0 : 0 } }
        func yBottom(_ v: Double) -> Double { bottom.y + bottom.height * (ratioMax - v) / (ratioMax - ratioMin) }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) 280\" width=\"100%\" role=\"img\">\n"
        svg += "<text x=\"4\" y=\"\(f(top.y + 10))\" font-size=\"11\">\(Alert.short(countMax))</text>"
            + "<text x=\"4\" y=\"\(f(top.y + top.height))\" font-size=\"11\">0</text>\n"
        svg += "<polyline fill=\"none\" stroke=\"#888\" stroke-width=\"1.5\" points=\""
            + counts.enumerated().map { "\(f(x($0.offset))),\(f(yTop($0.element.1)))" }.joined(separator: " ") + "\"/>\n"
        for (i, c) in counts.enumerated() {
            svg += "<circle cx=\"\(f(x(i)))\" cy=\"\(f(yTop(c.0)))\" r=\"2.5\" fill=\"#222\"/>"
        }
        svg += "\n<line x1=\"\(f(left))\" x2=\"\(f(width - right))\" y1=\"\(f(yBottom(1)))\" y2=\"\(f(yBottom(1)))\" stroke=\"#a00\" stroke-dasharray=\"4 3\"/>\n"
        svg += "<text x=\"4\" y=\"\(f(yBottom(1) + 4))\" font-size=\"11\">1</text>\n"
        for (d, series) in ratios.enumerated() {
            let color = palette[d % palette.count]
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\""
                + series.enumerated().map { "\(f(x($0.offset))),\(f(yBottom($0.element)))" }.joined(separator: " ") + "\"/>\n"
            for (i, s) in result.steps[d].enumerated() where s.signal {
                svg += "<circle cx=\"\(f(x(i)))\" cy=\"\(f(yBottom(series[i])))\" r=\"3.5\" fill=\"\(color)\"/>"
            }
            svg += "<text x=\"\(f(left + 10 + Double(d) * 120))\" y=\"275\" font-size=\"12\" fill=\"\(color)\">\(esc(d < detectors.count ? detectors[d] : "?"))</text>\n"
        }
        let first = result.observations[0].label.text, last = result.observations[n - 1].label.text
        svg += "<text x=\"\(f(left))\" y=\"\(f(top.y + top.height + 14))\" font-size=\"11\">\(esc(first))</text>"
            + "<text x=\"\(f(width - right))\" y=\"\(f(top.y + top.height + 14))\" font-size=\"11\" text-anchor=\"end\">\(esc(last))</text>\n"
        return svg + "</svg>\n"
    }

    /// Text for HTML content and attribute values.
    static func esc(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}
