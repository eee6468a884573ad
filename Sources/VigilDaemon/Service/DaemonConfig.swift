import Foundation
import VigilCore

/// The daemon's config (SPEC §4, `/etc/vigil/vigil.yaml`), validated; relative paths are resolved against
/// the file's directory.
public struct DaemonConfig: Sendable, Equatable {
    /// Models whose `alert.sinks` name a sink this config does not have: each a problem at the name's place
    /// in the model file.
    public func unknownSinks(in models: [ModelConfig]) -> [ConfigProblem] {
        let names = Set(sinks.map(\.name))
        return models.flatMap { model in
            (model.alert.sinks ?? []).filter { !names.contains($0) }.map { name in
                ConfigProblem(file: model.path, line: model.alert.sinksLine, column: model.alert.sinksColumn,
                              message: "alert.sinks: no sink \"\(name)\" in the daemon config (its sinks: \(sinks.map(\.name).joined(separator: ", ")))")
            }
        }
    }

    public struct Spool: Sendable, Equatable {
        public let dir: String
    }

    public struct HTTP: Sendable, Equatable {
        public let host: String
        public let port: Int
        public let tokenFile: String
        public let maxBodyBytes: Int
        /// A request's head must arrive within this of the connection opening or the last response.
        public var headerTimeout: Double = DaemonDefaults.headerTimeout
        /// A request's body must end within this of its head.
        public var bodyTimeout: Double = DaemonDefaults.bodyTimeout
        /// A keep-alive connection with nothing to do is closed after this.
        public var idleTimeout: Double = DaemonDefaults.idleTimeout
    }

    public struct Retry: Sendable, Equatable {
        public let maxAttempts: Int
        public let initialBackoff: Double
        public let maxBackoff: Double
    }

    /// A sink's entry: what every sink has, and its kind's own settings (`SinkSettings`, one per Delivery/ folder).
    public struct Sink: Sendable, Equatable {
        public let name: String
        let settings: any SinkSettings
        public let retry: Retry
        /// The alerts it takes (nil: all its models' alerts).
        public var match: AlertMatcher? = nil
        /// One message per interval instead of one per event (nil: every event as it comes).
        public var digest: DigestSchedule? = nil

        public static func == (a: Sink, b: Sink) -> Bool {
            a.name == b.name && a.settings.isEqual(to: b.settings) && a.retry == b.retry && a.match == b.match && a.digest == b.digest
        }
    }

    /// A feed with its own column mapping (vigil extension): read from its own spool directory, and posted
    /// as `POST /v1/records?source=NAME`.
    public struct Source: Sendable, Equatable {
        public let name: String
        public let columns: String
        public let spool: String?
    }

    public let path: String
    public let models: String
    public let stateDir: String
    /// A column mapping for every feed (README "Feeds with their own column names"); vigil extension.
    public let columns: String?
    public let spool: Spool?
    public let http: HTTP?
    public let sinks: [Sink]
    public let sources: [Source]
    /// The facility registry (CSV), whose labels alerts carry and sinks match on.
    public var facilities: String? = nil
}

/// Every default of the daemon config, written once (README "The daemon's config" lists them).
public enum DaemonDefaults {
    public static let maxBodyBytes = 16 << 20
    public static let headerTimeout = 10.0
    public static let bodyTimeout = 120.0
    public static let idleTimeout = 60.0
    public static let webhookTimeout = 10.0
    public static let retry = DaemonConfig.Retry(maxAttempts: 12, initialBackoff: 1, maxBackoff: 600)
}

/// Reads and validates the daemon config, reporting every problem with its line and column.
public enum DaemonConfigParser {
    static let topKeys = ["models", "state_dir", "columns", "sources", "spool", "http", "sinks", "facilities"]

    public static func load(path: String) throws -> DaemonConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigErrors(problems: [ConfigProblem(file: path, line: 0, column: 0, message: "cannot read the file")])
        }
        return try parse(data: [UInt8](data), file: path).get()
    }

    public static func parse(data: [UInt8], file: String) -> Result<DaemonConfig, ConfigErrors> {
        let diagnostics = Diagnostics(file: file)
        guard let text = String(validating: data, as: UTF8.self) else {
            return .failure(ConfigErrors(problems: [ConfigProblem(file: file, line: 1, column: 1, message: "not valid UTF-8")]))
        }
        let files = ConfigPaths(base: (file as NSString).deletingLastPathComponent)
        guard let root = YAMLValue.root(text, file: file, diagnostics: diagnostics),
              let top = root.mapping(allowed: topKeys) else {
            return .failure(ConfigErrors(problems: diagnostics.problems))
        }
        if top["models"] == nil { root.missing("models") }
        if top["state_dir"] == nil { root.missing("state_dir") }
        let models = files.path(top["models"])
        let stateDir = files.path(top["state_dir"])
        let columns = top["columns"].flatMap { files.readableFile($0) }
        let facilities = top["facilities"].flatMap { v -> String? in
            guard let p = files.readableFile(v) else { return nil }
            do { _ = try FacilityRegistry(path: p) } catch { v.report("\(error)"); return nil }
            return p
        }

        var spool: DaemonConfig.Spool? = nil
        if let s = top["spool"], let m = s.mapping(allowed: ["dir"]) {
            if m["dir"] == nil { s.missing("dir") }
            spool = files.path(m["dir"]).map(DaemonConfig.Spool.init(dir:))
        }
        var http: DaemonConfig.HTTP? = nil
        if let h = top["http"], let m = h.mapping(allowed: ["listen", "token_file", "max_body_bytes", "header_timeout_seconds",
                                                           "body_timeout_seconds", "idle_timeout_seconds"]) {
            if m["listen"] == nil { h.missing("listen") }
            if m["token_file"] == nil { h.missing("token_file") }
            let listen = m["listen"].flatMap(address)
            let token = m["token_file"].flatMap { v -> String? in
                guard let p = files.readableFile(v) else { return nil }
                let text = (try? String(contentsOfFile: p, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                guard text.utf8.count >= 16 else { v.report("the token in \(p) must be at least 16 characters"); return nil }
                return p
            }
            let maxBody = m["max_body_bytes"].map { v -> Int? in
                guard let n = v.number(), n >= 1024, n == n.rounded(), n <= Double(1 << 40) else {
                    v.report("must be a whole number of bytes >= 1024"); return nil
                }
                return Int(n)
            } ?? DaemonDefaults.maxBodyBytes
            func seconds(_ key: String, _ fallback: Double) -> Double? {
                guard let v = m[key] else { return fallback }
                guard let x = v.number(), x > 0, x <= 86_400 else { v.report("must be a number of seconds in (0, 86400]"); return nil }
                return x
            }
            let header = seconds("header_timeout_seconds", DaemonDefaults.headerTimeout)
            let body = seconds("body_timeout_seconds", DaemonDefaults.bodyTimeout)
            let idle = seconds("idle_timeout_seconds", DaemonDefaults.idleTimeout)
            if let listen, let token, let maxBody, let header, let body, let idle {
                var settings = DaemonConfig.HTTP(host: listen.host, port: listen.port, tokenFile: token, maxBodyBytes: maxBody)
                (settings.headerTimeout, settings.bodyTimeout, settings.idleTimeout) = (header, body, idle)
                http = settings
            }
        }
        var sources: [DaemonConfig.Source] = []
        if let s = top["sources"], let items = s.items {
            var names: Set<String> = []
            var spools: Set<String> = Set([spool?.dir].compactMap { $0 })
            for item in items {
                guard let m = item.mapping(allowed: ["name", "columns", "spool"]) else { continue }
                if m["name"] == nil { item.missing("name") }
                if m["columns"] == nil { item.missing("columns") }
                let name = m["name"]?.identifier()
                if let name, !names.insert(name).inserted { m["name"]?.report("name \"\(name)\" is used by another source") }
                let columns = m["columns"].flatMap { files.readableFile($0) }
                var dir: String? = nil
                if let sp = m["spool"], let sm = sp.mapping(allowed: ["dir"]) {
                    if sm["dir"] == nil { sp.missing("dir") }
                    dir = files.path(sm["dir"])
                    if let d = dir, !spools.insert(d).inserted { sm["dir"]?.report("\(d) is already the spool of another feed") }
                }
                if let name, let columns { sources.append(DaemonConfig.Source(name: name, columns: columns, spool: dir)) }
            }
        }
        if top["spool"] == nil && top["http"] == nil && !sources.contains(where: { $0.spool != nil }) {
            diagnostics.report(line: root.line, column: root.column, "spool or http: give at least one way to ingest records")
        }

        var sinks: [DaemonConfig.Sink] = []
        if let s = top["sinks"], let items = s.items {
            var names: Set<String> = []
            for item in items {
                let (name, sink) = parseSink(item, files: files)
                if let name, !names.insert(name).inserted { item.report("name \"\(name)\" is used by another sink") }
                if let sink { sinks.append(sink) }
            }
        }
        guard diagnostics.problems.isEmpty, let models, let stateDir else {
            return .failure(ConfigErrors(problems: diagnostics.problems.sorted { ($0.line, $0.column) < ($1.line, $1.column) }))
        }
        var config = DaemonConfig(path: file, models: models, stateDir: stateDir, columns: columns, spool: spool,
                                  http: http, sinks: sinks, sources: sources)
        config.facilities = facilities
        return .success(config)
    }

    /// `host:port` or `[v6]:port`.
    static func address(_ value: YAMLValue) -> (host: String, port: Int)? {
        guard let s = value.string() else { return nil }
        var host = Substring(s), portText = Substring("")
        if s.hasPrefix("["), let close = s.firstIndex(of: "]") {
            host = s[s.index(after: s.startIndex)..<close]
            portText = s[s.index(after: close)...].dropFirst()
            guard s[s.index(after: close)...].hasPrefix(":") else { value.report("must be host:port"); return nil }
        } else if let colon = s.lastIndex(of: ":") {
            host = s[..<colon]
            portText = s[s.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (1...65535).contains(port) else {
            value.report("must be host:port with a port from 1 to 65535 (e.g. 127.0.0.1:8480)")
            return nil
        }
        return (String(host), port)
    }

    /// The sink, and its name even when the rest is wrong (names must be unique either way).
    static func parseSink(_ item: YAMLValue, files: ConfigPaths) -> (name: String?, sink: DaemonConfig.Sink?) {
        guard let m = item.mapping(allowed: ["name", "type"] + SinkKinds.keys + ["retry", "match", "digest"]) else { return (nil, nil) }
        for key in ["name", "type"] where m[key] == nil { item.missing(key) }
        let name = m["name"]?.identifier()
        var kind: (any SinkSettings.Type)? = nil
        if let v = m["type"], let type = v.string() {
            kind = SinkKinds.all.first { $0.type == type }
            if kind == nil { v.report("must be one of \(SinkKinds.all.map { $0.type }.joined(separator: ", "))") }
        }
        var settings: (any SinkSettings)? = nil
        if let kind {
            for key in SinkKinds.keys where !kind.keys.contains(key) { m[key]?.report("not a key of a \(kind.type) sink") }
            settings = kind.parse(item, m, files: files)
        }
        var retry = DaemonDefaults.retry
        if let r = m["retry"], let rm = r.mapping(allowed: ["max_attempts", "initial_backoff_seconds", "max_backoff_seconds"]) {
            let attempts = rm["max_attempts"].map { v -> Int? in
                guard let n = v.number(), n >= 1, n <= 1000, n == n.rounded() else { v.report("must be a whole number from 1 to 1000"); return nil }
                return Int(n)
            } ?? retry.maxAttempts
            let initial = rm["initial_backoff_seconds"].map { v -> Double? in
                guard let t = v.number(), t > 0 else { v.report("must be a number of seconds > 0"); return nil }
                return t
            } ?? retry.initialBackoff
            let maximum = rm["max_backoff_seconds"].map { v -> Double? in
                guard let t = v.number(), t > 0 else { v.report("must be a number of seconds > 0"); return nil }
                return t
            } ?? retry.maxBackoff
            if let initial, let maximum, maximum < initial {
                rm["max_backoff_seconds"]?.report("must be >= initial_backoff_seconds (\(Alert.short(initial)))")
            }
            if let attempts, let initial, let maximum {
                retry = DaemonConfig.Retry(maxAttempts: attempts, initialBackoff: initial, maxBackoff: maximum)
            }
        }
        let match = m["match"].flatMap(AlertMatcher.parse)
        let digest = m["digest"].flatMap(parseDigest)
        guard let name, let settings, m["match"] == nil || match != nil, m["digest"] == nil || digest != nil else { return (name, nil) }
        var sink = DaemonConfig.Sink(name: name, settings: settings, retry: retry)
        sink.match = match
        sink.digest = digest
        return (name, sink)
    }

    /// `digest: { every: 24h, at: "07:00", timezone: America/Chicago }` (`at` and `timezone` optional: 00:00, UTC).
    static func parseDigest(_ value: YAMLValue) -> DigestSchedule? {
        guard let m = value.mapping(allowed: ["every", "at", "timezone"]) else { return nil }
        guard let e = m["every"] else { value.missing("every"); return nil }
        guard let text = e.string(), let every = DigestSchedule.seconds(text) else {
            e.report("must be a duration such as 24h, 7d, 1h or 30m"); return nil
        }
        var minutes = 0
        if let a = m["at"] {
            let parts = (a.scalarText ?? "").split(separator: ":").map { Int($0) }
            guard parts.count == 2, let h = parts[0], let mm = parts[1], (0..<24).contains(h), (0..<60).contains(mm) else {
                a.report("must be a local time HH:MM such as \"07:00\""); return nil
            }
            minutes = h * 60 + mm
        }
        var zone = TimeZone.gmt
        if let z = m["timezone"] {
            guard let name = z.string(), let tz = TimeZone(identifier: name) else {
                z.report("must be an IANA time zone such as America/Chicago"); return nil
            }
            zone = tz
        }
        guard let schedule = DigestSchedule(every: every, at: minutes, timeZone: zone) else {
            e.report("must be whole days (up to 366d) or divide a day evenly (24h, 12h, 6h, 1h, 30m, …)"); return nil
        }
        return schedule
    }
}

/// Paths in the daemon config, relative to the config file's directory.
struct ConfigPaths {
    let base: String

    func resolve(_ p: String) -> String {
        p.hasPrefix("/") || base.isEmpty ? p : (base as NSString).appendingPathComponent(p)
    }

    func path(_ value: YAMLValue?) -> String? {
        guard let value, let s = value.string() else { return nil }
        guard !s.isEmpty else { value.report("must be a path"); return nil }
        return resolve(s)
    }

    /// A file the daemon reads at start: it must be there and readable now.
    func readableFile(_ value: YAMLValue?) -> String? {
        guard let value, let p = path(value) else { return nil }
        guard FileManager.default.isReadableFile(atPath: p) else { value.report("cannot read \(p)"); return nil }
        return p
    }
}
