import Foundation
import Testing

/// The facility registry and routing by it, through the real binary: alerts carry `facility: {…}`, and a
/// sink with `match: { state: [TX, OK], measure: CLABSI }` receives only those states' CLABSI alerts.
extension DaemonTests {
@Suite struct RoutingTests {
    /// States by facility: H001 TX, H002 OK, H003 CA, H004 NM, … in turn; H005 is not registered.
    static func registry(facilities: [String]) -> String {
        let states = ["TX", "OK", "CA", "NM"]
        var text = "facility_id,name,state,type,county,cms_region\n"
        for (i, id) in facilities.enumerated() where id != "H005" {
            text += "\(id),\"General Hospital \(id), Inc.\",\(states[i % states.count]),ACH,County \(i),\(6 + i % 2)\n"
        }
        return text
    }

    @Test func registryLabelsAlertsAndMatchRoutesByState() async throws {
        let sinks = """
              - { name: alerts-file, type: file, path: alerts.jsonl }
              - { name: south, type: file, path: south.jsonl, match: { state: [TX, OK], measure: CLABSI } }

            """
        let daemon = try DaemonProcess(sinks: sinks, extra: "facilities: facilities.csv\n")
        defer { _ = daemon.stop() }
        let ids = (1...40).map { String(format: "H%03d", $0) } + (1...10).map { String(format: "P%02d", $0) }
        try Self.registry(facilities: ids).write(to: daemon.dir.appendingPathComponent("facilities.csv"), atomically: true, encoding: .utf8)
        try await daemon.start()
        for name in ["1-clabsi.csv", "1-ssi.csv"] {
            #expect(try await daemon.request("POST", "/v1/records", body: try ReplayFiles.input(name), token: daemon.token).status == 202)
        }
        let firing = try await daemon.firingIDs()
        try await waitFor("every alert in the file sink", seconds: 60) { daemon.fileSinkLines().count == firing.count }
        let all = daemon.fileSinkLines()
        var south: Set<String> = []
        for alert in all {
            let facility = try #require(alert["facility_id"] as? String)
            let labels = alert["facility"] as? [String: String]
            if facility == "H005" {
                #expect(labels == nil, "an unregistered facility has no labels")
                continue
            }
            let index = try #require(ids.firstIndex(of: facility))
            #expect(labels?["name"] == "General Hospital \(facility), Inc." && labels?["type"] == "ACH"
                    && labels?["county"] == "County \(index)" && labels?["cms_region"] == "\(6 + index % 2)", "\(alert)")
            if ["TX", "OK"].contains(labels?["state"]) && alert["measure"] as? String == "CLABSI" {
                south.insert(try #require(alert["id"] as? String))
            }
        }
        #expect(!south.isEmpty && south.count < all.count, "the test data has alerts in and out of TX/OK")
        let southFile = daemon.dir.appendingPathComponent("south.jsonl")
        try await waitFor("the routed sink's alerts", seconds: 60) {
            ((try? String(contentsOf: southFile, encoding: .utf8)) ?? "").split(separator: "\n").count == south.count
        }
        let routed = try String(contentsOf: southFile, encoding: .utf8).split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["id"] as? String
        }
        #expect(Set(routed) == south && routed.count == south.count)
        // The API shows the same object.
        let listed = try await daemon.json("GET", "/v1/alerts?status=firing", token: daemon.token)["alerts"] as? [[String: Any]] ?? []
        #expect(listed.filter { $0["facility"] != nil }.count == all.filter { $0["facility"] != nil }.count)
    }
}
}
