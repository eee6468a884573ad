import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// `vigil-bench --outage`: an hour-long webhook outage in compressed time (1 s here is 100 s of daemon
/// time: backoffs and Retry-After scaled by 1/100). The release `vigil run` takes a panel month by month over
/// HTTP while its webhook receiver refuses connections (first half) and then answers 503 with `Retry-After`
/// (second half); then the receiver comes back. Measured and checked (RELIABILITY.md, "Long outage"):
/// `vigil_outbox_depth` and `vigil_deliveries_total{outcome="retry"}` sampled through the outage, the
/// daemon's resident memory over it, the time to deliver everything after it, every event delivered, in
/// commit order (the file sink's), and none dead with a retry budget that covers the hour.
enum Outage {
    static let scale = 100.0

    static func run(dataDir: String, hours: Double) async throws {
        let dir = URL(fileURLWithPath: dataDir).standardizedFileURL.path + "/outage"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: "\(dir)/spool", withIntermediateDirectories: true)
        let panel = NationalPanel(facilities: 200, months: 60, seed: 20261201)
        let (input, models) = try ReplayBench.prepare(panel: panel, dataDir: dir)
        let batches = try Storm.feedUnits(input: input, everyMonthByHTTP: true)

        let hookPort = try Loopback.freePort()
        let port = try Loopback.freePort()
        // The operator's policy for an hour's outage, compressed: backoff 1 s doubling to 600 s, 24 attempts
        // (about two hours of retries), all times / 100.
        try DaemonBench.writeConfig(dir: dir, models: models, port: port, hookPort: hookPort,
                                    hookRetry: "{ max_attempts: 24, initial_backoff_seconds: \(1 / scale), max_backoff_seconds: \(600 / scale) }")
        let daemon = Storm.Restartable(dir: dir, port: port)
        try daemon.start()
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let receiver = OrderedReceiver()
        let outage = hours * 3600 / scale
        let started = Date()

        // The feed, paced over the outage.
        let feedDone = Flag()
        let feeder = Task {
            for batch in batches {
                while !(await DaemonBench.post(client, port: port, body: batch.body)) { try? await Task.sleep(for: .milliseconds(100)) }
                try? await Task.sleep(for: .milliseconds(Int64(outage * 1000 / Double(batches.count))))
            }
            feedDone.state.withLock { $0 = true }
        }
        var samples: [(t: Double, rssMiB: Double, depth: Double, retries: Double, committed: Double)] = []
        var serving = false
        // The outage lasts its hour and until the whole feed is committed, plus 2 s: the depth gauge is read
        // at least once a second.
        var fedAt: Date? = nil
        while Date().timeIntervalSince(started) < outage || fedAt.map({ Date().timeIntervalSince($0) < 2 }) ?? true {
            if fedAt == nil && feedDone.state.withLock({ $0 }) { fedAt = Date() }
            let t = Date().timeIntervalSince(started)
            if !serving && t >= outage / 2 {
                try await receiver.start(port: hookPort, mode: .unavailable(retryAfter: 1))
                serving = true
            }
            let metrics = await DaemonBench.get(client, port: port, path: "/metrics")
            samples.append((t, daemon.residentMiB, value(metrics, "vigil_outbox_depth{sink=\"hook\"}"),
                            value(metrics, "vigil_deliveries_total{sink=\"hook\",outcome=\"retry\"}"),
                            value(metrics, "vigil_alerts_total{status=\"firing\"}") + value(metrics, "vigil_alerts_total{status=\"resolved\"}")))
            try await Task.sleep(for: .milliseconds(500))
        }
        await feeder.value
        // The receiver is back: everything pending goes out.
        receiver.mode = .accepting
        let back = Date()
        var recovered: Double? = nil
        var final = ""
        for _ in 0..<6000 {
            final = await DaemonBench.get(client, port: port, path: "/metrics")
            if value(final, "vigil_outbox_depth{sink=\"hook\"}") == 0, value(final, "vigil_outbox_depth{sink=\"file\"}") == 0 {
                recovered = Date().timeIntervalSince(back)
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        daemon.kill()
        receiver.stop()
        try await client.shutdown()

        let fileOrder = try Storm.jsonLines("\(dir)/alerts.jsonl").map { "\(Storm.id(of: $0)).\($0["status"] as? String ?? "")" }
        var firstSeen: [String] = []
        var seen: Set<String> = []
        for id in receiver.accepted where seen.insert(id).inserted { firstSeen.append(id) }
        let dead = value(final, "vigil_deliveries_total{sink=\"hook\",outcome=\"dead\"}")
        var failures: [String] = []
        if recovered == nil { failures.append("the outbox did not drain within 5 minutes of the receiver's return") }
        if Set(firstSeen) != Set(fileOrder) { failures.append("the receiver's events (\(firstSeen.count)) differ from the file sink's (\(fileOrder.count))") }
        if firstSeen != fileOrder { failures.append("events reached the receiver out of commit order") }
        if dead != 0 { failures.append("\(Int(dead)) events dead") }
        let depths = samples.map(\.depth), retries = samples.map(\.retries)
        if zip(retries, retries.dropFirst()).contains(where: { $1 < $0 }) { failures.append("the retry counter went down") }
        if let last = samples.last, last.depth != last.committed || last.committed != Double(fileOrder.count) {
            failures.append("at the end of the outage the outbox depth (\(last.depth)) was not every committed event (\(last.committed))")
        }
        let rss = samples.map(\.rssMiB)
        let firstHalf = rss.prefix(rss.count / 2), secondHalf = rss.suffix(rss.count / 2)

        print("## Long webhook outage (release `vigil run`, loopback; \(hours) h of daemon time in \(Bench.f(outage, 0)) s)\n")
        print("| | |\n|---|---|")
        let length = samples.last?.t ?? outage
        print("| receiver | connection refused for \(Bench.f(outage / 2, 0)) s, then 503 `Retry-After: 1` for \(Bench.f(length - outage / 2, 0)) s (until the feed ended), then 200 |")
        print("| feed during the outage | \(panel.count) records in \(batches.count) HTTP batches |")
        print("| alert events committed | \(fileOrder.count) (the file sink, delivered throughout) |")
        print("| `vigil_outbox_depth{sink=\"hook\"}` sampled every 0.5 s (\(samples.count) samples) | 0 → \(Int(depths.last ?? 0)), never down during the outage: "
              + "\(zip(depths, depths.dropFirst()).allSatisfy { $1 >= $0 }); equal to the events committed at the end |")
        print("| `vigil_deliveries_total{outcome=\"retry\"}` at the end of the outage | \(Int(retries.last ?? 0)) |")
        print("| resident memory, first / second half of the outage | \(Bench.f(firstHalf.min() ?? 0, 0))–\(Bench.f(firstHalf.max() ?? 0, 0)) MiB / "
              + "\(Bench.f(secondHalf.min() ?? 0, 0))–\(Bench.f(secondHalf.max() ?? 0, 0)) MiB |")
        print("| receiver back → both outboxes empty | \(recovered.map { Bench.f($0, 1) + " s" } ?? "not within 5 min") |")
        print("| delivered in commit order / dead | \(firstSeen == fileOrder) / \(Int(dead)) |")
        print("| result | \(failures.isEmpty ? "**all checks passed**" : "**FAILED**: " + failures.joined(separator: "; ")) |")
        fflush(nil)   // the table before the failure ends the process
        if !failures.isEmpty { throw BenchFailure(message: "the outage's checks failed") }
    }

    /// The value of the metric line that starts with `series` (labels in the daemon's order), 0 when absent.
    static func value(_ metrics: String, _ series: String) -> Double {
        metrics.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { $0.split(separator: " ").last }
            .flatMap { Double($0) } ?? 0
    }

    /// A webhook receiver that answers 503 with Retry-After until told to accept, and keeps the event ids it
    /// accepted in order.
    final class OrderedReceiver: Sendable {
        enum Mode: Sendable {
            case unavailable(retryAfter: Int)
            case accepting
        }

        private let state = Mutex<(mode: Mode, accepted: [String])>((.accepting, []))
        private let task = Mutex<Task<Void, Error>?>(nil)

        var mode: Mode {
            get { state.withLock { $0.mode } }
            set { state.withLock { $0.mode = newValue } }
        }
        var accepted: [String] { state.withLock { $0.accepted } }

        func start(port: Int, mode: Mode) async throws {
            self.mode = mode
            let router = Router()
            router.post("/hook") { request, _ -> Response in
                let id = request.headers[HTTPField.Name("webhook-id")!] ?? ""
                return self.state.withLock { s in
                    switch s.mode {
                    case let .unavailable(after):
                        return Response(status: .serviceUnavailable, headers: [.retryAfter: "\(after)"])
                    case .accepting:
                        s.accepted.append(id)
                        return Response(status: .ok)
                    }
                }
            }
            let started = Handshake()
            let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)),
                                  onServerRunning: { _ in started.done.withLock { $0 = true } })
            task.withLock { $0 = Task { try await app.runService(gracefulShutdownSignals: []) } }
            while !started.done.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
        }

        func stop() { task.withLock { $0?.cancel() } }

        private final class Handshake: Sendable { let done = Mutex(false) }
    }

    final class Flag: Sendable { let state = Mutex(false) }
}
