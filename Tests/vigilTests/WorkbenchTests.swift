import Foundation
import Testing

/// The workbench page in a real headless Chromium (Debian's `chromium`; `scripts/test` installs it): the
/// page `vigil replay --report` writes for the demo, and the page the daemon serves at `GET /ui`.
enum Chromium {
    /// The DOM after the page's script ran (`--dump-dom`), for a file or URL with its fragment.
    static func dom(_ url: String) async throws -> String {
        try await onOwnThread {
            let profile = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-chromium-\(UUID().uuidString.prefix(8))")
            defer { try? FileManager.default.removeItem(at: profile) }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                 "--user-data-dir=\(profile.path)", "--virtual-time-budget=5000", "--dump-dom", url]
            let out = Pipe(), err = Pipe()
            process.standardOutput = out
            process.standardError = err
            try process.run()
            let dom = out.fileHandleForReading.readDataToEndOfFile()
            _ = err.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0, !dom.isEmpty else {
                throw ChromiumFailed(description: "chromium exited \(process.terminationStatus) on \(url) (is Debian's chromium installed? scripts/test installs it)")
            }
            return String(decoding: dom, as: UTF8.self)
        }
    }

    struct ChromiumFailed: Error, CustomStringConvertible { let description: String }

    /// Matches of a pattern's first group.
    static func all(_ pattern: String, in text: String) -> [String] {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return [] }
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { m in
            Range(m.range(at: 1), in: text).map { String(text[$0]) }
        }
    }

    /// Funnel points per model (`<circle class="pt" …>` inside `<svg class="funnel" data-model="M">`).
    static func funnelPoints(_ dom: String) -> [String: Int] {
        var out: [String: Int] = [:]
        for part in dom.components(separatedBy: "<svg class=\"funnel\" data-model=\"").dropFirst() {
            let model = String(part.prefix { $0 != "\"" })
            let svg = part.components(separatedBy: "</svg>")[0]
            out[model] = svg.components(separatedBy: "class=\"pt\"").count - 1
        }
        return out
    }

    /// Rows of the "E < 1" list per model.
    static func smallRows(_ dom: String) -> [String: Int] {
        var out: [String: Int] = [:]
        for part in dom.components(separatedBy: "<details class=\"small-e\" data-model=\"").dropFirst() {
            let model = String(part.prefix { $0 != "\"" })
            out[model] = part.components(separatedBy: "</details>")[0].components(separatedBy: "<tr class=\"small\"").count - 1
        }
        return out
    }

    /// The alert rows' `data-state` values, and which of them the script hid.
    static func alertRows(_ dom: String) -> [(state: String, hidden: Bool)] {
        let body = dom.components(separatedBy: "<table id=\"alerts\">").dropFirst().first?.components(separatedBy: "</table>")[0] ?? ""
        return body.components(separatedBy: "<tr ").dropFirst().compactMap { row in
            guard row.contains("data-state=\"") else { return nil }
            let state = all("data-state=\"([^\"]*)\"", in: row).first ?? ""
            return (state, row.prefix(while: { $0 != ">" }).contains("display: none"))
        }
    }
}

@Suite(.serialized) struct WorkbenchTests {
    static let demo = VigilBinary.repositoryRoot.appendingPathComponent("Examples/demo")
    static let feeds = ["hai-monthly", "nicu-clabsi", "ssi-colo", "admissions-weekly", "nursing-homes", "readmissions",
                        "readmissions-patients", "vae-monthly"].map { demo.appendingPathComponent("\($0).csv").path }

    /// The demo's replay page: one funnel point per facility of every aggregate model (or a row of its E < 1
    /// list), the script runs (the count of alerts), and a state filter in the address hides the other rows.
    @Test func replayPageRendersInChromium() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-workbench-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let page = dir.appendingPathComponent("report.html").path, trace = dir.appendingPathComponent("trace.csv").path
        let models = VigilBinary.repositoryRoot.appendingPathComponent("Models").path
        let run = try await VigilBinary.run(["replay", "--models", models, "--input"] + Self.feeds
                                            + ["--facilities", Self.demo.appendingPathComponent("facilities.csv").path,
                                               "--trace", trace, "--report", page])
        #expect(run.status == 0, "\(run.stderr)")

        // Facilities per model, from the trace (every monitored observation of every series).
        var facilities: [String: Set<String>] = [:]
        let traceText = try String(contentsOfFile: trace, encoding: .utf8)
        let header = traceText.prefix { $0 != "\n" }.split(separator: ",").map(String.init)
        let (modelColumn, facilityColumn) = (header.firstIndex(of: "model") ?? 0, header.firstIndex(of: "facility_id") ?? 2)
        for line in traceText.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count > max(modelColumn, facilityColumn) else { continue }
            facilities[String(fields[modelColumn]), default: []].insert(String(fields[facilityColumn]))
        }

        let dom = try await Chromium.dom(URL(fileURLWithPath: page).absoluteString)
        let points = Chromium.funnelPoints(dom), small = Chromium.smallRows(dom)
        #expect(points.count >= 10, "\(points.keys.sorted())")
        for (model, count) in points {
            #expect(count + (small[model] ?? 0) == facilities[model]?.count, "\(model): one point (or E < 1 row) per facility")
        }
        let rows = Chromium.alertRows(dom)
        #expect(rows.count == 52 && rows.allSatisfy { !$0.hidden })
        #expect(dom.contains("<span id=\"alert-count\">52</span>"), "the page's script ran")

        let texan = rows.filter { $0.state == "TX" }.count
        #expect(texan > 0 && texan < rows.count)
        let filtered = try await Chromium.dom(URL(fileURLWithPath: page).absoluteString + "#state=TX")
        let shown = Chromium.alertRows(filtered)
        #expect(shown.filter { !$0.hidden }.count == texan)
        #expect(shown.filter { !$0.hidden }.allSatisfy { $0.state == "TX" })
        #expect(filtered.contains("<span id=\"alert-count\">\(texan) of 52</span>"))
    }
}

extension DaemonTests {
    /// `GET /ui` from loopback without a token: the daemon's page with its alerts, funnel and silences, rendered
    /// by Chromium; `?facility=` shows that facility's view alone.
    @Suite struct DaemonWorkbenchTests {
        @Test func daemonServesTheWorkbench() async throws {
            let daemon = try DaemonProcess(sinks: DaemonTests.sinks(webhook: nil), extra: "facilities: facilities.csv\n")
            defer { _ = daemon.stop() }
            try "facility_id,name,state\nH005,Fifth General,TX\nH010,Tenth Regional,OK\n"
                .write(to: daemon.dir.appendingPathComponent("facilities.csv"), atomically: true, encoding: .utf8)
            try await daemon.start()
            let input = try ReplayFiles.input("1-clabsi.csv")
            #expect(try await daemon.request("POST", "/v1/records", body: input, token: daemon.token).status == 202)
            let silence = try JSONSerialization.data(withJSONObject: ["matchers": ["facility_id": "H018"], "duration_hours": 4,
                                                                      "author": "j.doe@qio.example", "comment": "INC-4711"])
            #expect(try await daemon.request("POST", "/v1/silences", body: silence, contentType: "application/json",
                                             token: daemon.token).status == 201)

            let (status, body) = try await daemon.request("GET", "/ui")
            #expect(status == 200)
            let page = daemon.dir.appendingPathComponent("ui.html")
            try body.write(to: page)
            let dom = try await Chromium.dom(page.absoluteString)
            let csvFacilities = Set(String(decoding: input, as: UTF8.self).split(separator: "\n").dropFirst().map { String($0.prefix { $0 != "," }) })
            #expect(Chromium.funnelPoints(dom)["clabsi-nb"].map { $0 + (Chromium.smallRows(dom)["clabsi-nb"] ?? 0) } == csvFacilities.count)
            let firing = try await daemon.firingIDs()
            #expect(Chromium.alertRows(dom).count == firing.count)
            #expect(dom.contains("Silences (1)") && dom.contains("j.doe@qio.example") && dom.contains("INC-4711"))
            #expect(dom.contains("H005 Fifth General"))
            #expect(dom.contains("<span id=\"alert-count\">\(firing.count)</span>"))

            let (_, one) = try await daemon.request("GET", "/ui?facility=H010")
            let text = String(decoding: one, as: UTF8.self)
            #expect(text.components(separatedBy: "<article class=\"facility\"").count == 2 && text.contains("id=\"facility-H010\""))
        }
    }
}
