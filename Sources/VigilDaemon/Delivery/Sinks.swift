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
/// `match:` takes the alert (every alert when the sink has none).
struct SinkRouting: Sendable {
    private let byModel: [String: Set<String>]
    private let matchers: [String: AlertMatcher]

    static let all = SinkRouting(byModel: [:], matchers: [:])

    private init(byModel: [String: Set<String>], matchers: [String: AlertMatcher]) {
        self.byModel = byModel
        self.matchers = matchers
    }

    init(models: [ModelConfig], matchers: [String: AlertMatcher]) {
        var byModel: [String: Set<String>] = [:]
        for model in models { if let names = model.alert.sinks { byModel[model.name] = Set(names) } }
        self.init(byModel: byModel, matchers: matchers)
    }

    func allows(_ sink: String, alert: Alert) -> Bool {
        (byModel[alert.model]?.contains(sink) ?? true) && (matchers[sink]?.matches(alert) ?? true)
    }
}

/// A place alerts go (SPEC §3), one folder each (File/, Webhook/). Every sink shares one outbox and one retry
/// policy (`Deliverer`); a sink only turns an alert event into its bytes — at commit, so every retry sends the
/// same event — and tries once.
protocol AlertSink: Sendable {
    var name: String { get }
    var retry: DaemonConfig.Retry { get }
    /// `json` is `alert.json`, computed once for all sinks.
    func payload(alert: Alert, json: JSON, eventID: String, time: String) -> [UInt8]
    func deliver(_ entry: OutboxEntry) async -> DeliveryOutcome
    /// Called on SIGHUP (the file sink reopens its file, so logrotate works).
    func reopen() async
}
