import Foundation
import Testing

/// Feeds with their own column mappings (`sources:`): an NHSN-style export dropped in a source's own spool
/// directory and the same layout posted with `?source=NAME` are read with that source's mapping; the
/// top-level spool keeps reading SPEC files; withheld counts are suppressed, counted, and listed.
extension DaemonTests {
    /// The replay test's CLABSI feed as an NHSN export: its own headers in other case, `2024M05` periods, a
    /// location type to filter on (ward rows added, which must be left out) and CMS's "Not Available".
    static func nhsnStyle(_ spec: String) -> (text: String, withheld: Int) {
        var lines = spec.split(separator: "\n").map(String.init)
        lines.removeFirst()
        var out = "ORGID,LocationType,summaryYM,infCount,NumCLDays,BedSize,ICU_Share\n"
        var withheld = 0
        for (i, line) in lines.enumerated() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            let period = f[2].replacingOccurrences(of: "-", with: "M")
            out += "\(f[0]),CC,\(period),\(f[3]),\(f[4]),\(f[5]),\(f[6])\n"
            out += "\(f[0]),WARD,\(period),9,\(f[4]),\(f[5]),\(f[6])\n"
            if i % 97 == 0 {
                out += "\(f[0]),CC,2021M0\(1 + i % 9),Not Available,\(f[4]),\(f[5]),\(f[6])\n"
                withheld += 1
            }
        }
        return (out, withheld)
    }

    @Test func sourcesReadTheirFeedsWithTheirOwnMapping() async throws {
        let extra = """
            sources:
              - { name: nhsn-clabsi, columns: nhsn-clabsi.yaml, spool: { dir: spool-nhsn } }
            """
        let daemon = try DaemonProcess(sinks: Self.sinks(webhook: nil), extra: extra)
        try """
            measure: CLABSI
            where: [{ column: locationType, equals: CC }]
            columns: { orgID: facility_id, summaryYM: period, infCount: events, numcldays: exposure }

            """.write(to: daemon.dir.appendingPathComponent("nhsn-clabsi.yaml"), atomically: true, encoding: .utf8)
        try await daemon.start()
        let feed = Self.nhsnStyle(String(decoding: try ReplayFiles.input("1-clabsi.csv"), as: UTF8.self))
        let nhsnSpool = daemon.dir.appendingPathComponent("spool-nhsn")
        try Data(feed.text.utf8).write(to: nhsnSpool.appendingPathComponent(".export.part"))
        try FileManager.default.moveItem(at: nhsnSpool.appendingPathComponent(".export.part"), to: nhsnSpool.appendingPathComponent("export.csv"))
        try await waitFor("the export in spool-nhsn/done/", seconds: 120) {
            FileManager.default.fileExists(atPath: nhsnSpool.appendingPathComponent("done/export.csv").path)
        }
        // The same alerts as the SPEC file gives (R's reference), ward rows left out.
        #expect(try await daemon.firingIDs() == (try ReplayFiles.alertIDs("alerts-after-1.csv", model: "clabsi-nb")))
        let errors = try String(contentsOf: nhsnSpool.appendingPathComponent("rejected/export.csv.errors"), encoding: .utf8)
        let listed = errors.split(separator: "\n")
        #expect(listed.count == feed.withheld && listed.allSatisfy { $0.hasSuffix(": events: suppressed (Not Available)") }, "\(errors)")

        // Posted with ?source=: the same mapping; sent again, nothing changes; suppressed rows counted.
        let posted = try await daemon.request("POST", "/v1/records?source=nhsn-clabsi", body: Data(feed.text.utf8), token: daemon.token)
        #expect(posted.status == 202)
        let body = try JSONSerialization.jsonObject(with: posted.body) as? [String: Any] ?? [:]
        #expect(body["rejected"] as? Int == 0 && body["suppressed"] as? Int == feed.withheld, "\(body)")
        #expect(body["unchanged"] as? Int == body["accepted"] as? Int && (body["accepted"] as? Int ?? 0) > 1000)
        // Without the source, the top-level (SPEC) reading refuses the layout; an unknown source is a 400.
        let plain = try await daemon.request("POST", "/v1/records", body: Data(feed.text.utf8), token: daemon.token)
        let plainBody = try JSONSerialization.jsonObject(with: plain.body) as? [String: Any] ?? [:]
        #expect(plain.status == 202 && plainBody["accepted"] as? Int == 0 && plainBody["rejected"] as? Int == 1, "\(plainBody)")
        #expect(try await daemon.request("POST", "/v1/records?source=cms", body: Data(feed.text.utf8), token: daemon.token).status == 400)
        let metrics = String(decoding: try await daemon.request("GET", "/metrics").body, as: UTF8.self)
        #expect(metrics.contains("vigil_records_suppressed_total \(2 * feed.withheld)"), "\(metrics)")
        #expect(daemon.stop() == 0)
    }
}
