import AsyncHTTPClient
import Foundation
import VigilCore

/// What one delivery attempt came to.
enum DeliveryOutcome: Sendable, Equatable {
    case delivered
    /// Worth another try (network error, timeout, 408, 429, 5xx, a write that failed); `after` is the
    /// receiver's Retry-After in seconds.
    case retry(reason: String, after: Double?)
    /// The receiver refused the event for good (another 4xx): parked as dead at once.
    case refused(reason: String)
}

/// Which sinks an event goes to: those its model's `alert.sinks` names (every sink when it names none) whose
/// `match:` takes the alert (every alert when the sink has none); which sinks take digests instead of events;
/// and which detectors' events each model's `alert.inhibit` holds while another detector fires.
struct SinkRouting: Sendable {
    private let byModel: [String: Set<String>]
    private let matchers: [String: AlertMatcher]
    /// Sink → its digest schedule (sinks that get one message per interval).
    let digests: [String: DigestSchedule]
    private let inhibitions: [String: [Inhibition]]

    static let all = SinkRouting(byModel: [:], matchers: [:], digests: [:], inhibitions: [:])

    private init(byModel: [String: Set<String>], matchers: [String: AlertMatcher], digests: [String: DigestSchedule],
                 inhibitions: [String: [Inhibition]]) {
        self.byModel = byModel
        self.matchers = matchers
        self.digests = digests
        self.inhibitions = inhibitions
    }

    init(models: [ModelConfig], matchers: [String: AlertMatcher], digests: [String: DigestSchedule] = [:]) {
        var byModel: [String: Set<String>] = [:]
        var inhibitions: [String: [Inhibition]] = [:]
        for model in models {
            if let names = model.alert.sinks { byModel[model.name] = Set(names) }
            if !model.alert.inhibit.isEmpty { inhibitions[model.name] = model.alert.inhibit }
        }
        self.init(byModel: byModel, matchers: matchers, digests: digests, inhibitions: inhibitions)
    }

    func allows(_ sink: String, alert: Alert) -> Bool {
        (byModel[alert.model]?.contains(sink) ?? true) && (matchers[sink]?.matches(alert) ?? true)
    }

    /// The detectors whose firing alert on the same series holds this alert's events (empty: none).
    func inhibitors(of alert: Alert) -> Set<String> {
        guard let rules = inhibitions[alert.model], !alert.detector.isEmpty else { return [] }
        return rules.filter { $0.hold.contains(alert.detector) }.reduce(into: Set<String>()) { $0.formUnion($1.whileFiring) }
    }

    var inhibits: Bool { !inhibitions.isEmpty }
}

/// A place alerts go (SPEC §3), one folder each (File/, Webhook/: the sink and its `SinkSettings`). Every sink shares one outbox and one retry
/// policy (`Deliverer`); a sink only turns an alert event into its bytes — at commit, so every retry sends the
/// same event — and tries once.
protocol AlertSink: Sendable {
    var name: String { get }
    var retry: DaemonConfig.Retry { get }
    /// `json` is `alert.json`, computed once for all sinks.
    func payload(alert: Alert, json: JSON, eventID: String, time: String) -> [UInt8]
    /// A digest (`vigil.digest/v1`, made by `StateStore.flushDigests`) as this sink sends it.
    func payload(digest: JSON, eventID: String, time: String) -> [UInt8]
    func deliver(_ entry: OutboxEntry) async -> DeliveryOutcome
    /// Called on SIGHUP (the file sink reopens its file, so logrotate works).
    func reopen() async
}

/// A kind of sink as the daemon config names it (`type: file`): the keys it adds to a sink's entry, how it
/// reads them, and the running sink it makes. Each lives in its kind's folder beside the sink.
protocol SinkSettings: Sendable {
    static var type: String { get }
    /// Keys of a sink's entry besides name, type, retry, match and digest.
    static var keys: [String] { get }
    /// The settings, or nil when a key is missing or wrong (each reported at its place).
    static func parse(_ entry: YAMLValue, _ keys: [String: YAMLValue], files: ConfigPaths) -> Self?
    func makeSink(name: String, retry: DaemonConfig.Retry, client: HTTPClient) throws -> any AlertSink
    func isEqual(to other: any SinkSettings) -> Bool
}

extension SinkSettings where Self: Equatable {
    func isEqual(to other: any SinkSettings) -> Bool { (other as? Self) == self }
}

/// Every kind of sink: a new kind is a folder under Delivery/ (its sink and its settings) and a line here.
enum SinkKinds {
    static let all: [any SinkSettings.Type] = [FileSinkSettings.self, WebhookSinkSettings.self]
    /// Every kind's own keys, in the list's order, each once.
    static let keys: [String] = all.reduce(into: []) { keys, kind in keys += kind.keys.filter { !keys.contains($0) } }
}
