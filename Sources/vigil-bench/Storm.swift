import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization
import VigilStats

/// `vigil-bench --storm [--kills N] [--seed S]`: the release `vigil run` killed with SIGKILL at N seeded random
/// instants (every other one 0–40 ms after a batch or file went out) while a feeder sends a panel month by month — even months as spool files, odd months as HTTP
/// batches of 200 rows, each sent again until it is acknowledged (202, or the file in `done/`) as a real
/// feed would — and a webhook receiver accepts events slowly (20 ms each). Restarted after every kill. Then
/// checked (RELIABILITY.md, "kill -9 storm"):
///
/// 1. every acknowledged record is in the state (`/healthz` counts them all);
/// 2. `GET /v1/alerts?status=all` equals the alerts `vigil replay` raises on the same records (every field
///    but `raised_at`), and the file sink's events are exactly replay's alerts, each `firing` once — months
///    arrive in order and the detectors are causal, so no alert is withdrawn;
/// 3. every event reached the file sink and the receiver at least once, a repeat only as a redelivery of
///    the same bytes under the same `webhook-id`, and no event id was used for two contents.
enum Storm {
    static func run(dataDir: String, kills: Int, seed: UInt64) async throws {
        let started = Date()
        let dir = URL(fileURLWithPath: dataDir).standardizedFileURL.path + "/storm"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: "\(dir)/spool", withIntermediateDirectories: true)
        let panel = NationalPanel(facilities: 60, months: 60, seed: 20261201)
        let (input, models) = try ReplayBench.prepare(panel: panel, dataDir: dir)
        let units = try feedUnits(input: input)

        let receiver = SlowReceiver()
        let hookPort = try await receiver.start()
        let port = try Loopback.freePort()
        try DaemonBench.writeConfig(dir: dir, models: models, port: port, hookPort: hookPort)
        let daemon = Restartable(dir: dir, port: port)
        try daemon.start()

        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let progress = Progress()
        // Paced so that the feed lasts about as long as the storm (a kill every 0.8 s and a restart, on average).
        let pace = Double(kills) * 0.9 / Double(units.count)
        let feeder = Task {
            for unit in units {
                progress.state.withLock { $0.inFlight = true }
                await send(unit, dir: dir, port: port, client: client, progress: progress)
                progress.state.withLock { $0.acknowledged += 1; $0.inFlight = false }
                try? await Task.sleep(for: .milliseconds(Int64(pace * 1000)))
            }
        }
        var random = SplitMix64(seed: seed)
        var killsInFlight = 0
        var restartSeconds: [Double] = []
        for k in 0..<kills {
            try await Task.sleep(for: .milliseconds(Int64(50 + random.nextUniform() * 1450)))
            if k % 2 == 1 {
                // Every other kill aims at work under way: 0–40 ms after a batch or file went out.
                for _ in 0..<500 where !progress.state.withLock({ $0.inFlight }) { try await Task.sleep(for: .milliseconds(2)) }
                try await Task.sleep(for: .milliseconds(Int64(random.nextUniform() * 40)))
            }
            if progress.state.withLock({ $0.inFlight }) { killsInFlight += 1 }
            daemon.kill()
            let t0 = Date()
            try daemon.start()
            restartSeconds.append(Date().timeIntervalSince(t0))
        }
        await feeder.value
        let fed = Date().timeIntervalSince(started)

        // Everything committed drains from the outbox to both sinks.
        var drained = false
        for _ in 0..<3000 {
            let metrics = await DaemonBench.get(client, port: port, path: "/metrics")
            let depths = metrics.split(separator: "\n").filter { $0.hasPrefix("vigil_outbox_depth") }
            if depths.count == 2, depths.allSatisfy({ $0.hasSuffix(" 0") || $0.hasSuffix(" 0.0") }) { drained = true; break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let health = await DaemonBench.get(client, port: port, path: "/healthz")
        let stored = (try? JSONSerialization.jsonObject(with: Data(health.utf8)) as? [String: Any])?["records"] as? Int ?? -1
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/alerts?status=all")
        request.headers.add(name: "Authorization", value: "Bearer \(DaemonBench.token)")
        let alertsBody = try await client.execute(request, timeout: .seconds(60)).body.collect(upTo: 256 << 20)
        let daemonAlerts = try objects(inArray: "alerts", of: Data(buffer: alertsBody))
        daemon.kill()
        receiver.stop()
        try await client.shutdown()

        // What replay raises on the same records.
        let replayFile = "\(dir)/replay-alerts.jsonl"
        let replay = Process()
        replay.executableURL = Bench.vigilURL
        replay.arguments = ["replay", "--models", models, "--input", input, "--alerts", replayFile]
        replay.standardOutput = FileHandle.nullDevice
        try replay.run()
        replay.waitUntilExit()
        let expected = try jsonLines(replayFile)
        let fileEvents = try jsonLines("\(dir)/alerts.jsonl")

        var failures: [String] = []
        func check(_ ok: Bool, _ what: String) { if !ok { failures.append(what) } }
        check(drained, "the outbox did not drain within 5 minutes")
        check(stored == panel.count, "state holds \(stored) records, \(panel.count) were acknowledged")
        let expectedByID = Dictionary(expected.map { (id(of: $0), withoutRaisedAt($0)) }, uniquingKeysWith: { a, _ in a })
        let daemonByID = Dictionary(daemonAlerts.map { (id(of: $0), withoutRaisedAt($0)) }, uniquingKeysWith: { a, _ in a })
        check(daemonByID.count == daemonAlerts.count, "an alert id appears twice in GET /v1/alerts")
        check(daemonByID == expectedByID, "GET /v1/alerts?status=all differs from replay's alerts "
              + "(\(daemonByID.count) vs \(expectedByID.count); \(Set(daemonByID.keys).symmetricDifference(expectedByID.keys).prefix(3)))")
        // The file sink: each event is a line; repeats are redeliveries of the same line.
        var fileByEvent: [String: Set<String>] = [:]
        for line in fileEvents { fileByEvent["\(id(of: line)).\(line["status"] as? String ?? "?")", default: []].insert(canonical(line)) }
        let expectedEvents = Set(expected.map { "\(id(of: $0)).firing" })
        check(Set(fileByEvent.keys) == expectedEvents, "the file sink's events differ from replay's alerts "
              + "(\(fileByEvent.count) vs \(expectedEvents.count))")
        check(fileByEvent.values.allSatisfy { $0.count == 1 }, "a file sink event was written with two contents")
        let hooks = receiver.deliveries
        var hookByID: [String: Set<Data>] = [:]
        for d in hooks { hookByID[d.webhookID, default: []].insert(d.body) }
        check(Set(hookByID.keys) == expectedEvents, "the receiver's events differ from replay's alerts "
              + "(\(hookByID.count) vs \(expectedEvents.count))")
        check(hookByID.values.allSatisfy { $0.count == 1 }, "a webhook-id was delivered with two bodies")
        check(hooks.allSatisfy { $0.eventID == $0.webhookID }, "an event's id differs from its webhook-id")

        print("## kill -9 storm (release `vigil run`, loopback; seed \(seed))\n")
        print("| | |\n|---|---|")
        print("| kills (SIGKILL), each followed by a restart | \(kills); \(killsInFlight) with a batch or file unacknowledged |")
        print("| restart to ready, median / max | \(Bench.f(median(restartSeconds), 2)) s / \(Bench.f(restartSeconds.max() ?? 0, 2)) s |")
        print("| units fed (spool files / HTTP batches), sent again until acknowledged | \(units.filter(\.isFile).count) / "
              + "\(units.filter { !$0.isFile }.count); \(progress.state.withLock { $0.retries }) retries |")
        print("| records acknowledged / in the state | \(panel.count) / \(stored) |")
        print("| alerts: replay / daemon (`status=all`) | \(expected.count) / \(daemonAlerts.count) |")
        print("| file sink lines (events, redeliveries) | \(fileEvents.count) (\(fileByEvent.count), \(fileEvents.count - fileByEvent.count)) |")
        print("| webhook deliveries (events, redeliveries) | \(hooks.count) (\(hookByID.count), \(hooks.count - hookByID.count)) |")
        print("| wall: feeding under the storm / total | \(Bench.f(fed, 1)) s / \(Bench.f(Date().timeIntervalSince(started), 1)) s |")
        print("| result | \(failures.isEmpty ? "**all checks passed**" : "**FAILED**: " + failures.joined(separator: "; ")) |")
        fflush(nil)   // the table before the failure ends the process
        if !failures.isEmpty { throw BenchFailure(message: "the storm's checks failed") }
    }

    // MARK: Feed

    /// Units acknowledged so far, whether one is in flight, and how many sends were refused.
    final class Progress: Sendable {
        let state = Mutex((acknowledged: 0, inFlight: false, retries: 0))
    }

    struct Unit: Sendable {
        let name: String
        let body: String
        let isFile: Bool
    }

    /// The panel by month: even months as one spool file, odd months as HTTP batches of 200 rows (every
    /// month as batches with `everyMonthByHTTP`).
    static func feedUnits(input: String, everyMonthByHTTP: Bool = false) throws -> [Unit] {
        let text = try String(contentsOfFile: input, encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        let header = lines.removeFirst()
        var byMonth: [String: [String]] = [:]
        for line in lines { byMonth[String(line.split(separator: ",")[2]), default: []].append(line) }
        var units: [Unit] = []
        for (m, month) in byMonth.keys.sorted().enumerated() {
            let rows = byMonth[month] ?? []
            if m % 2 == 0 && !everyMonthByHTTP {
                units.append(Unit(name: "month-\(month).csv", body: ([header] + rows).joined(separator: "\n") + "\n", isFile: true))
            } else {
                for (k, start) in stride(from: 0, to: rows.count, by: 200).enumerated() {
                    let part = rows[start..<min(rows.count, start + 200)]
                    units.append(Unit(name: "\(month)#\(k)", body: ([header] + part).joined(separator: "\n") + "\n", isFile: false))
                }
            }
        }
        return units
    }

    /// Sends one unit until it is acknowledged, whatever happens to the daemon meanwhile.
    static func send(_ unit: Unit, dir: String, port: Int, client: HTTPClient,
                     progress: Progress) async {
        if unit.isFile {
            let staged = "\(dir)/spool/.\(unit.name).part"
            try? unit.body.write(toFile: staged, atomically: false, encoding: .utf8)
            rename(staged, "\(dir)/spool/\(unit.name)")
            while !FileManager.default.fileExists(atPath: "\(dir)/spool/done/\(unit.name)")
                    && !FileManager.default.fileExists(atPath: "\(dir)/spool/rejected/\(unit.name)") {
                try? await Task.sleep(for: .milliseconds(20))
            }
            return
        }
        while !(await DaemonBench.post(client, port: port, body: unit.body)) {
            progress.state.withLock { $0.retries += 1 }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    // MARK: Checking

    static func jsonLines(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    static func objects(inArray key: String, of data: Data) throws -> [[String: Any]] {
        (try JSONSerialization.jsonObject(with: data) as? [String: Any])?[key] as? [[String: Any]] ?? []
    }

    static func id(of object: [String: Any]) -> String { object["id"] as? String ?? "" }

    /// The object's JSON with sorted keys and without `raised_at` (when it was raised differs by run).
    static func withoutRaisedAt(_ object: [String: Any]) -> String {
        var o = object
        o["raised_at"] = nil
        return canonical(o)
    }

    static func canonical(_ object: [String: Any]) -> String {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let s = values.sorted()
        return s[s.count / 2]
    }

    /// The daemon, started and killed again and again on the same directory and port.
    final class Restartable {
        let dir: String
        let port: Int
        private var process: Process?
        private var starts = 0

        init(dir: String, port: Int) {
            self.dir = dir
            self.port = port
        }

        /// Starts `vigil run` and waits until `/readyz` answers 200 (at most 2 minutes).
        func start() throws {
            starts += 1
            let log = "\(dir)/daemon-\(starts).log"
            FileManager.default.createFile(atPath: log, contents: nil)
            let process = Process()
            process.executableURL = Bench.vigilURL
            process.arguments = ["run", "--config", "\(dir)/vigil.yaml"]
            process.standardError = FileHandle(forWritingAtPath: log)
            try process.run()
            self.process = process
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline {
                guard process.isRunning else { throw BenchFailure(message: "vigil run exited; see \(log)") }
                if readyz() { return }
                usleep(20_000)
            }
            throw BenchFailure(message: "vigil run not ready after 2 minutes; see \(log)")
        }

        /// The daemon's resident memory (VmRSS), 0 when it is not running.
        var residentMiB: Double {
            guard let process, process.isRunning,
                  let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                  let kB = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) else { return 0 }
            return kB / 1024
        }

        func kill() {
            guard let process, process.isRunning else { return }
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        /// A plain blocking GET of /readyz on a socket of its own.
        private func readyz() -> Bool {
            guard let fd = Loopback.connect(port: port) else { return false }
            defer { close(fd) }
            _ = Loopback.send(fd, Array("GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8))
            var buffer = [UInt8](repeating: 0, count: 512)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            return n > 12 && String(decoding: buffer[0..<n], as: UTF8.self).hasPrefix("HTTP/1.1 200")
        }
    }

    /// A webhook receiver that takes 20 ms per event and keeps every delivery.
    final class SlowReceiver: Sendable {
        struct Delivery: Sendable {
            let webhookID: String
            let eventID: String
            let body: Data
        }

        private let received = Mutex<[Delivery]>([])
        private let port = Mutex<Int?>(nil)
        private let task = Mutex<Task<Void, Error>?>(nil)

        var deliveries: [Delivery] { received.withLock { $0 } }

        func start() async throws -> Int {
            let router = Router()
            router.post("/hook") { request, _ -> HTTPResponse.Status in
                var request = request
                let body = Data(buffer: try await request.collectBody(upTo: 1 << 20))
                try await Task.sleep(for: .milliseconds(20))
                let event = (try? JSONSerialization.jsonObject(with: body) as? [String: Any])?["id"] as? String ?? ""
                let id = request.headers[HTTPField.Name("webhook-id")!] ?? ""
                self.received.withLock { $0.append(Delivery(webhookID: id, eventID: event, body: body)) }
                return .ok
            }
            let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                                  onServerRunning: { channel in self.port.withLock { $0 = channel.localAddress?.port } })
            task.withLock { $0 = Task { try await app.runService(gracefulShutdownSignals: []) } }
            while port.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(10)) }
            return port.withLock { $0 ?? 0 }
        }

        func stop() { task.withLock { $0?.cancel() } }
    }
}
