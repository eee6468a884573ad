import Crypto
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import Synchronization
import Testing

/// A `vigil run` process on loopback and temporary directories, as systemd would start it.
final class DaemonProcess {
    let dir: URL
    let port: Int
    let token = "test-token-0123456789abcdef"
    let notify: NotifySocket
    private(set) var process: Process?
    private(set) var starts = 0

    var spool: URL { dir.appendingPathComponent("spool") }
    var models: URL { dir.appendingPathComponent("models") }
    var alertsFile: URL { dir.appendingPathComponent("alerts.jsonl") }
    var configPath: String { dir.appendingPathComponent("vigil.yaml").path }
    var logPath: String { dir.appendingPathComponent("vigil-\(starts).log").path }

    /// `sinks` is the YAML list under `sinks:`; `webhookSecret` goes in `webhook.secret`.
    /// `extra`: more top-level config keys (YAML), e.g. `sources:`.
    /// `httpExtra`: more keys under `http:` (YAML lines indented by two spaces).
    init(sinks: String, webhookSecret: String? = nil, maxBody: Int = 1 << 20, extra: String = "", httpExtra: String = "") throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-daemon-\(UUID().uuidString.prefix(8))")
        port = try FreePort.pick()
        notify = try NotifySocket()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        for name in ["clabsi-nb.yaml", "ssi-logit.yaml"] {
            try FileManager.default.copyItem(at: ReplayFiles.models.appendingPathComponent(name),
                                             to: models.appendingPathComponent(name))
        }
        try token.write(to: dir.appendingPathComponent("ingest.token"), atomically: true, encoding: .utf8)
        if let webhookSecret {
            try webhookSecret.write(to: dir.appendingPathComponent("webhook.secret"), atomically: true, encoding: .utf8)
        }
        let config = """
            models: models
            state_dir: state
            spool:
              dir: spool
            http:
              listen: 127.0.0.1:\(port)
              token_file: ingest.token
              max_body_bytes: \(maxBody)
            \(httpExtra)sinks:
            \(sinks)
            \(extra)
            """
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    deinit {
        if let process, process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: dir)
    }

    /// Starts the binary and waits for `READY=1`.
    func start(environment extra: [String: String] = [:]) async throws {
        starts += 1
        let process = Process()
        process.executableURL = VigilBinary.url
        process.arguments = ["run", "--config", configPath]
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notify.path
        for (k, v) in extra { environment[k] = v }
        process.environment = environment
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = FileHandle.nullDevice
        let readyBefore = notify.count(of: "READY=1")
        try process.run()
        self.process = process
        try await waitFor("READY=1 from start \(starts)", seconds: 120) { self.notify.count(of: "READY=1") > readyBefore }
    }

    /// SIGKILL: no chance to clean up.
    func killHard() {
        guard let process else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM and the exit status.
    func stop() -> Int32 {
        guard let process else { return -1 }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        return process.terminationStatus
    }

    func signal(_ sig: Int32) {
        if let process { kill(process.processIdentifier, sig) }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Writes a file next to the spool and renames it in, as a feed should.
    func drop(_ name: String, contents: Data) throws {
        let temp = spool.appendingPathComponent(".\(name).part")
        try contents.write(to: temp)
        try FileManager.default.moveItem(at: temp, to: spool.appendingPathComponent(name))
    }

    func request(_ method: String, _ path: String, body: Data? = nil, contentType: String = "text/csv",
                 token: String? = nil) async throws -> (status: Int, body: Data) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.timeoutInterval = 60
        if let body {
            request.httpBody = body
            request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        }
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as! HTTPURLResponse).statusCode, data)
    }

    func json(_ method: String, _ path: String, body: Data? = nil, token: String? = nil) async throws -> [String: Any] {
        let (_, data) = try await request(method, path, body: body, token: token)
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    /// Ids of the alerts the daemon says are firing.
    func firingIDs() async throws -> Set<String> {
        let object = try await json("GET", "/v1/alerts?status=firing", token: token)
        return Set((object["alerts"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String })
    }

    func fileSinkLines() -> [[String: Any]] {
        let text = (try? String(contentsOf: alertsFile, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
}

/// The end-to-end replay test's files (Tests/VigilCoreTests/Replay), whose expected alerts R computed.
enum ReplayFiles {
    static let root = VigilBinary.repositoryRoot.appendingPathComponent("Tests/VigilCoreTests/Replay")
    static let models = root.appendingPathComponent("models")
    static func input(_ name: String) throws -> Data { try Data(contentsOf: root.appendingPathComponent("inputs/\(name)")) }

    /// The alert ids of an expected alerts file, of one model or all.
    static func alertIDs(_ name: String, model: String? = nil) throws -> Set<String> {
        let text = try String(contentsOf: root.appendingPathComponent("expected/\(name)"), encoding: .utf8)
        let rows = text.split(separator: "\n").dropFirst().map { $0.split(separator: ",") }
        return Set(rows.filter { model == nil || $0[1] == model! }.map { String($0[0]) })
    }
}

/// Polls `condition` until it holds or `seconds` pass. Asynchronous only: a blocking wait would hold one of
/// the concurrency pool's threads (two on a 2-core machine) that the loopback servers of other tests need.
func waitFor(_ what: String, seconds: Double, _ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw TimedOut(what: what)
}

struct TimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

enum FreePort {
    /// A port the kernel just handed out on 127.0.0.1 (bound, read, closed).
    static func pick() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(fd, sa, length) == 0 && getsockname(fd, sa, &length) == 0
            }
        }
        guard ok else { throw TimedOut(what: "a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// A real datagram socket standing in for systemd's `NOTIFY_SOCKET`; records every message.
final class NotifySocket: @unchecked Sendable {
    let path: String
    private let fd: Int32
    private let messages = Mutex<[String]>([])

    init() throws {
        path = "/tmp/vigil-notify-\(UUID().uuidString.prefix(8))"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let ok = withUnsafePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
        }
        guard ok else { throw TimedOut(what: "binding \(path)") }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [weak self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while let self {
                let n = recv(self.fd, &buffer, buffer.count, 0)
                if n > 0 {
                    let text = String(decoding: buffer[..<n], as: UTF8.self)
                    self.messages.withLock { $0.append(text) }
                } else if n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                    return
                }
            }
        }
        thread.start()
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// Every message, one per datagram (a datagram may hold several lines).
    var all: [String] { messages.withLock { $0 } }

    /// Datagrams holding `line` as one of their lines.
    func count(of line: String) -> Int {
        all.filter { $0.split(separator: "\n").contains(Substring(line)) }.count
    }
}

/// A webhook receiver on loopback that checks every delivery the way a consumer would: the Standard Webhooks
/// signature over id, timestamp and body, and the CloudEvents fields. `respond` decides each answer.
final class WebhookReceiver: Sendable {
    struct Delivery: Sendable {
        let path: String
        let eventID: String
        let signatureValid: Bool
        let event: [String: String]
        let alertID: String
        let status: String
    }

    static let secret = "whsec_" + Data("vigil-test-secret-32-bytes-long!".utf8).base64EncodedString()
    private let state = Mutex<(deliveries: [Delivery], requests: Int)>(([], 0))
    let respond: @Sendable (_ path: String, _ request: Int) async -> (status: Int, retryAfter: String?)
    private let task = Mutex<Task<Void, Error>?>(nil)
    private let bound = Mutex<Int?>(nil)

    init(respond: @escaping @Sendable (_ path: String, _ request: Int) async -> (status: Int, retryAfter: String?)) {
        self.respond = respond
    }

    var deliveries: [Delivery] { state.withLock { $0.deliveries } }
    var requests: Int { state.withLock { $0.requests } }

    /// Starts the server and returns its port (waiting without holding one of the few cooperative threads the
    /// server's own task needs).
    func start() async throws -> Int {
        let router = Router()
        let keyBytes = Data(base64Encoded: String(Self.secret.dropFirst(6)))!
        router.post("/**") { request, _ -> Response in
            var request = request
            let body = Data(buffer: try await request.collectBody(upTo: 1 << 20))
            func header(_ name: String) -> String { request.headers.first { $0.name.canonicalName == name }?.value ?? "" }
            let id = header("webhook-id")
            let timestamp = header("webhook-timestamp")
            let signature = header("webhook-signature")
            let mac = HMAC<SHA256>.authenticationCode(for: Data("\(id).\(timestamp).".utf8) + body, using: SymmetricKey(data: keyBytes))
            let valid = signature == "v1," + Data(mac).base64EncodedString()
                && request.headers[.contentType] == "application/cloudevents+json"
            let object = (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:]
            var event: [String: String] = [:]
            for (k, v) in object { if let s = v as? String { event[k] = s } }
            let data = object["data"] as? [String: Any] ?? [:]
            let n = self.state.withLock { s -> Int in s.requests += 1; return s.requests }
            let path = request.uri.path
            let answer = await self.respond(path, n)
            if (200..<300).contains(answer.status) {
                self.state.withLock {
                    $0.deliveries.append(Delivery(path: path, eventID: id, signatureValid: valid, event: event,
                                                  alertID: data["id"] as? String ?? "", status: data["status"] as? String ?? ""))
                }
            }
            var headers = HTTPFields()
            if let after = answer.retryAfter { headers[.retryAfter] = after }
            return Response(status: .init(code: answer.status), headers: headers)
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in self.bound.withLock { $0 = channel.localAddress?.port } })
        task.withLock { $0 = Task { try await app.runService(gracefulShutdownSignals: []) } }
        try await waitFor("the webhook receiver", seconds: 60) { self.bound.withLock { $0 } != nil }
        return bound.withLock { $0! }
    }

    func stop() { task.withLock { $0?.cancel() } }
}
