/// Which alerts a sink takes (its `match:`): every condition must hold, and a condition holds when the
/// alert's value is one of those listed. Keys are alert fields (model, measure, severity, detector,
/// facility_id) or the facility registry's labels (state, type, county, any other column); an alert whose
/// facility the registry does not list has no labels, so a label condition never holds for it.
public struct AlertMatcher: Sendable, Equatable {
    public static let alertFields = ["model", "measure", "severity", "detector", "facility_id"]

    public let conditions: [(key: String, values: Set<String>)]

    public init(_ conditions: [(key: String, values: Set<String>)]) { self.conditions = conditions }

    public func matches(_ alert: Alert) -> Bool {
        conditions.allSatisfy { condition in
            Self.value(of: condition.key, in: alert).map(condition.values.contains) ?? false
        }
    }

    static func value(of key: String, in alert: Alert) -> String? {
        switch key {
        case "model": alert.model
        case "measure": alert.measure
        case "severity": alert.severity.rawValue
        case "detector": alert.detector
        case "facility_id": alert.facility
        default: alert.facilityLabels?[key]
        }
    }

    public static func == (a: AlertMatcher, b: AlertMatcher) -> Bool {
        a.conditions.map(\.key) == b.conditions.map(\.key) && a.conditions.map(\.values) == b.conditions.map(\.values)
    }

    /// `match: { state: [TX, OK], severity: critical }`: each key a text or a list of texts.
    public static func parse(_ value: YAMLValue) -> AlertMatcher? {
        guard let entries = value.entries else { return nil }
        var conditions: [(key: String, values: Set<String>)] = []
        for (key, item) in entries {
            let values = item.scalarText != nil ? item.string().map { [$0] } : item.strings()
            guard let values else { return nil }
            guard !values.isEmpty else { item.report("give at least one value"); return nil }
            conditions.append((key, Set(values)))
        }
        return AlertMatcher(conditions)
    }
}
