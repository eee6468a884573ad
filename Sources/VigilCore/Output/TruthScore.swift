import Foundation

/// A replay's alerts against the changes planted in simulated feeds (`--truth FILE`: model, facility_id, from):
/// how many are found and how soon, and how many alerts fall where nothing changed.
public struct TruthScore: Sendable {
    public struct Planted: Sendable {
        public let model: String
        public let facility: String
        /// A period of the model's unit, or a date for patient-level models.
        public let from: String
    }

    public let planted: Int
    public let found: Int
    /// Median periods (aggregate models) and days (patient-level) from the change to its first true alert.
    public let medianDelayPeriods: Double?
    public let medianDelayDays: Double?
    /// Alerts on a series without a planted change, or whose run began before the change.
    public let falseAlerts: Int
    /// Monitored periods of the aggregate series, in years of each model's unit.
    public let seriesYears: Double

    public var falsePer100SeriesYears: Double { seriesYears > 0 ? 100 * Double(falseAlerts) / seriesYears : .nan }

    public static func load(path: String) throws -> [Planted] {
        let table = try CSVTable(path: path)
        guard let models = table.column("model"), let facilities = table.column("facility_id"), let from = table.column("from") else {
            throw CSVError(source: path, line: 1, reason: "the truth file needs columns model, facility_id, from")
        }
        return (0..<table.rowCount).map { Planted(model: models[$0], facility: facilities[$0], from: from[$0]) }
    }

    public init(planted changes: [Planted], events: [Alert], engine: Engine) {
        var units: [String: (unit: PeriodUnit, perYear: Double)] = [:]
        for model in engine.models { units[model.config.name] = (model.config.unit, model.periodsPerYear) }
        // An alert's place in time: the period ordinal (aggregate) or the day (patient-level: `time#episode`).
        func position(_ text: String, patient: Bool) -> Int? {
            if patient { return Timestamp.parse(String(text.split(separator: "#").first ?? ""))?.day }
            return Period.parse(Substring(text))?.ordinal
        }
        let firing = events.filter { $0.status == .firing }
        var falseAlerts = 0
        var delaysPeriods: [Double] = [], delaysDays: [Double] = []
        var found = 0
        let plantedKeys = Dictionary(changes.map { ("\($0.model)\u{1F}\($0.facility)", $0) }, uniquingKeysWith: { a, _ in a })
        var firstTrue: [String: Int] = [:]
        for alert in firing {
            let key = "\(alert.model)\u{1F}\(alert.facility)"
            let patient = units[alert.model]?.unit == .patient
            guard let change = plantedKeys[key], let from = position(change.from, patient: patient),
                  let start = position(alert.signalStart, patient: patient), start >= from,
                  let at = position(alert.period, patient: patient) else {
                falseAlerts += 1
                continue
            }
            firstTrue[key] = min(firstTrue[key] ?? at, at)
        }
        for (key, at) in firstTrue {
            guard let change = plantedKeys[key] else { continue }
            let patient = units[change.model]?.unit == .patient
            guard let from = position(change.from, patient: patient) else { continue }
            found += 1
            if patient { delaysDays.append(Double(at - from)) } else { delaysPeriods.append(Double(at - from)) }
        }
        var years = 0.0
        var firstDetector: [String: String] = [:]
        for model in engine.models { firstDetector[model.config.name] = model.config.detectors.first?.id }
        engine.trace { row in
            guard let unit = units[row.model], unit.unit != .patient, row.detector == firstDetector[row.model] else { return }
            years += 1 / unit.perYear
        }
        self.planted = changes.count
        self.found = found
        self.medianDelayPeriods = median(delaysPeriods)
        self.medianDelayDays = median(delaysDays)
        self.falseAlerts = falseAlerts
        self.seriesYears = years
    }

    public var summary: String {
        var delay: [String] = []
        if let d = medianDelayPeriods { delay.append("\(Alert.short(d)) periods") }
        if let d = medianDelayDays { delay.append("\(Alert.short(d)) days for patient-level models") }
        return "truth: \(found) of \(planted) planted changes found"
            + (delay.isEmpty ? "" : ", median delay \(delay.joined(separator: ", "))")
            + String(format: "; false alerts %.2f per 100 series-years (%d alerts, %.0f series-years)",
                     falsePer100SeriesYears, falseAlerts, seriesYears)
    }
}
