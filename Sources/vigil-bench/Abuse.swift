import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization

/// `vigil-bench --abuse [--seconds 20]`: the release `vigil run` with its default HTTP settings while, at once,
/// 1,000 connections trickle a request head a byte at a time (reopened when the daemon closes them), clients
/// send malformed requests, heads over the decoder's 80 KiB limit, bodies that stop half-way, and requests
/// with wrong or absent tokens as fast as they are answered. Measured (RELIABILITY.md, "HTTP under abuse"):
/// `/healthz` latency sampled every 20 ms on a connection of its own (target p99 < 100 ms), the daemon's
/// resident memory, and afterwards that nothing was taken and a good batch is accepted.
enum Abuse {
    static func run(dataDir: String, seconds: Double) async throws {
        let dir = URL(fileURLWithPath: dataDir).standardizedFileURL.path + "/abuse"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: "\(dir)/spool", withIntermediateDirectories: true)
        let panel = NationalPanel(facilities: 20, months: 30, seed: 20261201)
        let (input, models) = try ReplayBench.prepare(panel: panel, dataDir: dir)
        let port = try Loopback.freePort()
        try DaemonBench.writeConfig(dir: dir, models: models, port: port, hookPort: try Loopback.freePort())
        let daemon = Storm.Restartable(dir: dir, port: port)
        try daemon.start()

        let running = Outage.Flag()
        running.state.withLock { $0 = true }
        let counts = Counts()
        var threads: [Thread] = []
        // 1,000 trickling connections, each reopened when the daemon closes it.
        threads.append(Thread { trickle(port: port, connections: 1000, running: running, counts: counts) })
        // Malformed requests, oversized heads, stalled bodies, one connection at a time each.
        for kind in Hostile.allCases {
            threads.append(Thread { hostile(kind, port: port, running: running, counts: counts) })
        }
        for t in threads { t.start() }
        // Wrong and absent tokens as fast as they are answered, 4 clients.
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let until = Date().addingTimeInterval(seconds)
        let body = try String(contentsOfFile: input, encoding: .utf8).split(separator: "\n").prefix(50).joined(separator: "\n") + "\n"
        let badTokens = Task {
            await withTaskGroup(of: Void.self) { group in
                for c in 0..<4 {
                    group.addTask {
                        var n = 0
                        while Date() < until {
                            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/records")
                            request.method = .POST
                            request.headers.add(name: "Content-Type", value: "text/csv")
                            if (n + c) % 2 == 0 { request.headers.add(name: "Authorization", value: "Bearer wrong-\(n)") }
                            request.body = .bytes(ByteBuffer(string: body))
                            if let response = try? await client.execute(request, timeout: .seconds(10)) {
                                _ = try? await response.body.collect(upTo: 1 << 20)
                                counts.add(response.status.code == 401 ? \.refusedTokens : \.otherAnswers)
                            }
                            n += 1
                        }
                    }
                }
            }
        }
        // /healthz on its own connection every 20 ms.
        var latencies: [Double] = []
        var failures = 0
        var rss: [Double] = []
        while Date() < until {
            let t0 = DispatchTime.now()
            let answer = await DaemonBench.get(client, port: port, path: "/healthz")
            let ms = Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e6
            if answer.contains("\"ok\"") { latencies.append(ms) } else { failures += 1 }
            rss.append(daemon.residentMiB)
            try await Task.sleep(for: .milliseconds(20))
        }
        await badTokens.value
        running.state.withLock { $0 = false }
        while threads.contains(where: { !$0.isFinished }) { try await Task.sleep(for: .milliseconds(50)) }

        let health = await DaemonBench.get(client, port: port, path: "/healthz")
        let stored = (try? JSONSerialization.jsonObject(with: Data(health.utf8)) as? [String: Any])?["records"] as? Int ?? -1
        let good = await DaemonBench.post(client, port: port, body: body)
        let alive = daemon.residentMiB > 0
        daemon.kill()
        try await client.shutdown()

        latencies.sort()
        let p99 = DaemonBench.percentile(latencies, 0.99)
        var problems: [String] = []
        if !alive { problems.append("the daemon is not running") }
        if p99 >= 100 { problems.append("/healthz p99 \(Bench.f(p99, 1)) ms") }
        if failures > 0 { problems.append("\(failures) /healthz requests failed") }
        if stored != 0 { problems.append("\(stored) records taken from refused or unfinished requests") }
        if !good { problems.append("a good batch was not accepted afterwards") }
        let c = counts.snapshot
        print("## HTTP under abuse (release `vigil run`, default HTTP settings, \(Bench.f(seconds, 0)) s)\n")
        print("| | |\n|---|---|")
        print("| trickling connections held open / closed by the daemon and reopened | 1,000 / \(c.trickleClosed) |")
        print("| malformed requests / oversized heads (> 80 KiB) / stalled bodies sent | \(c.malformed) / \(c.oversized) / \(c.stalled) |")
        print("| requests with a wrong or no token answered 401 / otherwise | \(c.refusedTokens) / \(c.otherAnswers) |")
        print("| `/healthz` during the abuse: samples, p50 / p99 / max | \(latencies.count), \(Bench.f(DaemonBench.percentile(latencies, 0.5), 1)) / "
              + "\(Bench.f(p99, 1)) / \(Bench.f(latencies.last ?? 0, 1)) ms, \(failures) failed |")
        print("| daemon resident memory, min–max | \(Bench.f(rss.min() ?? 0, 0))–\(Bench.f(rss.max() ?? 0, 0)) MiB |")
        print("| records taken afterwards / a good batch accepted | \(stored) / \(good) |")
        print("| result | \(problems.isEmpty ? "**all checks passed**" : "**FAILED**: " + problems.joined(separator: "; ")) |")
        fflush(nil)   // the table before the failure ends the process
        if !problems.isEmpty { throw BenchFailure(message: "the abuse checks failed") }
    }

    final class Counts: Sendable {
        struct Values { var trickleClosed = 0, malformed = 0, oversized = 0, stalled = 0, refusedTokens = 0, otherAnswers = 0 }
        private let values = Mutex(Values())
        func add(_ key: WritableKeyPath<Values, Int> & Sendable) { values.withLock { $0[keyPath: key] += 1 } }
        var snapshot: Values { values.withLock { $0 } }
    }

    enum Hostile: CaseIterable { case malformed, oversized, stalled }

    static func trickle(port: Int, connections: Int, running: Outage.Flag, counts: Counts) {
        let head = Array("POST /v1/records HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n".utf8)
        var open: [(fd: Int32, sent: Int)] = (0..<connections).compactMap { _ in Loopback.connect(port: port, nonBlocking: true).map { ($0, 0) } }
        while running.state.withLock({ $0 }) {
            for i in open.indices {
                if Loopback.closedByPeer(open[i].fd) || !Loopback.send(open[i].fd, [head[open[i].sent % head.count]]) {
                    close(open[i].fd)
                    counts.add(\.trickleClosed)
                    if let fd = Loopback.connect(port: port, nonBlocking: true) { open[i] = (fd, 0) }
                    continue
                }
                open[i].sent += 1
            }
            usleep(200_000)
        }
        for c in open { close(c.fd) }
    }

    static func hostile(_ kind: Hostile, port: Int, running: Outage.Flag, counts: Counts) {
        while running.state.withLock({ $0 }) {
            guard let fd = Loopback.connect(port: port) else { usleep(10_000); continue }
            var timeout = timeval(tv_sec: 15, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            switch kind {
            case .malformed:
                _ = Loopback.send(fd, Array("GET /\u{1}\u{2} NOT-HTTP\r\n\u{0}\u{0}garbage\r\n\r\n".utf8))
                counts.add(\.malformed)
            case .oversized:
                _ = Loopback.send(fd, Array(("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "a", count: 100 << 10) + "\r\n\r\n").utf8))
                counts.add(\.oversized)
            case .stalled:
                _ = Loopback.send(fd, Array(("POST /v1/records HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nAuthorization: Bearer \(DaemonBench.token)\r\n"
                                    + "Content-Length: 100000\r\n\r\nfacility_id,measure,period,events\nF1,CLABSI,2016-01,1").utf8))
                counts.add(\.stalled)
            }
            // Until the daemon answers or closes (or 15 s pass).
            var buffer = [UInt8](repeating: 0, count: 4096)
            _ = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            close(fd)
        }
    }
}
