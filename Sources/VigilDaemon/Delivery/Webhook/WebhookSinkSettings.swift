import AsyncHTTPClient
import Foundation
import VigilCore

/// `type: webhook`: `url:` (http or https), `secret_file:` (a Standard Webhooks secret, read at start) and
/// `timeout_seconds:` (default `DaemonDefaults.webhookTimeout`).
struct WebhookSinkSettings: SinkSettings, Equatable {
    static let type = "webhook"
    static let keys = ["url", "secret_file", "timeout_seconds"]
    let url: URL
    let secretFile: String
    let timeout: Double

    static func parse(_ entry: YAMLValue, _ keys: [String: YAMLValue], files: ConfigPaths) -> WebhookSinkSettings? {
        for key in ["url", "secret_file"] where keys[key] == nil { entry.missing(key) }
        let url = keys["url"].flatMap { v -> URL? in
            guard let s = v.string() else { return nil }
            guard let u = URL(string: s), let scheme = u.scheme?.lowercased(), scheme == "https" || scheme == "http", u.host != nil else {
                v.report("must be an http:// or https:// URL"); return nil
            }
            return u
        }
        let secret = keys["secret_file"].flatMap { v -> String? in
            guard let p = files.readableFile(v) else { return nil }
            let text = (try? String(contentsOfFile: p, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            guard text.hasPrefix("whsec_"), let key = Data(base64Encoded: String(text.dropFirst(6))), key.count >= 16 else {
                v.report("\(p) must hold a Standard Webhooks secret: whsec_ then base64 of at least 16 bytes"); return nil
            }
            return p
        }
        let timeout = keys["timeout_seconds"].map { v -> Double? in
            guard let t = v.number(), t > 0, t <= 300 else { v.report("must be a number of seconds in (0, 300]"); return nil }
            return t
        } ?? DaemonDefaults.webhookTimeout
        guard let url, let secret, let timeout else { return nil }
        return WebhookSinkSettings(url: url, secretFile: secret, timeout: timeout)
    }

    func makeSink(name: String, retry: DaemonConfig.Retry, client: HTTPClient) throws -> any AlertSink {
        WebhookSink(name: name, url: url, secret: try WebhookSigner(secretFile: secretFile), timeout: timeout, retry: retry, client: client)
    }
}
