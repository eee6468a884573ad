import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import VigilCore

/// HTTP POST of a CloudEvents 1.0 structured-mode event carrying the alert, signed per Standard Webhooks.
final class WebhookSink: AlertSink {
    let name: String
    let retry: DaemonConfig.Retry
    let url: URL
    let timeout: Double
    private let signer: WebhookSigner
    private let client: HTTPClient
    private let source: String

    init(name: String, url: URL, secret: WebhookSigner, timeout: Double, retry: DaemonConfig.Retry, client: HTTPClient) {
        self.name = name
        self.url = url
        self.signer = secret
        self.timeout = timeout
        self.retry = retry
        self.client = client
        self.source = "vigil://\(ProcessInfo.processInfo.hostName)"
    }

    /// The CloudEvent (SPEC §3): its `id` is the event id, `time` when the event was committed.
    func payload(alert: Alert, json: JSON, eventID: String, time: String) -> [UInt8] {
        let event = JSON.object([
            ("specversion", .string("1.0")),
            ("id", .string(eventID)),
            ("source", .string("\(source)/\(alert.model)")),
            ("type", .string("org.qio.vigil.alert.\(alert.status.rawValue)")),
            ("time", .string(time)),
            ("datacontenttype", .string("application/json")),
            ("subject", .string(alert.id)),
            ("data", json),
        ])
        return Array(event.serialized().utf8)
    }

    /// A CloudEvent of type `org.qio.vigil.digest`, its subject the sink.
    func payload(digest: JSON, eventID: String, time: String) -> [UInt8] {
        let event = JSON.object([
            ("specversion", .string("1.0")),
            ("id", .string(eventID)),
            ("source", .string("\(source)/digest")),
            ("type", .string("org.qio.vigil.digest")),
            ("time", .string(time)),
            ("datacontenttype", .string("application/json")),
            ("subject", .string(name)),
            ("data", digest),
        ])
        return Array(event.serialized().utf8)
    }

    func deliver(_ entry: OutboxEntry) async -> DeliveryOutcome {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        let timestamp = Int(Date().timeIntervalSince1970)
        request.headers.add(name: "Content-Type", value: "application/cloudevents+json")
        request.headers.add(name: "User-Agent", value: "vigil")
        request.headers.add(name: "webhook-id", value: entry.eventID)
        request.headers.add(name: "webhook-timestamp", value: String(timestamp))
        request.headers.add(name: "webhook-signature",
                            value: signer.signature(id: entry.eventID, timestamp: timestamp, body: entry.payload))
        request.body = .bytes(entry.payload)
        do {
            let response = try await client.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
            // The body is not needed; reading up to a small bound frees the connection for the next event.
            _ = try? await response.body.collect(upTo: 64 << 10)
            let status = Int(response.status.code)
            switch status {
            case 200..<300: return .delivered
            case 408, 429, 500..<600:
                let after = response.headers.first(name: "Retry-After").flatMap(RetryAfter.seconds)
                return .retry(reason: "HTTP \(status)", after: after)
            default:
                return .refused(reason: "HTTP \(status)")
            }
        } catch {
            return .retry(reason: "\(error)", after: nil)
        }
    }

    func reopen() async {}
}

/// Standard Webhooks signatures: `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` with the secret's
/// bytes (`whsec_` followed by base64). The secret never leaves this value, and is not printable.
struct WebhookSigner: Sendable, CustomStringConvertible {
    private let key: [UInt8]

    init(secretFile: String) throws {
        guard let text = try? String(contentsOfFile: secretFile, encoding: .utf8) else {
            throw SinkError("cannot read the webhook secret file \(secretFile)")
        }
        try self.init(secret: text.trimmingCharacters(in: .whitespacesAndNewlines), file: secretFile)
    }

    init(secret: String, file: String = "secret") throws {
        let encoded = secret.hasPrefix("whsec_") ? String(secret.dropFirst(6)) : secret
        guard let bytes = Data(base64Encoded: encoded), bytes.count >= 16 else {
            throw SinkError("\(file): the webhook secret must be whsec_ followed by base64 of at least 16 bytes")
        }
        key = [UInt8](bytes)
    }

    func signature(id: String, timestamp: Int, body: [UInt8]) -> String {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: key))
        hmac.update(data: Array("\(id).\(timestamp).".utf8))
        hmac.update(data: body)
        return "v1," + Data(hmac.finalize()).base64EncodedString()
    }

    var description: String { "WebhookSigner(redacted)" }
}

/// `Retry-After`: delay-seconds or an HTTP-date.
enum RetryAfter {
    static func seconds(_ value: String) -> Double? {
        let text = value.trimmingCharacters(in: .whitespaces)
        if let n = Int(text), n >= 0 { return Double(n) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: text) else { return nil }
        return max(0, date.timeIntervalSinceNow)
    }
}
