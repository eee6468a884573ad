import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// The daemon benchmarks (`vigil-bench --daemon-only`), against the release `vigil run` as an operator starts
/// it, on loopback:
///
/// 1. durable spool ingest: 1,000,080 records (1,389 facilities × 6 measures × 120 months of the national
///    panel, six NB2 models fitted on the first 24 months, two detectors each) renamed into the spool as one
///    file, timed from the rename until the file is in `done/` — parsed, applied, evaluated, committed;
/// 2. HTTP ingest: 8 concurrent clients posting 50-row CSV batches of new months for 20 s; latency of each
///    request to its 202 (the batch is committed);
/// 3. commit → webhook: 200 single-record batches each raising one alert, sent one at a time; the time from
///    sending the request (an upper bound of its commit) to the signed event reaching a receiver here.
enum DaemonBench {
    struct Daemon {
        let process: Process
        let port: Int
        let spool: String
        let log: String
    }

    static let token = "bench-token-0123456789abcdef"

    static func run(dataDir: String) async throws {
        let dir = URL(fileURLWithPath: dataDir).standardizedFileURL.path + "/daemon"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let panel = NationalPanel(facilities: 1389, months: 120, seed: 20261122)
        let (input, models) = try ReplayBench.prepare(panel: panel, dataDir: dir)

        let receiver = Receiver()
        let hookPort = try await receiver.start()
        let daemon = try start(dir: dir, models: models, hookPort: hookPort)
        defer { daemon.process.terminate(); daemon.process.waitUntilExit() }

        // 1. Spool
        let staged = "\(dir)/spool/.panel.csv.part"
        try FileManager.default.moveItem(atPath: input, toPath: staged)
        let start = Date()
        rename(staged, "\(dir)/spool/panel.csv")
        while !FileManager.default.fileExists(atPath: "\(dir)/spool/done/panel.csv") { usleep(2000) }
        let spoolSeconds = Date().timeIntervalSince(start)
        let ingested = (try? String(contentsOfFile: daemon.log, encoding: .utf8))?
            .split(separator: "\n").last { $0.contains("spool file ingested") }.map(String.init) ?? "?"
        print("## Daemon: durable ingest (release `vigil run`, loopback)\n")
        print("| benchmark | result | target |\n|---|---|---|")
        print("| spool: \(panel.count) records in one file, rename → in done/ | \(Bench.f(spoolSeconds, 2)) s = "
              + "\(Int(Double(panel.count) / spoolSeconds)) records/s | ≥ 200,000 records/s |")

        // The spool's alerts drain from the outbox before the HTTP run, so each run is measured on its own.
        let drainStart = Date()
        try await drain(daemon.port)
        let drained = Date().timeIntervalSince(drainStart) + Date().timeIntervalSince(start) - spoolSeconds
        print("| delivery: the spool's \(receiver.count) webhook events (and as many file lines, fsync'd) | outbox empty "
              + "\(Bench.f(drained, 1)) s after the commit | |")

        // 2. HTTP, 8 clients × 50-row batches
        let client = HTTPClient(eventLoopGroupProvider: .singleton,
                                configuration: .init(connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 16)))
        let load = Load()
        let until = Date().addingTimeInterval(20)
        let port = daemon.port
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    while Date() < until {
                        let n = load.next()
                        let body = batch(n, rows: 50, facilities: 1389)
                        let t0 = DispatchTime.now()
                        let ok = await post(client, port: port, body: body)
                        let ms = Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e6
                        load.record(ms, ok: ok)
                    }
                }
            }
            try await group.waitForAll()
        }
        let http = load.latencies.sorted()
        print("| HTTP: 8 clients posting 50-row batches for 20 s | \(http.count) requests (\(Int(Double(http.count) / 20))/s), "
              + "p50 \(Bench.f(percentile(http, 0.5), 1)) ms, p99 \(Bench.f(percentile(http, 0.99), 1)) ms, max \(Bench.f(http.last ?? 0, 1)) ms, "
              + "\(load.errors) errors | p99 < 50 ms, no errors |")

        // 3. Commit → webhook, once the outbox holds nothing from the runs above (a sink keeps commit order).
        try await drain(daemon.port)
        var delays: [Double] = []
        for i in 0..<200 {
            // A month past everything posted above, at a facility of its own: one record, one alert.
            let body = "facility_id,measure,period,beds,teaching,icu_share,size,exposure,events\n"
                + "F\(i),CLABSI,2099-01,300,1,0.2,large,1000,60\n"
            let sent = DispatchTime.now().uptimeNanoseconds
            _ = await post(client, port: daemon.port, body: body)
            let deadline = Date().addingTimeInterval(5)
            var arrived: UInt64? = nil
            while arrived == nil && Date() < deadline {
                arrived = receiver.arrival(facility: "F\(i)")
                if arrived == nil { usleep(200) }
            }
            if let arrived { delays.append(Double(arrived - sent) / 1e6) }
            usleep(10_000)
        }
        delays.sort()
        print("| commit → webhook: 200 alerts, request sent → signed event received | p50 \(Bench.f(percentile(delays, 0.5), 1)) ms, "
              + "p99 \(Bench.f(percentile(delays, 0.99), 1)) ms, \(200 - delays.count) missing | p99 < 100 ms |")
        print("\nThe spool line of the daemon's log:\n\n```\n\(ingested)\n```\n")
        receiver.stop()
        try await client.shutdown()
    }

    /// The daemon's config (`vigil.yaml`), token and webhook secret in `dir`: a file sink and a webhook sink.
    static func writeConfig(dir: String, models: String, port: Int, hookPort: Int, hookRetry: String? = nil) throws {
        try token.write(toFile: "\(dir)/token", atomically: true, encoding: .utf8)
        try Receiver.secret.write(toFile: "\(dir)/hook.secret", atomically: true, encoding: .utf8)
        try """
        models: \(models)
        state_dir: state
        spool: { dir: spool }
        http: { listen: "127.0.0.1:\(port)", token_file: token }
        sinks:
          - { name: file, type: file, path: alerts.jsonl }
          - { name: hook, type: webhook, url: "http://127.0.0.1:\(hookPort)/hook", secret_file: hook.secret\(hookRetry.map { ", retry: \($0)" } ?? "") }
        """.write(toFile: "\(dir)/vigil.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: "\(dir)/spool", withIntermediateDirectories: true)
    }

    static func start(dir: String, models: String, hookPort: Int) throws -> Daemon {
        let port = 18480
        try writeConfig(dir: dir, models: models, port: port, hookPort: hookPort)
        let process = Process()
        process.executableURL = Bench.vigilURL
        process.arguments = ["run", "--config", "\(dir)/vigil.yaml"]
        var environment = ProcessInfo.processInfo.environment
        environment["VIGIL_LOG_LEVEL"] = environment["VIGIL_LOG_LEVEL"] ?? "debug"
        process.environment = environment
        let log = "\(dir)/daemon.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: log)
        try process.run()
        while !((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("listening") {
            guard process.isRunning else { throw BenchFailure(message: "vigil run exited; see \(log)") }
            usleep(20_000)
        }
        return Daemon(process: process, port: port, spool: "\(dir)/spool", log: log)
    }

    /// Request `n`'s 50 rows: 50 facilities at one month after the panel (2026-01 on), each key new.
    static func batch(_ n: Int, rows: Int, facilities: Int) -> String {
        var text = "facility_id,measure,period,beds,teaching,icu_share,size,exposure,events\n"
        for r in 0..<rows {
            let k = (n - 1) * rows + r
            let month = k / facilities
            let period = "\(2026 + month / 12)-\(month % 12 < 9 ? "0" : "")\(month % 12 + 1)"
            text += "F\(k % facilities),CLABSI,\(period),200,0,0.15,medium,\(800 + r),\(r % 3)\n"
        }
        return text
    }

    static func post(_ client: HTTPClient, port: Int, body: String) async -> Bool {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/records")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "text/csv")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.body = .bytes(ByteBuffer(string: body))
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 1 << 20)
            return response.status.code == 202
        } catch {
            return false
        }
    }

    /// Waits until both sinks have delivered every alert event committed so far (at most 10 minutes).
    static func drain(_ port: Int) async throws {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        func sum(_ metrics: String, _ prefix: String) -> Double {
            metrics.split(separator: "\n").filter { $0.hasPrefix(prefix) }
                .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
        }
        for _ in 0..<6000 {
            let metrics = await get(client, port: port, path: "/metrics")
            let events = sum(metrics, "vigil_alerts_total")
            if events > 0, sum(metrics, "vigil_deliveries_total{sink=\"hook\",outcome=\"delivered\"}") >= events,
               sum(metrics, "vigil_deliveries_total{sink=\"file\",outcome=\"delivered\"}") >= events { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        try await client.shutdown()
    }

    static func get(_ client: HTTPClient, port: Int, path: String) async -> String {
        do {
            let response = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)"), timeout: .seconds(30))
            return String(buffer: try await response.body.collect(upTo: 16 << 20))
        } catch {
            return ""
        }
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        sorted.isEmpty ? .nan : sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }

    /// The HTTP clients' shared request counter and their latencies.
    final class Load: Sendable {
        private let state = Mutex<(requests: Int, latencies: [Double], errors: Int)>((0, [], 0))
        func next() -> Int { state.withLock { $0.requests += 1; return $0.requests } }
        func record(_ ms: Double, ok: Bool) { state.withLock { $0.latencies.append(ms); if !ok { $0.errors += 1 } } }
        var latencies: [Double] { state.withLock { $0.latencies } }
        var errors: Int { state.withLock { $0.errors } }
    }

    /// A webhook receiver that notes when the first event of each facility arrived.
    final class Receiver: Sendable {
        static let secret = "whsec_" + Data("vigil-bench-secret-32-bytes-long".utf8).base64EncodedString()
        private let arrivals = Mutex<[String: UInt64]>([:])
        private let port = Mutex<Int?>(nil)
        private let task = Mutex<Task<Void, Error>?>(nil)

        private let received = Mutex(0)
        func arrival(facility: String) -> UInt64? { arrivals.withLock { $0[facility] } }
        var count: Int { received.withLock { $0 } }

        func start() async throws -> Int {
            let router = Router()
            router.post("/hook") { request, _ -> HTTPResponse.Status in
                let at = DispatchTime.now().uptimeNanoseconds
                self.received.withLock { $0 += 1 }
                var request = request
                let body = try await request.collectBody(upTo: 1 << 20)
                let text = String(buffer: body)
                // Only the alerts of the latency runs (period 2099-01); the panel's own come first.
                if text.contains("\"period\":\"2099-01\""), let range = text.range(of: "\"facility_id\":\""),
                   let end = text[range.upperBound...].firstIndex(of: "\"") {
                    let facility = String(text[range.upperBound..<end])
                    self.arrivals.withLock { if $0[facility] == nil { $0[facility] = at } }
                }
                return .ok
            }
            let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                                  onServerRunning: { channel in self.port.withLock { $0 = channel.localAddress?.port } })
            task.withLock { $0 = Task { try await app.runService(gracefulShutdownSignals: []) } }
            while port.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(10)) }
            return port.withLock { $0! }
        }

        func stop() { task.withLock { $0?.cancel() } }
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
