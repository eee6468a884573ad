import Foundation
import Testing

/// Acknowledging an alert through the API and the CLI, with the real daemon: recorded with its author and
/// note, shown by `GET /v1/alerts`, kept across a restart, and delivered nowhere.
extension DaemonTests {
@Suite struct AckTests {
    @Test func acknowledgementIsShownKeptAndNotDelivered() async throws {
        let daemon = try DaemonProcess(sinks: DaemonTests.sinks(webhook: nil))
        defer { _ = daemon.stop() }
        try await daemon.start()
        #expect(try await daemon.request("POST", "/v1/records", body: try ReplayFiles.input("1-clabsi.csv"), token: daemon.token).status == 202)
        let ids = try await daemon.firingIDs().sorted()
        try #require(ids.count >= 2)
        try await waitFor("the alerts in the file sink", seconds: 60) { daemon.fileSinkLines().count == ids.count }

        let body = Data(#"{"author": "j.doe@qio.example", "note": "INC-4711: chart review under way"}"#.utf8)
        #expect(try await daemon.request("POST", "/v1/alerts/\(ids[0])/ack", body: body, contentType: "application/json").status == 401)
        #expect(try await daemon.request("POST", "/v1/alerts/no-such-alert/ack", body: body, contentType: "application/json",
                                         token: daemon.token).status == 404)
        #expect(try await daemon.request("POST", "/v1/alerts/\(ids[0])/ack", body: Data(#"{"note": "x"}"#.utf8),
                                         contentType: "application/json", token: daemon.token).status == 400)
        #expect(try await daemon.request("POST", "/v1/alerts/\(ids[0])/ack", body: body, contentType: "application/json",
                                         token: daemon.token).status == 200)
        let cli = try await VigilBinary.run(["ack", "--config", daemon.configPath, "--author", "a.lee", "--note", "seen", ids[1]])
        #expect(cli.status == 0, "\(cli.stderr)")

        func acknowledged() async throws -> [String: [String: String]] {
            let alerts = try await daemon.json("GET", "/v1/alerts?status=firing", token: daemon.token)["alerts"] as? [[String: Any]] ?? []
            return alerts.reduce(into: [:]) { out, alert in
                if let id = alert["id"] as? String, let ack = alert["acknowledged"] as? [String: String] { out[id] = ack }
            }
        }
        var acks = try await acknowledged()
        #expect(acks.count == 2)
        #expect(acks[ids[0]]?["by"] == "j.doe@qio.example" && acks[ids[0]]?["note"] == "INC-4711: chart review under way")
        #expect(acks[ids[1]]?["by"] == "a.lee" && acks[ids[0]]?["at"] != nil)
        _ = daemon.stop()
        try await daemon.start()
        acks = try await acknowledged()
        #expect(Set(acks.keys) == [ids[0], ids[1]], "kept across a restart")
        #expect(daemon.fileSinkLines().count == ids.count, "an acknowledgement delivers nothing")
        #expect(!daemon.fileSinkLines().contains { $0["acknowledged"] != nil })
    }
}
}
