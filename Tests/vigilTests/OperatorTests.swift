import Foundation
import Testing

/// What operators do to alerts, through the real daemon and CLI: silences hold events and release them when
/// they end, an operator's resolve closes a run, inhibition holds one detector's events while another fires,
/// and a digest sink gets one message per interval.
///
/// The feed is the replay test's: after `1-clabsi.csv`, H005 fires nb (02dbc0…, ba6866…), pois, ewma (a74c2d…);
/// H010 fires nb (ca6010…), pois, ewma (6b72f1…); `2-clabsi-revisions.csv` resolves H005's nb and pois alerts
/// and raises nb 35602325… (signal start 2024-05, the run of 02dbc0…) and pois d3fc13….
extension DaemonTests {
@Suite struct OperatorTests {
    static let json = "application/json"

    static func body(_ object: [String: Any]) throws -> Data { try JSONSerialization.data(withJSONObject: object) }

    static func lines(_ daemon: DaemonProcess, id: String) -> [[String: Any]] {
        daemon.fileSinkLines().filter { $0["id"] as? String == id }
    }

    @Test func silenceHoldsThenReleasesExactlyOneEvent() async throws {
        let daemon = try DaemonProcess(sinks: DaemonTests.sinks(webhook: nil))
        defer { _ = daemon.stop() }
        try await daemon.start()
        let silence = try Self.body(["matchers": ["facility_id": "H010", "detector": ["ewma"]], "duration_hours": 2,
                                     "author": "j.doe@qio.example", "comment": "INC-4711: H010 under review"])
        #expect(try await daemon.request("POST", "/v1/silences", body: silence, contentType: Self.json).status == 401)
        let refused = try Self.body(["matchers": [String: String](), "duration_hours": 2, "author": "x"])
        #expect(try await daemon.request("POST", "/v1/silences", body: refused, contentType: Self.json, token: daemon.token).status == 400)
        let (status, created) = try await daemon.request("POST", "/v1/silences", body: silence, contentType: Self.json, token: daemon.token)
        #expect(status == 201)
        let silenceID = try #require((try JSONSerialization.jsonObject(with: created) as? [String: Any])?["id"] as? String)

        #expect(try await daemon.request("POST", "/v1/records", body: try ReplayFiles.input("1-clabsi.csv"), token: daemon.token).status == 202)
        let firing = try await daemon.firingIDs()
        #expect(firing.contains("6b72f1c17ad05ca9753086c2c1453408"), "a silenced alert is recorded as firing")
        try await waitFor("every alert but the silenced one in the file sink", seconds: 60) {
            daemon.fileSinkLines().count == firing.count - 1
        }
        let listed = try await daemon.json("GET", "/v1/silences", token: daemon.token)
        let held = listed["held"] as? [[String: Any]] ?? []
        #expect(held.map { $0["event_id"] as? String } == ["6b72f1c17ad05ca9753086c2c1453408.firing"])
        #expect((listed["silences"] as? [[String: Any]])?.first?["author"] as? String == "j.doe@qio.example")
        #expect(Self.lines(daemon, id: "6b72f1c17ad05ca9753086c2c1453408").isEmpty)

        // Kept across a restart; then ended: the held event goes out once, under its own event id.
        _ = daemon.stop()
        try await daemon.start()
        #expect(try await daemon.request("DELETE", "/v1/silences/\(silenceID)?author=j.doe", token: daemon.token).status == 200)
        try await waitFor("the released event", seconds: 60) { !Self.lines(daemon, id: "6b72f1c17ad05ca9753086c2c1453408").isEmpty }
        #expect(daemon.fileSinkLines().count == firing.count)
        #expect(Self.lines(daemon, id: "6b72f1c17ad05ca9753086c2c1453408").first?["status"] as? String == "firing")
        #expect(try await daemon.request("DELETE", "/v1/silences/\(silenceID)", token: daemon.token).status == 409)
        let audit = try await daemon.json("GET", "/v1/silences?all=true", token: daemon.token)
        let ended = (audit["silences"] as? [[String: Any]])?.first
        #expect(ended?["state"] as? String == "expired" && ended?["expired_by"] as? String == "j.doe")
        #expect((try await daemon.json("GET", "/v1/silences", token: daemon.token)["silences"] as? [[String: Any]])?.isEmpty == true)
    }

    /// A silence from the CLI over alerts the revisions resolve: the held events of resolved alerts are dropped
    /// (neither firing nor resolved is delivered), the new alert is held, and `silence expire` releases it.
    @Test func silencedAlertThatResolvesIsNeverDelivered() async throws {
        let daemon = try DaemonProcess(sinks: DaemonTests.sinks(webhook: nil))
        defer { _ = daemon.stop() }
        try await daemon.start()
        let add = try await VigilBinary.run(["silence", "add", "--config", daemon.configPath, "--match", "facility_id=H005",
                                            "--match", "detector=nb", "--duration", "8h", "--author", "a.lee", "--comment", "site visit"])
        #expect(add.status == 0, "\(add.stderr)")
        let silenceID = try #require((try JSONSerialization.jsonObject(with: Data(add.stdout.utf8)) as? [String: Any])?["id"] as? String)
        #expect(try await daemon.request("POST", "/v1/records", body: try ReplayFiles.input("1-clabsi.csv"), token: daemon.token).status == 202)
        let firing = try await daemon.firingIDs()
        try await waitFor("the unsilenced alerts", seconds: 60) { daemon.fileSinkLines().count == firing.count - 2 }
        #expect(try await daemon.request("POST", "/v1/records", body: try ReplayFiles.input("2-clabsi-revisions.csv"),
                                         token: daemon.token).status == 202)
        let list = try await VigilBinary.run(["silence", "list", "--config", daemon.configPath])
        #expect(list.stdout.contains(silenceID) && list.stdout.contains("\"state\":\"active\""), "\(list.stdout)")
        let expire = try await VigilBinary.run(["silence", "expire", "--config", daemon.configPath, "--author", "a.lee", silenceID])
        #expect(expire.status == 0, "\(expire.stderr)")
        try await waitFor("the new nb alert released", seconds: 60) { !Self.lines(daemon, id: "35602325a5802d297e5548e490f849f0").isEmpty }
        for dropped in ["02dbc0f852fd9ad1b8e94a2e5d40f142", "ba6866593a96512e78c60faec4c3b0e5"] {
            #expect(Self.lines(daemon, id: dropped).isEmpty, "\(dropped) came and went under the silence")
        }
        // The pois alert the revisions resolve was not silenced: its firing and resolved events both went out.
        #expect(Self.lines(daemon, id: "713d99888bbac11c56e2eff2513fa512").map { $0["status"] as? String } == ["firing", "resolved"])
        #expect((try await daemon.json("GET", "/v1/silences", token: daemon.token)["held"] as? [[String: Any]])?.isEmpty == true)
    }

    @Test func operatorResolveDeliversAndClosesTheRun() async throws {
        let daemon = try DaemonProcess(sinks: DaemonTests.sinks(webhook: nil))
        defer { _ = daemon.stop() }
        try await daemon.start()
        #expect(try await daemon.request("POST", "/v1/records", body: try ReplayFiles.input("1-clabsi.csv"), token: daemon.token).status == 202)
        let firing = try await daemon.firingIDs()
        try await waitFor("the alerts in the file sink", seconds: 60) { daemon.fileSinkLines().count == firing.count }

        let id = "02dbc0f852fd9ad1b8e94a2e5d40f142"
        let request = try Self.body(["author": "j.doe@qio.example", "note": "INC-4712: a cluster of contaminated cultures"])
        #expect(try await daemon.request("POST", "/v1/alerts/no-such/resolve", body: request, contentType: Self.json,
                                         token: daemon.token).status == 404)
        let (status, answer) = try await daemon.request("POST", "/v1/alerts/\(id)/resolve", body: request, contentType: Self.json,
                                                        token: daemon.token)
        #expect(status == 200)
        #expect((try JSONSerialization.jsonObject(with: answer) as? [String: Any])?["event_id"] as? String == "\(id).resolved")
        try await waitFor("the resolved event", seconds: 60) { Self.lines(daemon, id: id).count == 2 }
        let resolved = try #require(Self.lines(daemon, id: id).last)
        #expect(resolved["status"] as? String == "resolved" && resolved["resolved_by"] as? String == "j.doe@qio.example")
        #expect(resolved["note"] as? String == "INC-4712: a cluster of contaminated cultures")
        #expect(try await daemon.request("POST", "/v1/alerts/\(id)/resolve", body: request, contentType: Self.json,
                                         token: daemon.token).status == 409)

        // The CLI's resolve is applied by the running daemon within a second.
        let cli = try await VigilBinary.run(["resolve", "--config", daemon.configPath, "--author", "a.lee", "--note", "duplicate",
                                            "6b72f1c17ad05ca9753086c2c1453408"])
        #expect(cli.status == 0, "\(cli.stderr)")
        try await waitFor("the CLI's resolved event", seconds: 60) {
            Self.lines(daemon, id: "6b72f1c17ad05ca9753086c2c1453408").last?["resolved_by"] as? String == "a.lee"
        }

        // A restart raises neither again; the revisions resolve 02dbc0 (nothing more is sent) and raise 35602325,
        // a later signal of the same run (nb, H005, from 2024-05): closed, so it raises nothing either.
        _ = daemon.stop()
        try await daemon.start()
        let after = try await daemon.firingIDs()
        #expect(!after.contains(id) && !after.contains("6b72f1c17ad05ca9753086c2c1453408"))
        #expect(try await daemon.request("POST", "/v1/records", body: try ReplayFiles.input("2-clabsi-revisions.csv"),
                                         token: daemon.token).status == 202)
        try await waitFor("the revisions' pois events", seconds: 60) {
            !Self.lines(daemon, id: "d3fc1349d3e26ec00c6c5734c4feefd4").isEmpty
        }
        #expect(Self.lines(daemon, id: id).count == 2)
        #expect(Self.lines(daemon, id: "35602325a5802d297e5548e490f849f0").isEmpty)
        #expect(!(try await daemon.firingIDs()).contains("35602325a5802d297e5548e490f849f0"))
    }

    /// `inhibit: [{ while: ewma, hold: [nb] }]` (the rule read the other way round from the usual CUSUM-holds-EWMA,
    /// because this feed's EWMA alerts outlive its CUSUM ones): H005's and H010's nb events wait while their
    /// series' EWMA fires (H016's too); H005's resolve under the hold (dropped), H010's goes out once its EWMA
/// is resolved.
    @Test func inhibitedEventsFollowTheirRule() async throws {
        let daemon = try DaemonProcess(sinks: DaemonTests.sinks(webhook: nil))
        defer { _ = daemon.stop() }
        let model = try String(contentsOf: ReplayFiles.models.appendingPathComponent("clabsi-nb.yaml"), encoding: .utf8)
        try (model + "  inhibit:\n    - { while: ewma, hold: [nb] }\n")
            .write(to: daemon.models.appendingPathComponent("clabsi-nb.yaml"), atomically: true, encoding: .utf8)
        try await daemon.start()
        #expect(try await daemon.request("POST", "/v1/records", body: try ReplayFiles.input("1-clabsi.csv"), token: daemon.token).status == 202)
        let firing = try await daemon.firingIDs()
        // H016's nb alert is held too: its EWMA fires in the same batch.
        let heldIDs: Set = ["02dbc0f852fd9ad1b8e94a2e5d40f142", "ba6866593a96512e78c60faec4c3b0e5", "ca601020f9bf3fb524a5945bfa7b0115",
                            "5be01ad8fea514f17bee080b65ad21f1"]
        #expect(heldIDs.isSubset(of: firing))
        try await waitFor("the alerts not inhibited", seconds: 60) { daemon.fileSinkLines().count == firing.count - heldIDs.count }
        let held = try await daemon.json("GET", "/v1/silences", token: daemon.token)["held"] as? [[String: Any]] ?? []
        #expect(Set(held.compactMap { $0["alert_id"] as? String }) == heldIDs)
        #expect(held.allSatisfy { ($0["reason"] as? String)?.hasPrefix("inhibited by ewma alert") == true })
        #expect(heldIDs.allSatisfy { Self.lines(daemon, id: $0).isEmpty })

        #expect(try await daemon.request("POST", "/v1/records", body: try ReplayFiles.input("2-clabsi-revisions.csv"),
                                         token: daemon.token).status == 202)
        let resolveEWMA = try Self.body(["author": "a.lee", "note": "explained by a lab change"])
        #expect(try await daemon.request("POST", "/v1/alerts/6b72f1c17ad05ca9753086c2c1453408/resolve", body: resolveEWMA,
                                         contentType: Self.json, token: daemon.token).status == 200)
        try await waitFor("H010's nb event released", seconds: 60) { !Self.lines(daemon, id: "ca601020f9bf3fb524a5945bfa7b0115").isEmpty }
        #expect(Self.lines(daemon, id: "ca601020f9bf3fb524a5945bfa7b0115").map { $0["status"] as? String } == ["firing"])
        for dropped in ["02dbc0f852fd9ad1b8e94a2e5d40f142", "ba6866593a96512e78c60faec4c3b0e5"] {
            #expect(Self.lines(daemon, id: dropped).isEmpty, "\(dropped) resolved while held: dropped")
        }
        #expect(Self.lines(daemon, id: "35602325a5802d297e5548e490f849f0").isEmpty, "H005's EWMA still fires: held")
    }

    /// The usual direction, `inhibit: [{ while: nb, hold: [ewma] }]`: the EWMA alerts of series whose nb CUSUM
    /// fires (H005, H010, H016) wait; those of series without one (H009, H018) go out; resolving H010's CUSUM
    /// releases H010's EWMA event.
    @Test func ewmaWaitsWhileTheCUSUMFires() async throws {
        let daemon = try DaemonProcess(sinks: DaemonTests.sinks(webhook: nil))
        defer { _ = daemon.stop() }
        let model = try String(contentsOf: ReplayFiles.models.appendingPathComponent("clabsi-nb.yaml"), encoding: .utf8)
        try (model + "  inhibit:\n    - { while: nb, hold: [ewma] }\n")
            .write(to: daemon.models.appendingPathComponent("clabsi-nb.yaml"), atomically: true, encoding: .utf8)
        try await daemon.start()
        #expect(try await daemon.request("POST", "/v1/records", body: try ReplayFiles.input("1-clabsi.csv"), token: daemon.token).status == 202)
        let firing = try await daemon.firingIDs()
        let waiting: Set = ["a74c2d3d7553d2692f18610ca76b1d2d", "6b72f1c17ad05ca9753086c2c1453408", "db265cbb8b8c56e3871272cf6cd78c6f"]
        try await waitFor("the events not held", seconds: 60) { daemon.fileSinkLines().count == firing.count - waiting.count }
        #expect(waiting.allSatisfy { Self.lines(daemon, id: $0).isEmpty })
        #expect(!Self.lines(daemon, id: "edf67f2448b7cc73e3ee2c5d1c60d342").isEmpty && !Self.lines(daemon, id: "0935ff31993c4b7eb92559e77fa6ebd8").isEmpty,
                "an EWMA alert on a series without a firing CUSUM goes out")
        let resolve = try Self.body(["author": "a.lee", "note": "line change explained"])
        #expect(try await daemon.request("POST", "/v1/alerts/ca601020f9bf3fb524a5945bfa7b0115/resolve", body: resolve,
                                         contentType: Self.json, token: daemon.token).status == 200)
        try await waitFor("H010's EWMA event released", seconds: 60) { !Self.lines(daemon, id: "6b72f1c17ad05ca9753086c2c1453408").isEmpty }
        #expect(Self.lines(daemon, id: "a74c2d3d7553d2692f18610ca76b1d2d").isEmpty && Self.lines(daemon, id: "db265cbb8b8c56e3871272cf6cd78c6f").isEmpty)
    }

    /// A digest sink (every 2 s) gets one message per interval with what fired and resolved in it, besides a
    /// sink that gets every event.
    @Test func digestSinkSendsOneMessagePerInterval() async throws {
        let sinks = DaemonTests.sinks(webhook: nil) + "  - { name: daily, type: file, path: digest.jsonl, digest: { every: 2s, timezone: America/Chicago } }\n"
        let daemon = try DaemonProcess(sinks: sinks)
        defer { _ = daemon.stop() }
        try await daemon.start()
        let digestFile = daemon.dir.appendingPathComponent("digest.jsonl")
        func digests() -> [[String: Any]] {
            ((try? String(contentsOf: digestFile, encoding: .utf8)) ?? "").split(separator: "\n")
                .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
        #expect(try await daemon.request("POST", "/v1/records", body: try ReplayFiles.input("1-clabsi.csv"), token: daemon.token).status == 202)
        let firing = try await daemon.firingIDs()
        try await waitFor("the first digest", seconds: 60) { digests().count == 1 }
        let first = try #require(digests().first)
        #expect(first["schema"] as? String == "vigil.digest/v1")
        #expect((first["id"] as? String)?.hasPrefix("digest:daily:") == true)
        #expect((first["interval_start"] as? String)?.hasSuffix("-0600") == true, "\(first)")
        #expect(Set((first["fired"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }) == firing)
        #expect((first["counts"] as? [String: Int])?["fired"] == firing.count)
        #expect(daemon.fileSinkLines().count == firing.count, "the other sink still gets every event")

        #expect(try await daemon.request("POST", "/v1/records", body: try ReplayFiles.input("2-clabsi-revisions.csv"),
                                         token: daemon.token).status == 202)
        try await waitFor("the second digest", seconds: 60) { digests().count == 2 }
        let second = try #require(digests().last)
        #expect(second["id"] as? String != first["id"] as? String)
        let resolved = Set((second["resolved"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String })
        #expect(resolved == ["02dbc0f852fd9ad1b8e94a2e5d40f142", "ba6866593a96512e78c60faec4c3b0e5", "713d99888bbac11c56e2eff2513fa512"])
        // Nothing happened since: no empty digests.
        try await Task.sleep(for: .seconds(5))
        #expect(digests().count == 2)
    }
}
}
