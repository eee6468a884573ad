import Foundation
import Synchronization
import Testing

/// `vigil run` as the real binary, on loopback and temporary directories (issue: the daemon). The feeds and
/// models are the end-to-end replay test's, whose alerts R computed (Tests/VigilCoreTests/Replay): after the
/// first files the firing alerts are `alerts-after-1.csv`, after the revisions `alerts-final.csv`.
@Suite(.serialized) struct DaemonTests {
    static func sinks(webhook port: Int?, path: String = "/hook", attempts: Int = 12, timeout: Double = 5) -> String {
        var text = "  - { name: alerts-file, type: file, path: alerts.jsonl }\n"
        if let port {
            text += """
                  - name: hook
                    type: webhook
                    url: http://127.0.0.1:\(port)\(path)
                    secret_file: webhook.secret
                    timeout_seconds: \(timeout)
                    retry: { max_attempts: \(attempts), initial_backoff_seconds: 0.05, max_backoff_seconds: 0.5 }

                """
        }
        return text
    }

    @Test func spoolAndHTTPIngestDeliverSignedCloudEvents() async throws {
        let receiver = WebhookReceiver { _, _ in (200, nil) }
        defer { receiver.stop() }
        let daemon = try DaemonProcess(sinks: Self.sinks(webhook: try await receiver.start()), webhookSecret: WebhookReceiver.secret,
                                       maxBody: 64 << 10)
        try await daemon.start()

        // Without a valid token, or over the size bound: refused, and nothing changes.
        let clabsi = try ReplayFiles.input("1-clabsi.csv")
        #expect(try await daemon.request("POST", "/v1/records", body: clabsi).status == 401)
        #expect(try await daemon.request("POST", "/v1/records", body: clabsi, token: "wrong-token-0123456789").status == 401)
        #expect(try await daemon.request("GET", "/v1/alerts").status == 401)
        let big = Data(repeating: UInt8(ascii: "x"), count: 70 << 10)
        #expect(try await daemon.request("POST", "/v1/records", body: big, token: daemon.token).status == 413)
        #expect(try await daemon.request("POST", "/v1/records", body: clabsi, contentType: "text/plain", token: daemon.token).status == 415)
        #expect(try await daemon.json("GET", "/healthz")["records"] as? Int == 0)

        // The first files through the spool, with a file holding one bad row beside a good one.
        try daemon.drop("1-clabsi.csv", contents: clabsi)
        try daemon.drop("1-ssi.csv", contents: try ReplayFiles.input("1-ssi.csv"))
        try daemon.drop("3-mixed.csv", contents: Data("""
            facility_id,measure,period,events,exposure,bedsize,icu_share
            H020,CLABSI,2024-05,-2,1120,small,0.106
            H020,CLABSI,2024-05,1,1120,small,0.106

            """.utf8))
        let done = daemon.spool.appendingPathComponent("done")
        try await waitFor("the spool files in done/", seconds: 120) {
            Set((try? FileManager.default.contentsOfDirectory(atPath: done.path)) ?? []) == ["1-clabsi.csv", "1-ssi.csv", "3-mixed.csv"]
        }
        let errors = try String(contentsOf: daemon.spool.appendingPathComponent("rejected/3-mixed.csv.errors"), encoding: .utf8)
        #expect(errors.hasPrefix("3-mixed.csv:2: events: "), "\(errors)")
        #expect(errors.split(separator: "\n").count == 1)
        #expect(try await daemon.json("GET", "/healthz")["records"] as? Int == 1439 + 2500)
        let metrics1 = String(decoding: try await daemon.request("GET", "/metrics").body, as: UTF8.self)
        #expect(metrics1.contains("vigil_records_unchanged_total 1"), "the good row of 3-mixed.csv was already stored")

        let after1 = try ReplayFiles.alertIDs("alerts-after-1.csv")
        #expect(try await daemon.firingIDs() == after1)
        try await waitFor("13 webhook deliveries", seconds: 30) { receiver.deliveries.count >= after1.count }
        try await waitFor("13 file sink lines", seconds: 30) { daemon.fileSinkLines().count >= after1.count }
        for d in receiver.deliveries {
            #expect(d.signatureValid, "\(d.eventID)")
            #expect(d.event["specversion"] == "1.0")
            #expect(d.event["id"] == d.eventID)
            #expect(d.event["id"] == "\(d.alertID).\(d.status)")
            #expect(d.event["type"] == "org.qio.vigil.alert.firing")
            #expect(d.event["datacontenttype"] == "application/json")
            #expect(d.event["source"]?.hasPrefix("vigil://") == true)
            #expect(d.event["time"] != nil)
        }
        #expect(Set(receiver.deliveries.map(\.alertID)) == after1)
        #expect(Set(daemon.fileSinkLines().compactMap { $0["id"] as? String }) == after1)

        // The revisions over HTTP: withdrawn signals are resolved, new ones raised.
        var revisions = try ReplayFiles.input("2-clabsi-revisions.csv")
        var answer = try await daemon.json("POST", "/v1/records", body: revisions, token: daemon.token)
        #expect(answer["accepted"] as? Int == 2)
        #expect(answer["rejected"] as? Int == 0)
        revisions = try ReplayFiles.input("2-ssi-revisions.csv")
        answer = try await daemon.json("POST", "/v1/records", body: revisions, token: daemon.token)
        #expect(answer["accepted"] as? Int == 1)
        let final = try ReplayFiles.alertIDs("alerts-final.csv")
        #expect(try await daemon.firingIDs() == final)
        let expectedEvents = after1.count + after1.subtracting(final).count + final.subtracting(after1).count
        try await waitFor("\(expectedEvents) deliveries", seconds: 30) { receiver.deliveries.count >= expectedEvents }
        let resolved = Set(receiver.deliveries.filter { $0.status == "resolved" }.map(\.alertID))
        #expect(resolved == after1.subtracting(final))
        #expect(Set(receiver.deliveries.map(\.eventID)).count == receiver.deliveries.count)

        // The same batch again changes nothing.
        answer = try await daemon.json("POST", "/v1/records", body: revisions, token: daemon.token)
        #expect(answer["unchanged"] as? Int == 1)
        #expect((answer["events"] as? [Any])?.isEmpty == true)

        let metrics = String(decoding: try await daemon.request("GET", "/metrics").body, as: UTF8.self)
        #expect(metrics.contains("vigil_records_accepted_total 3944"), "\(metrics)")
        #expect(metrics.contains("vigil_records_rejected_total 1"))
        #expect(metrics.contains("vigil_deliveries_total{sink=\"hook\",outcome=\"delivered\"} \(expectedEvents)"))
        #expect(try await daemon.request("GET", "/readyz").status == 200)

        // A row the engine rejects (no bedsize, which the model needs), twice in one batch: both rejected,
        // each at its own line; the second is not taken for an unchanged copy of the first.
        let twice = "facility_id,measure,period,events,exposure,icu_share\nH020,CLABSI,2025-01,1,900,0.106\nH020,CLABSI,2025-01,1,900,0.106\n"
        answer = try await daemon.json("POST", "/v1/records", body: Data(twice.utf8), token: daemon.token)
        #expect(answer["rejected"] as? Int == 2 && answer["accepted"] as? Int == 0 && answer["unchanged"] as? Int == 0, "\(answer)")
        #expect((answer["errors"] as? [[String: Any]])?.compactMap { $0["line"] as? Int } == [2, 3], "\(answer)")

        #expect(daemon.stop() == 0, "\(daemon.log)")
        #expect(daemon.notify.count(of: "STOPPING=1") == 1)
        #expect(!daemon.log.contains(WebhookReceiver.secret.dropFirst(6)), "the secret must never be logged")
    }

    /// A spool file large enough that its records are written while the engine evaluates them, holding rows
    /// the engine rejects (an empty bedsize, which the model needs): that write is rolled back and the good
    /// rows committed with the events; the rejected rows are in the errors file at their lines, and a
    /// restart reads back exactly the good rows.
    @Test func aLargeFileWithRowsTheEngineRejects() async throws {
        let daemon = try DaemonProcess(sinks: Self.sinks(webhook: nil))
        try await daemon.start()
        var text = "facility_id,measure,period,events,exposure,bedsize,icu_share\n"
        var bad: [Int] = []
        var line = 1
        for f in 0..<120 {
            for month in 0..<96 {
                line += 1
                let m = month % 12 + 1
                let bedsize = f % 50 == 7 && month % 40 == 30 ? "" : ["small", "medium", "large"][f % 3]
                if bedsize.isEmpty { bad.append(line) }
                text += "L\(f),CLABSI,\(2022 + month / 12)-\(m < 10 ? "0" : "")\(m),\((f + month) % 4),\(800 + f),\(bedsize),0.\(100 + f)\n"
            }
        }
        #expect(line - 1 == 11_520 && bad.count == 6)
        try daemon.drop("big.csv", contents: Data(text.utf8))
        let done = daemon.spool.appendingPathComponent("done/big.csv")
        try await waitFor("big.csv in done/", seconds: 120) { FileManager.default.fileExists(atPath: done.path) }
        let errors = try String(contentsOf: daemon.spool.appendingPathComponent("rejected/big.csv.errors"), encoding: .utf8)
            .split(separator: "\n")
        #expect(errors == bad.map { "big.csv:\($0): bedsize: missing; the model needs it (model clabsi-nb)"[...] }, "\(errors)")
        #expect(try await daemon.json("GET", "/healthz")["records"] as? Int == 11_520 - bad.count)
        let firing = try await daemon.firingIDs()
        #expect(daemon.stop() == 0, "\(daemon.log)")
        try await daemon.start()
        #expect(try await daemon.json("GET", "/healthz")["records"] as? Int == 11_520 - bad.count)
        #expect(try await daemon.firingIDs() == firing)
        #expect(!daemon.log.contains("on reconciling"), "the stored alerts are those of the stored records")
        #expect(daemon.stop() == 0)
    }

    /// `kill -9` while a spool file is being ingested, and again while deliveries are pending: after restarts
    /// every record is there once, and each alert's event reaches the receiver under one id.
    @Test func killNineLosesNothingAndRaisesNothingTwice() async throws {
        let healthy = Mutex(false)
        let receiver = WebhookReceiver { _, _ in healthy.withLock { $0 } ? (200, nil) : (503, "0") }
        defer { receiver.stop() }
        let daemon = try DaemonProcess(sinks: Self.sinks(webhook: try await receiver.start(), attempts: 1000),
                                       webhookSecret: WebhookReceiver.secret)
        try await daemon.start()
        try daemon.drop("1-clabsi.csv", contents: try ReplayFiles.input("1-clabsi.csv"))
        try daemon.drop("1-ssi.csv", contents: try ReplayFiles.input("1-ssi.csv"))
        // Killed as soon as the first file is committed and moved: the second is mid-ingest or waiting.
        let done = daemon.spool.appendingPathComponent("done")
        try await waitFor("a first file in done/", seconds: 120) {
            !((try? FileManager.default.contentsOfDirectory(atPath: done.path)) ?? []).isEmpty
        }
        daemon.killHard()

        try await daemon.start()
        try await waitFor("both files in done/", seconds: 120) {
            ((try? FileManager.default.contentsOfDirectory(atPath: done.path)) ?? []).count == 2
        }
        let after1 = try ReplayFiles.alertIDs("alerts-after-1.csv")
        #expect(try await daemon.firingIDs() == after1)
        try await waitFor("failing deliveries", seconds: 30) { receiver.requests >= 3 }
        daemon.killHard()   // deliveries pending: the receiver has answered only 503 so far
        #expect(receiver.deliveries.isEmpty)

        healthy.withLock { $0 = true }
        try await daemon.start()
        #expect(try await daemon.json("GET", "/healthz")["records"] as? Int == 1439 + 2500)
        try await waitFor("every event delivered", seconds: 60) { Set(receiver.deliveries.map(\.alertID)) == after1 }
        // At-least-once: a redelivery carries the same event id; no alert got a second event.
        #expect(Set(receiver.deliveries.map(\.eventID)) == Set(after1.map { "\($0).firing" }))
        #expect(try await daemon.firingIDs() == after1)
        #expect(!daemon.log.contains("on reconciling"), "a restart must not raise or resolve anything")
        #expect(daemon.stop() == 0)
    }

    /// A receiver that times out and answers 503 before it recovers; a sink that refuses (400) parks the event
    /// as dead at once, `vigil deliveries` lists it and queues it again.
    @Test func retriesThenDeadAndRedelivered() async throws {
        let refusing = Mutex(true)
        let hookRequests = Mutex(0)
        let receiver = WebhookReceiver { path, _ in
            if path == "/refuse" { return refusing.withLock { $0 } ? (400, nil) : (200, nil) }
            let n = hookRequests.withLock { $0 += 1; return $0 }
            if n <= 2 { try? await Task.sleep(for: .seconds(1.5)); return (200, nil) }   // past the 0.5 s timeout
            if n <= 4 { return (503, "0") }
            return (200, nil)
        }
        defer { receiver.stop() }
        let port = try await receiver.start()
        let sinks = Self.sinks(webhook: port, path: "/hook", timeout: 0.5) + """
              - name: strict
                type: webhook
                url: http://127.0.0.1:\(port)/refuse
                secret_file: webhook.secret

            """
        let daemon = try DaemonProcess(sinks: sinks, webhookSecret: WebhookReceiver.secret)
        try await daemon.start()
        try daemon.drop("1-clabsi.csv", contents: try ReplayFiles.input("1-clabsi.csv"))
        let clabsiAlerts = try ReplayFiles.alertIDs("alerts-after-1.csv", model: "clabsi-nb").count
        try await waitFor("deliveries to /hook after timeouts and 503s", seconds: 60) {
            Set(receiver.deliveries.filter { $0.path == "/hook" }.map(\.eventID)).count == clabsiAlerts
        }
        #expect(daemon.log.contains("will retry"))

        let deadList = { try await VigilBinary.run(["deliveries", "--config", daemon.configPath, "--dead"]) }
        try await waitFor("dead deliveries", seconds: 30) { try await deadList().stdout.split(separator: "\n").count == clabsiAlerts }
        #expect(try await deadList().stdout.contains("HTTP 400"))
        refusing.withLock { $0 = false }
        let again = try await VigilBinary.run(["deliveries", "--config", daemon.configPath, "--redeliver-all"])
        #expect(again.stdout.hasPrefix("\(clabsiAlerts) dead deliveries queued again"), "\(again.stdout)\(again.stderr)")
        try await waitFor("redelivered", seconds: 30) { receiver.deliveries.filter { $0.path == "/refuse" }.count == clabsiAlerts }
        #expect(try await deadList().stdout.isEmpty)
        #expect(daemon.stop() == 0)
    }

    /// SIGHUP with a broken model keeps the running models (and says why); systemd hears RELOADING=1, READY=1,
    /// WATCHDOG=1 at half of WATCHDOG_USEC, and STOPPING=1.
    @Test func reloadWithABrokenModelKeepsTheOldOnes() async throws {
        let daemon = try DaemonProcess(sinks: Self.sinks(webhook: nil))
        try await daemon.start(environment: ["WATCHDOG_USEC": "400000"])
        try await waitFor("WATCHDOG=1", seconds: 10) { daemon.notify.count(of: "WATCHDOG=1") >= 2 }

        let broken = daemon.models.appendingPathComponent("broken.yaml")
        try "model: broken\nmeasure: CLABSI\nunit: fortnight\n".write(to: broken, atomically: true, encoding: .utf8)
        let ready = daemon.notify.count(of: "READY=1")
        daemon.signal(SIGHUP)
        try await waitFor("READY=1 after the reload", seconds: 60) { daemon.notify.count(of: "READY=1") > ready }
        #expect(daemon.notify.all.contains { $0.hasPrefix("RELOADING=1\nMONOTONIC_USEC=") })
        #expect(daemon.log.contains("reload refused"))
        #expect(daemon.log.contains("broken.yaml:3:7"), "\(daemon.log)")
        #expect(try await daemon.request("GET", "/readyz").status == 200)
        try daemon.drop("1-clabsi.csv", contents: try ReplayFiles.input("1-clabsi.csv"))
        try await waitFor("the old models still alerting", seconds: 60) { !daemon.fileSinkLines().isEmpty }

        try FileManager.default.removeItem(at: broken)
        let ready2 = daemon.notify.count(of: "READY=1")
        daemon.signal(SIGHUP)
        try await waitFor("READY=1 after the second reload", seconds: 60) { daemon.notify.count(of: "READY=1") > ready2 }
        #expect(daemon.log.contains("reloaded"))
        #expect(daemon.stop() == 0)
        #expect(daemon.notify.count(of: "STOPPING=1") == 1)
    }
}

/// The shipped unit stays hardened: `systemd-analyze security --offline=true` rates it at most 2.0
/// (.ci/run installs systemd for this check).
struct SystemdUnitTests {
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze")))
    func unitExposureIsAtMostTwo() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/systemd-analyze")
        process.arguments = ["security", "--offline=true", "--no-pager",
                             VigilBinary.repositoryRoot.appendingPathComponent("systemd/vigil.service").path]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let line = try #require(text.split(separator: "\n").first { $0.contains("Overall exposure level") }, "\(text)")
        let score = try #require(line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) })
        #expect(score <= 2.0, "\(line)")
    }

    @Test func unitDeclaresWhatTheDaemonNeeds() throws {
        let unit = try String(contentsOf: VigilBinary.repositoryRoot.appendingPathComponent("systemd/vigil.service"), encoding: .utf8)
        for line in ["Type=notify", "WatchdogSec=", "User=vigil", "ProtectSystem=strict", "StateDirectory=vigil",
                     "ConfigurationDirectory=vigil", "LogsDirectory=vigil", "NoNewPrivileges=yes",
                     "ExecReload=/bin/kill -HUP $MAINPID", "SystemCallFilter=@system-service",
                     "Environment=OPENBLAS_NUM_THREADS=1"] {
            #expect(unit.contains(line), "\(line)")
        }
    }
}
