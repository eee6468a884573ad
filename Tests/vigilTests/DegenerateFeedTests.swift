import Foundation
import Testing

/// A feed that makes one model's baseline degenerate once crashed the daemon at every restart (systemd's
/// `Restart=on-failure` made it a crash loop). Now that model is unfitted, reported, and everything else goes on.
extension DaemonTests {
    @Test func degenerateBaselineLeavesTheDaemonUpAndOtherModelsAlerting() async throws {
        let daemon = try DaemonProcess(sinks: Self.sinks(webhook: nil))
        try """
            model: mrsa-nb
            measure: MRSA
            expected: { kind: negative_binomial, covariates: [beds], offset: none, baseline: { from: 2023-01, to: 2023-12 } }
            detectors: [{ id: nb, type: negbin_cusum, ratio: 2, h: 3 }]

            """.write(to: daemon.models.appendingPathComponent("mrsa-nb.yaml"), atomically: true, encoding: .utf8)
        try await daemon.start()
        var mrsa = "facility_id,measure,period,events,beds\n"
        for (f, beds) in [("M1", 120), ("M2", 250), ("M3", 400), ("M4", 90)] {
            for m in 1...12 { mrsa += "\(f),MRSA,2023-\(String(format: "%02d", m)),0,\(beds)\n" }
            for m in 1...6 { mrsa += "\(f),MRSA,2024-\(String(format: "%02d", m)),2,\(beds)\n" }
        }
        try daemon.drop("0-mrsa.csv", contents: Data(mrsa.utf8))
        try daemon.drop("1-clabsi.csv", contents: try ReplayFiles.input("1-clabsi.csv"))
        let done = daemon.spool.appendingPathComponent("done")
        try await waitFor("both spool files in done/", seconds: 120) {
            Set((try? FileManager.default.contentsOfDirectory(atPath: done.path)) ?? []) == ["0-mrsa.csv", "1-clabsi.csv"]
        }
        #expect(daemon.process?.isRunning == true)
        #expect(try await daemon.firingIDs() == (try ReplayFiles.alertIDs("alerts-after-1.csv", model: "clabsi-nb")))

        let models = try await daemon.json("GET", "/v1/models", token: daemon.token)["models"] as? [[String: Any]] ?? []
        let status = Dictionary(uniqueKeysWithValues: models.compactMap { m in (m["model"] as? String).map { ($0, m) } })
        #expect(status["mrsa-nb"]?["status"] as? String == "unfitted")
        #expect((status["mrsa-nb"]?["reason"] as? String)?.contains("no events") == true)
        #expect(status["clabsi-nb"]?["status"] as? String == "fitted")
        #expect((status["clabsi-nb"]?["coefficients"] as? [[String: Any]])?.count == 4)
        #expect(status["clabsi-nb"]?["baseline_rows"] as? Int ?? 0 > 0)
        #expect(try await daemon.request("GET", "/v1/models").status == 401)
        let metrics = String(decoding: try await daemon.request("GET", "/metrics").body, as: UTF8.self)
        #expect(metrics.contains("vigil_model_fitted{model=\"mrsa-nb\"} 0"), "\(metrics)")
        #expect(metrics.contains("vigil_model_fitted{model=\"clabsi-nb\"} 1"))
        #expect(daemon.log.contains("model unfitted"))

        // A restart with the same state: ready again, the same alerts, nothing to ingest twice.
        daemon.killHard()
        try await daemon.start()
        #expect(try await daemon.firingIDs() == (try ReplayFiles.alertIDs("alerts-after-1.csv", model: "clabsi-nb")))
        #expect(daemon.stop() == 0)
    }
}
