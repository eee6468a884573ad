import Foundation
import Testing

/// What the daemon reads and writes on disk (RELIABILITY.md, "Files and secrets"): the spool is read only as
/// regular files, never through a link or from a FIFO; the state and alert files are owner-only; the token
/// and the webhook secret appear in nothing the daemon writes or serves.
extension DaemonTests {
/// Nested in `DaemonTests` (serialized): one daemon at a time, so none waits for a busy machine to start.
@Suite struct FilesAndSecretsTests {
    @Test func spoolNeverFollowsLinksNorReadsSpecialFiles() async throws {
        let daemon = try DaemonProcess(sinks: DaemonTests.sinks(webhook: nil))
        try await daemon.start()
        // A file outside the spool that a link points to: it must stay unread.
        let outside = daemon.dir.appendingPathComponent("outside.csv")
        try Data("facility_id,measure,period,events,exposure,bedsize,icu_share\nOUTSIDE,CLABSI,2024-05,9,1000,small,0.1\n".utf8)
            .write(to: outside)
        try FileManager.default.createSymbolicLink(atPath: daemon.spool.appendingPathComponent("a-link.csv").path,
                                                   withDestinationPath: outside.path)
        #expect(mkfifo(daemon.spool.appendingPathComponent("b-fifo.csv").path, 0o600) == 0)
        try daemon.drop("c-good.csv", contents: try ReplayFiles.input("1-clabsi.csv"))

        let done = daemon.spool.appendingPathComponent("done"), rejected = daemon.spool.appendingPathComponent("rejected")
        try await waitFor("the good file in done/ and the link and FIFO in rejected/", seconds: 120) {
            let d = Set((try? FileManager.default.contentsOfDirectory(atPath: done.path)) ?? [])
            let r = Set((try? FileManager.default.contentsOfDirectory(atPath: rejected.path)) ?? [])
            return d == ["c-good.csv"] && r.isSuperset(of: ["a-link.csv", "b-fifo.csv"])
        }
        // Moved as themselves: the link is still a link, the FIFO still a FIFO, the outside file untouched.
        var info = stat()
        #expect(lstat(rejected.appendingPathComponent("a-link.csv").path, &info) == 0 && info.st_mode & S_IFMT == S_IFLNK)
        #expect(lstat(rejected.appendingPathComponent("b-fifo.csv").path, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO)
        #expect(FileManager.default.fileExists(atPath: outside.path))
        let linkErrors = try String(contentsOf: rejected.appendingPathComponent("a-link.csv.errors"), encoding: .utf8)
        #expect(linkErrors.contains("a symbolic link, not a regular file"), "\(linkErrors)")
        let fifoErrors = try String(contentsOf: rejected.appendingPathComponent("b-fifo.csv.errors"), encoding: .utf8)
        #expect(fifoErrors.contains("a FIFO, not a regular file"), "\(fifoErrors)")
        // Only the good file's records are stored.
        #expect(try await daemon.json("GET", "/healthz")["records"] as? Int == 1439)
        #expect(daemon.stop() == 0)
    }

    @Test func stateAndAlertFilesAreOwnerOnly() async throws {
        let daemon = try DaemonProcess(sinks: DaemonTests.sinks(webhook: nil))
        try await daemon.start()
        try daemon.drop("1-clabsi.csv", contents: try ReplayFiles.input("1-clabsi.csv"))
        try await waitFor("alert lines in the file sink", seconds: 120) { !daemon.fileSinkLines().isEmpty }
        #expect(daemon.stop() == 0)
        let state = daemon.dir.appendingPathComponent("state")
        var files = [daemon.alertsFile.path]
        for name in try FileManager.default.contentsOfDirectory(atPath: state.path) { files.append(state.appendingPathComponent(name).path) }
        #expect(files.contains { $0.hasSuffix("vigil.sqlite") })
        for path in files {
            var info = stat()
            #expect(stat(path, &info) == 0)
            #expect(info.st_mode & 0o077 == 0, "\(path) has mode \(String(info.st_mode & 0o777, radix: 8))")
        }
    }

    /// Wrong tokens, a webhook that refuses, a bad batch, metrics, model status: then every byte the run wrote
    /// or served is searched for the token and for the webhook secret (as written and as its key bytes).
    @Test func tokenAndSecretAppearNowhere() async throws {
        let receiver = WebhookReceiver { _, _ in (401, nil) }
        defer { receiver.stop() }
        let daemon = try DaemonProcess(sinks: DaemonTests.sinks(webhook: try await receiver.start(), attempts: 1),
                                       webhookSecret: WebhookReceiver.secret)
        try await daemon.start(environment: ["VIGIL_LOG_LEVEL": "trace"])
        var served: [Data] = []
        let clabsi = try ReplayFiles.input("1-clabsi.csv")
        for token in [nil, "wrong", daemon.token + "x", String(daemon.token.dropLast())] {
            let answer = try await daemon.request("POST", "/v1/records", body: clabsi, token: token)
            #expect(answer.status == 401)
            served.append(answer.body)
        }
        served.append(try await daemon.request("POST", "/v1/records", body: Data("no,header\n".utf8), token: daemon.token).body)
        served.append(try await daemon.request("POST", "/v1/records", body: clabsi, token: daemon.token).body)
        try await waitFor("the refused webhook deliveries parked as dead", seconds: 60) {
            let metrics = String(decoding: try await daemon.request("GET", "/metrics").body, as: UTF8.self)
            return metrics.split(separator: "\n").contains {
                $0.hasPrefix("vigil_deliveries_total") && $0.contains("sink=\"hook\"") && $0.contains("outcome=\"dead\"")
                    && !$0.hasSuffix(" 0")
            }
        }
        for path in ["/metrics", "/v1/models", "/v1/alerts?status=all", "/healthz", "/readyz"] {
            served.append(try await daemon.request("GET", path, token: daemon.token).body)
        }
        let deliveries = try await VigilBinary.run(["deliveries", "--config", daemon.configPath])
        served.append(Data((deliveries.stdout + deliveries.stderr).utf8))
        #expect(daemon.stop() == 0)

        let key = try #require(Data(base64Encoded: String(WebhookReceiver.secret.dropFirst("whsec_".count))))
        let needles = [Data(daemon.token.utf8), Data(WebhookReceiver.secret.utf8),
                       Data(WebhookReceiver.secret.dropFirst("whsec_".count).utf8), key]
        var written: [(String, Data)] = served.enumerated().map { ("answer \($0.offset)", $0.element) }
        let skip: Set<String> = ["ingest.token", "webhook.secret"]
        let files = FileManager.default.enumerator(atPath: daemon.dir.path)
        while let path = files?.nextObject() as? String {
            let url = daemon.dir.appendingPathComponent(path)
            guard !skip.contains(url.lastPathComponent), let data = try? Data(contentsOf: url) else { continue }
            written.append((path, data))
        }
        #expect(written.contains { $0.0.hasPrefix("vigil-") && $0.0.hasSuffix(".log") })
        #expect(written.contains { $0.0.hasSuffix("vigil.sqlite") })
        for (name, data) in written {
            for needle in needles {
                #expect(data.range(of: needle) == nil, "\(name) holds a secret")
            }
        }
    }
}
}
