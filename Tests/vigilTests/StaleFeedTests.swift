import Foundation
import Testing

/// Stale feeds through the real binary: a facility that stops sending raises a `stale` alert
/// (`alert.stale_after: 3`), listed under `status=stale` and delivered; its records arriving resolve it.
extension DaemonTests {
@Suite struct StaleFeedTests {
    @Test func staleSeriesRaisesAndResolves() async throws {
        let daemon = try DaemonProcess(sinks: DaemonTests.sinks(webhook: nil))
        defer { _ = daemon.stop() }
        let model = try String(contentsOf: ReplayFiles.models.appendingPathComponent("clabsi-nb.yaml"), encoding: .utf8)
        try (model + "  stale_after: 3\n").write(to: daemon.models.appendingPathComponent("clabsi-nb.yaml"), atomically: true, encoding: .utf8)
        try await daemon.start()

        // H007 stops after 2024-07 (it sent no 2024-08) while the others go on to 2024-12: five periods behind.
        let lines = try String(decoding: ReplayFiles.input("1-clabsi.csv"), as: UTF8.self).split(separator: "\n")
        let late = lines.filter { $0.hasPrefix("H007,") && $0.split(separator: ",")[2] > "2024-08" }
        let first = lines.filter { !late.contains($0) }.joined(separator: "\n") + "\n"
        #expect(try await daemon.request("POST", "/v1/records", body: Data(first.utf8), token: daemon.token).status == 202)
        let stale = try await daemon.json("GET", "/v1/alerts?status=stale", token: daemon.token)["alerts"] as? [[String: Any]] ?? []
        #expect(stale.count == 1)
        let alert = try #require(stale.first)
        #expect(alert["id"] as? String == "stale:clabsi-nb:H007:2024-07")
        #expect(alert["status"] as? String == "stale" && alert["period"] as? String == "2024-07")
        #expect(alert["newest_period"] as? String == "2024-12" && alert["stale_after"] as? Int == 3)
        #expect(alert["detector"] == nil && alert["statistic"] == nil, "a stale alert has no detector fields")
        try await waitFor("the stale event in the file sink", seconds: 60) {
            daemon.fileSinkLines().contains { $0["id"] as? String == "stale:clabsi-nb:H007:2024-07" && $0["status"] as? String == "stale" }
        }

        // Its records arrive: resolved, delivered, no longer listed.
        let rest = "facility_id,measure,period,events,exposure,bedsize,icu_share\n" + late.joined(separator: "\n") + "\n"
        #expect(try await daemon.request("POST", "/v1/records", body: Data(rest.utf8), token: daemon.token).status == 202)
        #expect((try await daemon.json("GET", "/v1/alerts?status=stale", token: daemon.token)["alerts"] as? [[String: Any]])?.isEmpty == true)
        try await waitFor("the resolved event in the file sink", seconds: 60) {
            daemon.fileSinkLines().contains { $0["id"] as? String == "stale:clabsi-nb:H007:2024-07" && $0["status"] as? String == "resolved" }
        }
        let metrics = String(decoding: try await daemon.request("GET", "/metrics").body, as: UTF8.self)
        #expect(metrics.contains(#"vigil_alerts_total{status="stale"} 1"#), "\(metrics)")
        // A restart raises nothing again.
        _ = daemon.stop()
        try await daemon.start()
        #expect((try await daemon.json("GET", "/v1/alerts?status=stale", token: daemon.token)["alerts"] as? [[String: Any]])?.isEmpty == true)
        #expect(daemon.fileSinkLines().filter { ($0["id"] as? String)?.hasPrefix("stale:") == true }.count == 2)
    }
}
}

/// `vigil replay` raises the same stale-feed alerts as the daemon and labels alerts from `--facilities`.
@Test func replayLabelsFacilitiesAndRaisesStaleFeeds() async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-stale-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let model = try String(contentsOf: ReplayFiles.models.appendingPathComponent("clabsi-nb.yaml"), encoding: .utf8)
    try (model + "  stale_after: 3\n").write(toFile: "\(dir)/clabsi-nb.yaml", atomically: true, encoding: .utf8)
    let lines = try String(decoding: ReplayFiles.input("1-clabsi.csv"), as: UTF8.self).split(separator: "\n")
    try (lines.filter { !($0.hasPrefix("H007,") && $0.split(separator: ",")[2] > "2024-08") }.joined(separator: "\n") + "\n")
        .write(toFile: "\(dir)/clabsi.csv", atomically: true, encoding: .utf8)
    try "facility_id,name,state\nH007,Seventh,TX\nH001,First,OK\nH001,Again,OK\n".write(toFile: "\(dir)/facilities.csv", atomically: true, encoding: .utf8)
    let result = try await VigilBinary.run(["replay", "--models", "\(dir)/clabsi-nb.yaml", "--input", "\(dir)/clabsi.csv",
                                            "--facilities", "\(dir)/facilities.csv", "--alerts", "\(dir)/alerts.jsonl"])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stderr.contains("facilities.csv:4: facility_id: H001 is already registered on line 3"), "\(result.stderr)")
    let alerts = try String(contentsOfFile: "\(dir)/alerts.jsonl", encoding: .utf8).split(separator: "\n").compactMap {
        try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
    let stale = alerts.filter { ($0["id"] as? String)?.hasPrefix("stale:") == true }
    #expect(stale.map { $0["id"] as? String } == ["stale:clabsi-nb:H007:2024-07"])
    #expect((stale.first?["facility"] as? [String: String]) == ["name": "Seventh", "state": "TX"])
    for alert in alerts where alert["facility_id"] as? String == "H001" {
        #expect((alert["facility"] as? [String: String])?["name"] == "First")
    }
    #expect(result.stdout.contains("(1 stale-feed alert raised)"), "\(result.stdout)")
}
