import Foundation
import VigilStats

/// The workbench page: served by the daemon (`GET /ui`) and written by `vigil replay --report`, the same page.
/// One self-contained HTML file (inline CSS, SVG and a small script; nothing fetched), readable on a laptop
/// and printable:
///
/// - the network: per aggregate model, a funnel plot of each facility's SIR over its last 12 monitored
///   periods against E, with 95% and 99.8% limits (`Funnel`; φ-widened when the model's counts are
///   overdispersed), facilities with E < 1 listed apart without an SIR;
/// - the firing alerts, sortable by any column and filtered by state, measure, severity and text (the filter
///   is kept in the address's `#state=TX&measure=…`, so a filtered view can be linked);
/// - facility views: for the facilities with firing alerts, a control chart per series (observed against
///   expected with the alerts marked, each detector's statistic against its threshold);
/// - silences with their authors (daemon), the models, and the rejected rows (replay).
public enum Workbench {
    /// The monitored periods a funnel point sums.
    public static let funnelPeriods = 12
    /// Facility views on one page (those with the newest alerts first); a daemon's `GET /ui?facility=ID`
    /// shows any facility.
    public static let facilityLimit = 60
    /// Rows of the alert and rejected-row tables.
    public static let tableLimit = 2000

    /// What the page shows besides what the engine knows.
    public struct Content {
        public var title: String
        public var generated: Date
        /// One line on where the data came from.
        public var source: String
        public var summary: [(label: String, value: String)] = []
        public var warnings: [String] = []
        /// The alerts firing (stale ones too).
        public var alerts: [Alert] = []
        /// Alert id → "by: note" of its acknowledgement.
        public var acknowledged: [String: String] = [:]
        /// Alert id → the silence or rule holding its events.
        public var held: [String: String] = [:]
        public var silences: [Silence]? = nil
        public var rejected: [RowError] = []
        /// Show only this facility's view (and the network).
        public var facility: String? = nil

        public init(title: String, generated: Date, source: String) {
            self.title = title
            self.generated = generated
            self.source = source
        }
    }

    /// `vigil replay --report`: the page at the end of a replay.
    public static func replayPage(replay: Replay, summary: Replay.Summary, inputs: [String], generated: Date = Date()) -> String {
        var content = Content(title: "vigil replay", generated: generated,
                              source: "replay of " + inputs.map { ($0 as NSString).lastPathComponent }.joined(separator: ", "))
        let raised = summary.events.filter { $0.status != .resolved }.count
        let firing = replay.engine.firingAlerts
        content.summary = [("files", "\(summary.files)"), ("records accepted", "\(summary.accepted)"),
                           ("rows rejected", "\(summary.rejected.count)"),
                           ("records of measures no model watches", "\(summary.unmatched)"),
                           ("alerts raised", "\(raised)"), ("alerts resolved by revisions", "\(summary.events.count - raised)"),
                           ("alerts firing at the end", "\(firing.count)")]
        content.warnings = summary.modelProblems
        content.alerts = firing
        content.rejected = summary.rejected
        return html(engine: replay.engine, content)
    }

    public static func html(engine: Engine, _ c: Content) -> String {
        let alerts = c.alerts.sorted { a, b in
            if a.severity != b.severity { return a.severity.rank > b.severity.rank }
            if a.period != b.period { return a.period > b.period }
            return a.id < b.id
        }
        // Facility views: the facilities with the newest alerts first (or the one asked for).
        var newest: [String: String] = [:]
        for a in alerts where (newest[a.facility] ?? "") < a.period { newest[a.facility] = a.period }
        var viewed = newest.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map(\.key)
        if let only = c.facility { viewed = [only] }
        let shown = Array(viewed.prefix(facilityLimit))
        let linked = Set(shown)
        let labels = Dictionary(alerts.compactMap { a in a.facilityLabels.map { (a.facility, $0) } }, uniquingKeysWith: { a, _ in a })
        func name(_ facility: String) -> String {
            let labels = labels[facility] ?? engine.facilities?[facility]
            return labels?["name"].map { "\(facility) \($0)" } ?? facility
        }

        var page = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(esc(c.title)) — workbench</title>
        <style>\(style)</style></head><body>
        <header><h1>\(esc(c.title)) — workbench</h1>
        <p>\(esc(c.source)); generated \(esc(Alert.timestamp(c.generated))).</p></header>
        <nav class="controls"><a href="#">Everything</a> · <a href="#view=network">Network</a> · <a href="#view=alerts">Alerts</a> · <a href="#view=facilities">Facilities</a>\(c.silences == nil ? "" : " · <a href=\"#view=silences\">Silences</a>") · <a href="#view=models">Models</a></nav>

        """
        if !c.summary.isEmpty {
            page += "<table class=\"summary\" data-view=\"summary\">" + c.summary.map { "<tr><th>\(esc($0.label))</th><td class=n>\(esc($0.value))</td></tr>" }.joined() + "</table>\n"
        }
        if !c.warnings.isEmpty {
            page += "<h2>Warnings</h2>\n<ul>\n" + c.warnings.map { "<li>\(esc($0))</li>\n" }.joined() + "</ul>\n"
        }

        // The network.
        page += "<section id=\"network\" data-view=\"network\"><h2>Network: SIR by facility</h2>\n<p class=\"note\">Each point is a facility: O/E over its last "
            + "\(funnelPeriods) monitored periods against E. Limits at SIR 1: 95% (dashed) and 99.8% (solid), Poisson exact "
            + "(Spiegelhalter's interpolation), widened by φ when the model's counts are overdispersed. Facilities with E &lt; 1 "
            + "have no SIR (as NHSN) and are listed apart. Red: above 99.8%; orange: above 95%; blue: below.</p>\n<div class=\"grid\">\n"
        for (m, model) in engine.models.enumerated() {
            let config = model.config
            guard !config.isPatientLevel else {
                page += "<h3>\(esc(config.name)) — \(esc(config.measure))</h3><p class=\"note\">Patient-level model: see its alerts and facility views.</p>\n"
                continue
            }
            var points: [WorkbenchCharts.FunnelPoint] = []
            var small: [(facility: String, observed: Int, expected: Double)] = []
            engine.seriesResults(model: m) { result in
                let recent = result.observations.suffix(funnelPeriods)
                guard !recent.isEmpty else { return }
                let observed = recent.reduce(0) { $0 + $1.observed }
                let expected = recent.reduce(0.0) { $0 + $1.input.expected }
                guard expected.isFinite else { return }
                if expected >= 1 {
                    points.append(.init(facility: result.facility, label: name(result.facility), observed: observed, expected: expected,
                                        linked: linked.contains(result.facility)))
                } else {
                    small.append((result.facility, observed, expected))
                }
            }
            let phi = Funnel.overdispersion(points.map { (Double($0.observed), $0.expected) })
            page += "<figure class=\"network\" id=\"funnel-\(esc(config.name))\"><figcaption>\(esc(config.name)) — \(esc(config.measure)): "
                + "\(points.count) facilit\(points.count == 1 ? "y" : "ies") with E ≥ 1"
                + (phi.map { $0 > 1 ? ", φ = \(Alert.fixed2($0)) (limits widened)" : ", φ = \(Alert.fixed2($0)) (Poisson limits)" } ?? "")
                + "</figcaption>\n"
            page += points.isEmpty ? "<p class=\"note\">No facility has E ≥ 1 over its last \(funnelPeriods) periods yet.</p>\n"
                : WorkbenchCharts.funnel(points, phi: phi, model: config.name)
            let outside = points.filter { WorkbenchCharts.band($0, phi: phi) == .high99 }.sorted { $0.sir > $1.sir }
            if !outside.isEmpty {
                page += "<p>Above 99.8%: " + outside.map { p in
                    let text = "\(esc(p.label)) (SIR \(Alert.fixed2(p.sir)))"
                    return p.linked ? "<a href=\"#facility=\(esc(p.facility))\">\(text)</a>" : text
                }.joined(separator: ", ") + "</p>\n"
            }
            if !small.isEmpty {
                page += "<details class=\"small-e\" data-model=\"\(esc(config.name))\"><summary>\(small.count) facilit\(small.count == 1 ? "y" : "ies") with E &lt; 1 (no SIR)</summary><table>"
                    + "<tr><th>facility</th><th>O</th><th>E</th></tr>"
                    + small.map { "<tr class=\"small\" data-facility=\"\(esc($0.facility))\"><td>\(esc(name($0.facility)))</td><td class=n>\($0.observed)</td><td class=n>\(Alert.fixed2($0.expected))</td></tr>" }.joined()
                    + "</table></details>\n"
            }
            page += "</figure>\n"
        }
        page += "</div></section>\n"

        // The alerts.
        let states = Set(alerts.compactMap { $0.facilityLabels?["state"] }).sorted()
        let measures = Set(alerts.map(\.measure)).sorted()
        page += "<section id=\"alerts-section\" data-view=\"alerts\"><h2>Firing alerts (<span id=\"alert-count\">\(alerts.count)</span>)</h2>\n"
        if alerts.isEmpty { page += "<p>None.</p>\n" } else {
            func select(_ id: String, _ label: String, _ values: [String]) -> String {
                "<label>\(label) <select id=\"f-\(id)\" data-key=\"\(id)\"><option value=\"\">all</option>"
                    + values.map { "<option>\(esc($0))</option>" }.joined() + "</select></label> "
            }
            page += "<div class=\"controls filters\">" + select("state", "state", states) + select("measure", "measure", measures)
                + select("severity", "severity", Severity.allCases.map(\.rawValue))
                + "<label>text <input id=\"f-text\" data-key=\"text\" type=\"search\" placeholder=\"facility, model…\"></label></div>\n"
            page += "<table id=\"alerts\"><thead><tr>" + ["severity", "facility", "state", "measure", "model / detector", "period", "since",
                                                          "O", "E", "SIR (95% mid-P)", "statistic / threshold", "status"]
                .enumerated().map { "<th data-col=\"\($0.offset)\" title=\"sort\">\($0.element)</th>" }.joined() + "</tr></thead><tbody>\n"
            for a in alerts.prefix(tableLimit) {
                let state = a.facilityLabels?["state"] ?? ""
                let sir = a.sir.map { s in Alert.fixed2(s) + (a.sirInterval.map { " (\(Alert.fixed2($0.lower))–\(Alert.fixed2($0.upper)))" } ?? "") } ?? "—"
                var status = a.status == .stale ? "stale" : "firing"
                if let held = c.held[a.id] { status += "; held: \(held)" }
                if let ack = c.acknowledged[a.id] { status += "; acknowledged by \(ack)" }
                let facility = linked.contains(a.facility) ? "<a href=\"#facility=\(esc(a.facility))\">\(esc(name(a.facility)))</a>" : esc(name(a.facility))
                let severityRank = a.severity.rank
                page += "<tr data-state=\"\(esc(state))\" data-measure=\"\(esc(a.measure))\" data-severity=\"\(a.severity.rawValue)\" data-facility=\"\(esc(a.facility))\">"
                    + "<td class=\"\(a.severity.rawValue)\" data-v=\"\(severityRank)\">\(a.severity.rawValue)</td><td>\(facility)</td><td>\(esc(state))</td>"
                    + "<td>\(esc(a.measure))</td><td>\(esc(a.model)) / \(esc(a.isStale ? "stale feed" : a.detector))</td>"
                    + "<td>\(esc(a.period))</td><td>\(esc(a.signalStart))</td>"
                    + "<td class=n>\(a.isStale ? "" : "\(a.observed)")</td><td class=n>\(a.isStale ? "" : Alert.fixed2(a.expected))</td>"
                    + "<td class=n data-v=\"\(a.sir.map { "\($0)" } ?? "-1")\">\(a.isStale ? "" : sir)</td>"
                    + "<td class=n>\(a.isStale ? "" : "\(Alert.fixed2(a.statistic)) / \(Alert.short(a.threshold))")</td><td>\(esc(status))</td></tr>\n"
            }
            page += "</tbody></table>\n"
            if alerts.count > tableLimit { page += "<p>\(alerts.count - tableLimit) more: the API (<code>GET /v1/alerts</code>) or the alerts file list them all.</p>\n" }
        }
        page += "</section>\n"

        // Facility views.
        page += "<section id=\"facilities\" data-view=\"facilities\"><h2>Facilities</h2>\n"
        if shown.isEmpty { page += "<p>No facility has a firing alert.</p>\n" } else {
            page += "<p class=\"note\">The \(shown.count) facilit\(shown.count == 1 ? "y" : "ies") with firing alerts"
                + (viewed.count > shown.count ? " (of \(viewed.count), newest alerts first)" : "")
                + ". Each series: observed (dots) and expected (line), alert periods in red; then each detector's statistic "
                + "against its threshold (dashed), signals as dots. <a class=\"controls\" href=\"#\">Show all</a></p>\n"
        }
        let alertsByFacility = Dictionary(grouping: alerts, by: \.facility)
        for facility in shown {
            page += "<article class=\"facility\" id=\"facility-\(esc(facility))\" data-facility=\"\(esc(facility))\"><h3>\(esc(name(facility)))</h3>\n"
                + "<p class=\"back controls\"><a href=\"#\">← everything</a> · <a href=\"#view=facilities\">all facilities</a></p>\n"
            let own = (alertsByFacility[facility] ?? []).map { a in
                "\(a.severity.rawValue): \(a.summary)"
            }
            if !own.isEmpty { page += "<ul class=\"facility-alerts\">" + own.map { "<li>\(esc($0))</li>" }.joined() + "</ul>\n" }
            if let labels = labels[facility] ?? engine.facilities?[facility] {
                page += "<p class=\"note\">" + labels.labels.map { "\(esc($0.key)): \(esc($0.value))" }.joined(separator: " · ") + "</p>\n"
            }
            // The models it has alerts of first.
            let alerted = Set((alertsByFacility[facility] ?? []).map(\.model))
            let order = engine.models.indices.sorted { (alerted.contains(engine.models[$0].config.name) ? 0 : 1, $0) < (alerted.contains(engine.models[$1].config.name) ? 0 : 1, $1) }
            for m in order {
                let model = engine.models[m]
                guard let result = engine.result(model: m, facility: facility), !result.observations.isEmpty else { continue }
                let config = model.config
                let periods = Set((alertsByFacility[facility] ?? []).filter { $0.model == config.name }.map(\.period))
                page += "<figure><figcaption>\(esc(config.measure)), model \(esc(config.name))</figcaption>\n"
                    + WorkbenchCharts.control(result, detectors: config.detectors.map(\.id), alertPeriods: periods) + "</figure>\n"
            }
            page += "</article>\n"
        }
        page += "</section>\n"

        if let silences = c.silences {
            page += "<section id=\"silences\" data-view=\"silences\"><h2>Silences (\(silences.count))</h2>\n"
            if silences.isEmpty { page += "<p>None active or pending.</p>\n" } else {
                page += "<table><tr><th>state</th><th>matchers</th><th>from</th><th>until</th><th>author</th><th>comment</th><th>id</th></tr>\n"
                for s in silences {
                    let matchers = s.matcher.conditions.map { "\($0.key) = \($0.values.sorted().joined(separator: ", "))" }.joined(separator: "; ")
                    page += "<tr><td>\(s.state(at: c.generated))</td><td>\(esc(matchers))</td><td>\(esc(Alert.timestamp(s.startsAt)))</td>"
                        + "<td>\(esc(Alert.timestamp(s.effectiveEnd)))</td><td>\(esc(s.author))</td><td>\(esc(s.comment))</td><td><code>\(esc(s.id))</code></td></tr>\n"
                }
                page += "</table>\n"
            }
            page += "</section>\n"
        }

        page += "<section id=\"models\" data-view=\"models\"><h2>Models</h2>\n<table><tr><th>model</th><th>measure</th><th>unit</th><th>expected</th><th>baseline</th><th>detectors (threshold)</th><th>version</th></tr>\n"
        for model in engine.models {
            let cfg = model.config
            let detectors = zip(cfg.detectors, model.thresholds).map { spec, t in
                "\(spec.id): \(spec.typeName) \(spec.thresholdKey) = \(t.map { Alert.short($0) } ?? "per series")"
            }
            var expected = cfg.expected.kind.name
            if let theta = model.expectation?.theta { expected += ", θ = \(Alert.short(theta))" }
            let baseline = cfg.expected.baseline.map { "\($0.from) – \($0.to)" } ?? "—"
            page += "<tr><td>\(esc(cfg.name))</td><td>\(esc(cfg.measure))</td><td>\(cfg.unit.rawValue)</td><td>\(esc(expected))</td>"
                + "<td>\(esc(baseline))</td><td>\(detectors.map(esc).joined(separator: "<br>"))</td><td><code>\(cfg.version)</code></td></tr>\n"
        }
        page += "</table></section>\n"
        if !c.rejected.isEmpty {
            page += "<section id=\"rejected\" data-view=\"models\"><h2>Rejected rows (\(c.rejected.count))</h2>\n<pre>"
                + c.rejected.prefix(tableLimit).map { esc($0.description) }.joined(separator: "\n") + "</pre>\n"
            if c.rejected.count > tableLimit { page += "<p>\(c.rejected.count - tableLimit) more on standard error.</p>\n" }
            page += "</section>\n"
        }
        return page + "<script>\(script)</script>\n</body></html>\n"
    }

    static let style = """
    body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;padding:0 1em;color:#222;max-width:1180px}
    h1{font-size:1.5em;margin:.2em 0}h2{margin-top:1.6em;border-bottom:1px solid #ddd}h3{margin:1.2em 0 .3em}
    table{border-collapse:collapse;margin:.5em 0 1.2em}th,td{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}
    td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f3f3}#alerts th{cursor:pointer;user-select:none}
    .critical{color:#a00;font-weight:bold}.warning{color:#a60}.info{color:#06a}.note{color:#555}
    figure{margin:.8em 0 1.6em}figcaption{font-weight:bold;margin-bottom:.3em}svg{max-width:100%;height:auto}
    .grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:0 1.5em}.grid figure{margin:.5em 0 1em}
    svg.funnel{width:100%}svg.control{width:900px}code{background:#f6f6f6}nav{margin:.5em 0 1em}
    .filters label{margin-right:1em}article.facility{border-top:1px solid #eee;padding-top:.4em}
    body.focus #facilities>p.note{display:none}
    body:not(.focus) .back{display:none}
    @media print{.controls{display:none}body{max-width:none;margin:0}figure,article.facility{break-inside:avoid}a{color:inherit;text-decoration:none}}
    """

    /// Filters (kept in the address's fragment), sorting, and the facility view.
    static let script = """
    (function(){
    var rows=[].slice.call(document.querySelectorAll('#alerts tbody tr'));
    var inputs=[].slice.call(document.querySelectorAll('.filters select,.filters input'));
    function params(){return new URLSearchParams(location.hash.replace(/^#/,''));}
    function apply(){
      var p=params(),n=0,text=(p.get('text')||'').toLowerCase();
      inputs.forEach(function(i){var v=p.get(i.dataset.key)||'';if(i.value!==v)i.value=v;});
      rows.forEach(function(r){
        var ok=['state','measure','severity'].every(function(k){var v=p.get(k);return !v||r.dataset[k]===v;})
          &&(!text||r.textContent.toLowerCase().indexOf(text)>=0);
        r.style.display=ok?'':'none';if(ok)n++;
      });
      var count=document.getElementById('alert-count');if(count)count.textContent=n+(n===rows.length?'':' of '+rows.length);
      var f=p.get('facility');
      [].forEach.call(document.querySelectorAll('article.facility'),function(a){a.style.display=!f||a.dataset.facility===f?'':'none';});
      var v=p.get('view')||(f?'facilities':'');
      [].forEach.call(document.querySelectorAll('[data-view]'),function(s){s.style.display=!v||s.dataset.view===v?'':'none';});
      document.body.classList.toggle('focus',!!f);
    }
    inputs.forEach(function(i){i.addEventListener('input',function(){
      var p=params();p.delete('facility');
      if(i.value)p.set(i.dataset.key,i.value);else p.delete(i.dataset.key);
      history.replaceState(null,'','#'+p.toString());apply();
    });});
    [].forEach.call(document.querySelectorAll('#alerts th'),function(th){th.addEventListener('click',function(){
      var col=+th.dataset.col,down=th.dataset.dir!=='down';th.dataset.dir=down?'down':'up';
      function key(r){var c=r.children[col];var v=c.dataset.v!==undefined?c.dataset.v:c.textContent;var x=parseFloat(v);return isNaN(x)?v:x;}
      rows.sort(function(a,b){var x=key(a),y=key(b);var c=x<y?-1:x>y?1:0;return down?-c:c;});
      var body=document.querySelector('#alerts tbody');rows.forEach(function(r){body.appendChild(r);});
    });});
    window.addEventListener('hashchange',apply);apply();
    })();
    """

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
