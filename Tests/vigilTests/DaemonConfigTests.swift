import Foundation
import Testing
@testable import VigilCore
@testable import VigilDaemon

/// The daemon config of SPEC §4: paths relative to the file, defaults, and every problem with its line and
/// column.
struct DaemonConfigTests {
    /// A directory with a token and a webhook secret in it, removed when the test ends.
    final class Directory {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-config-\(UUID().uuidString)").path
        init() throws {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            try "0123456789abcdef0123\n".write(toFile: "\(path)/ingest.token", atomically: true, encoding: .utf8)
            try "whsec_\(Data(repeating: 7, count: 24).base64EncodedString())\n".write(toFile: "\(path)/webhook.secret", atomically: true, encoding: .utf8)
            try "short\n".write(toFile: "\(path)/short.token", atomically: true, encoding: .utf8)
            try "not-a-secret\n".write(toFile: "\(path)/bad.secret", atomically: true, encoding: .utf8)
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }

        func parse(_ yaml: String) -> Result<DaemonConfig, ConfigErrors> {
            DaemonConfigParser.parse(data: Array(yaml.utf8), file: "\(path)/vigil.yaml")
        }
    }

    @Test func specExampleWithRelativePathsAndDefaults() throws {
        let dir = try Directory()
        let config = try dir.parse("""
            models: models
            state_dir: /var/lib/vigil
            spool:
              dir: /var/lib/vigil/spool
            http:
              listen: 127.0.0.1:8480
              token_file: ingest.token
            sinks:
              - { name: alerts-file, type: file, path: /var/log/vigil/alerts.jsonl }
              - { name: qin-webhook, type: webhook, url: "https://alerts.example.org/vigil", secret_file: webhook.secret }
            """).get()
        #expect(config.models == "\(dir.path)/models")
        #expect(config.stateDir == "/var/lib/vigil")
        #expect(config.spool?.dir == "/var/lib/vigil/spool")
        #expect(config.http == DaemonConfig.HTTP(host: "127.0.0.1", port: 8480, tokenFile: "\(dir.path)/ingest.token",
                                                  maxBodyBytes: DaemonDefaults.maxBodyBytes))
        #expect(config.sinks.map(\.name) == ["alerts-file", "qin-webhook"])
        #expect(config.sinks[0].settings as? FileSinkSettings == FileSinkSettings(path: "/var/log/vigil/alerts.jsonl"))
        #expect(config.sinks[1].settings as? WebhookSinkSettings
                == WebhookSinkSettings(url: URL(string: "https://alerts.example.org/vigil")!, secretFile: "\(dir.path)/webhook.secret",
                                       timeout: DaemonDefaults.webhookTimeout))
        #expect(config.sinks[1].retry == DaemonDefaults.retry)
        let v6 = try dir.parse("models: m\nstate_dir: s\nhttp: { listen: \"[::1]:9000\", token_file: ingest.token }\n").get()
        #expect(v6.http?.host == "::1" && v6.http?.port == 9000)
    }

    @Test func everyProblemWithLineAndColumn() throws {
        let dir = try Directory()
        guard case let .failure(errors) = dir.parse("""
            state_dir: s
            colour: blue
            http:
              listen: localhost
              token_file: short.token
            sinks:
              - { name: a, type: file, url: "https://x.org" }
              - { name: a, type: smoke }
              - { name: Hook, type: webhook, url: "ftp://x.org", secret_file: bad.secret, timeout_seconds: 0 }
              - { name: b, type: webhook, url: "https://x.org", secret_file: missing.secret, retry: { initial_backoff_seconds: 5, max_backoff_seconds: 2 } }
            """) else {
            Issue.record("the config was accepted")
            return
        }
        let p = dir.path
        #expect(errors.problems.map(\.description) == [
            "\(p)/vigil.yaml:1:1: models: required",
            "\(p)/vigil.yaml:2:1: colour: unknown key (allowed here: models, state_dir, columns, sources, spool, http, sinks, facilities)",
            "\(p)/vigil.yaml:4:11: http.listen: must be host:port with a port from 1 to 65535 (e.g. 127.0.0.1:8480)",
            "\(p)/vigil.yaml:5:15: http.token_file: the token in \(p)/short.token must be at least 16 characters",
            "\(p)/vigil.yaml:7:5: sinks[0].path: required",
            "\(p)/vigil.yaml:7:33: sinks[0].url: not a key of a file sink",
            "\(p)/vigil.yaml:8:5: sinks[1]: name \"a\" is used by another sink",
            "\(p)/vigil.yaml:8:22: sinks[1].type: must be one of file, webhook",
            "\(p)/vigil.yaml:9:13: sinks[2].name: must match [a-z0-9_-]+",
            "\(p)/vigil.yaml:9:39: sinks[2].url: must be an http:// or https:// URL",
            "\(p)/vigil.yaml:9:67: sinks[2].secret_file: \(p)/bad.secret must hold a Standard Webhooks secret: whsec_ then base64 of at least 16 bytes",
            "\(p)/vigil.yaml:9:96: sinks[2].timeout_seconds: must be a number of seconds in (0, 300]",
            "\(p)/vigil.yaml:10:66: sinks[3].secret_file: cannot read \(p)/missing.secret",
            "\(p)/vigil.yaml:10:140: sinks[3].retry.max_backoff_seconds: must be >= initial_backoff_seconds (5.0)",
        ])
    }

    @Test func anIngestIsRequired() throws {
        let dir = try Directory()
        guard case let .failure(errors) = dir.parse("models: m\nstate_dir: s\n") else {
            Issue.record("accepted")
            return
        }
        #expect(errors.problems.map(\.message) == ["spool or http: give at least one way to ingest records"])
    }

    /// `sources:` — each feed with its own mapping and, optionally, its own spool directory.
    @Test func sourcesAndTheirProblems() throws {
        let dir = try Directory()
        try "columns: { orgID: facility_id }\n".write(toFile: "\(dir.path)/nhsn.yaml", atomically: true, encoding: .utf8)
        let config = try dir.parse("""
            models: models
            state_dir: state
            sources:
              - { name: nhsn-clabsi, columns: nhsn.yaml, spool: { dir: spool-nhsn } }
              - { name: cms-hai, columns: nhsn.yaml }
            """).get()
        #expect(config.sources == [
            DaemonConfig.Source(name: "nhsn-clabsi", columns: "\(dir.path)/nhsn.yaml", spool: "\(dir.path)/spool-nhsn"),
            DaemonConfig.Source(name: "cms-hai", columns: "\(dir.path)/nhsn.yaml", spool: nil),
        ])
        guard case let .failure(errors) = dir.parse("""
            models: models
            state_dir: state
            spool: { dir: spool }
            sources:
              - { name: a, columns: nhsn.yaml, spool: { dir: spool } }
              - { name: a, columns: missing.yaml }
              - { columns: nhsn.yaml, colour: red }
            """) else { Issue.record("accepted"); return }
        #expect(errors.problems.map { "\($0.line):\($0.column): \($0.message)" } == [
            "5:50: sources[0].spool.dir: \(dir.path)/spool is already the spool of another feed",
            "6:13: sources[1].name: name \"a\" is used by another source",
            "6:25: sources[1].columns: cannot read \(dir.path)/missing.yaml",
            "7:5: sources[2].name: required",
            "7:27: sources[2].colour: unknown key (allowed here: name, columns, spool)",
        ])
    }
}

/// The facility registry and a sink's `match:`.
struct FacilityRegistryTests {
    @Test func registryKeepsGoodRowsAndNamesBadOnes() throws {
        let csv = """
            facility_id,name,state,type,county,beds
            330101,"Mercy, General",NY,ACH,Albany,120
            ,Nameless,TX,ACH,Harris,80
            330101,Twice,NY,ACH,Albany,120
            450001,Short Row,TX
            450002,Plain,TX,CAH,,25

            """
        let registry = try FacilityRegistry(path: "facilities.csv", bytes: Array(csv.utf8))
        #expect(registry.count == 2)
        #expect(registry["330101"]?.labels.map(\.key) == ["name", "state", "type", "county", "beds"])
        #expect(registry["330101"]?["name"] == "Mercy, General")
        #expect(registry["450002"]?["county"] == nil, "an empty value is no label")
        #expect(registry["999999"] == nil)
        #expect(registry.problems.map(\.line) == [3, 4, 5])
        #expect(registry.problems[0].field == "facility_id" && registry.problems[0].reason == "empty")
        #expect(registry.problems[1].reason.contains("already registered on line 2"))
        #expect(throws: RowError.self) { try FacilityRegistry(path: "f.csv", bytes: Array("id,name\n1,x\n".utf8)) }
    }

    @Test func matchIsParsedAndBadOnesReported() throws {
        let dir = try DaemonConfigTests.Directory()
        try "facility_id,state\nH1,TX\n".write(toFile: "\(dir.path)/facilities.csv", atomically: true, encoding: .utf8)
        let config = try dir.parse("""
            models: m
            state_dir: s
            spool: { dir: spool }
            facilities: facilities.csv
            sinks:
              - { name: south, type: file, path: s.jsonl, match: { state: [TX, OK], severity: critical } }
            """).get()
        #expect(config.facilities == "\(dir.path)/facilities.csv")
        #expect(config.sinks[0].match == AlertMatcher([("state", ["TX", "OK"]), ("severity", ["critical"])]))
        guard case let .failure(errors) = dir.parse("""
            models: m
            state_dir: s
            spool: { dir: spool }
            facilities: missing.csv
            sinks:
              - { name: a, type: file, path: a.jsonl, match: [TX] }
              - { name: b, type: file, path: b.jsonl, match: { state: [] } }
            """) else { Issue.record("bad match accepted"); return }
        #expect(errors.problems.map(\.line) == [4, 6, 7])
    }
}
