import Crypto
import Foundation
import VigilStats

/// The alert object of SPEC §3, the same in every sink.
public struct Alert: Sendable, Equatable {
    /// `stale`: a facility's feed stopped (`alert.stale_after`); such an alert has no detector fields.
    public enum Status: String, Sendable { case firing, resolved, stale }

    public let id: String
    public var status: Status
    public let model: String
    public let modelVersion: String
    public let detector: String
    public let detectorType: String
    public let facility: String
    public let measure: String
    public let period: String
    public let signalStart: String
    public let observed: Int
    public let expected: Double
    public let statistic: Double
    public let threshold: Double
    public let severity: Severity
    public var raisedAt: Date
    /// Patients in the run (patient-level models), nil for aggregate models.
    public let patients: Int?
    /// The n the observed events are out of (proportion models), nil otherwise.
    public var trials: Int? = nil
    /// The facility registry's labels, nil for a facility it does not list (or without a registry).
    public var facilityLabels: FacilityLabels? = nil
    /// For a stale-feed alert: the model's newest period when the feed was found stale, and `stale_after`.
    public var staleness: Staleness? = nil
    /// Who resolved it by hand, and why (`POST /v1/alerts/{id}/resolve`); nil when the data resolved it.
    public var resolution: Resolution? = nil

    public struct Resolution: Sendable, Equatable {
        public let by: String
        public let note: String
        public init(by: String, note: String) {
            self.by = by
            self.note = note
        }
    }

    /// What makes a run one run (model, detector, facility, measure, signal start): an operator's resolve closes
    /// it, so a later signal of the same run raises nothing.
    public var run: String { [model, detector, facility, measure, signalStart].joined(separator: "\u{1F}") }

    public struct Staleness: Sendable, Equatable {
        public let newestPeriod: String
        public let periods: Int
    }

    /// A stale-feed alert (`stale:<model>:<facility>:<last period>`), firing as `stale` or `resolved`.
    public var isStale: Bool { id.hasPrefix("stale:") }

    /// The stale-feed alert of a series whose last record is of `lastPeriod`.
    public static func stale(model: ModelConfig, facility: String, lastPeriod: String, newestPeriod: String,
                             periods: Int, raisedAt: Date) -> Alert {
        var alert = Alert(id: "stale:\(model.name):\(facility):\(lastPeriod)", status: .stale, model: model.name,
                          modelVersion: model.version, detector: "", detectorType: "", facility: facility, measure: model.measure,
                          period: lastPeriod, signalStart: lastPeriod, observed: 0, expected: .nan, statistic: .nan,
                          threshold: .nan, severity: model.alert.severity, raisedAt: raisedAt, patients: nil)
        alert.staleness = Staleness(newestPeriod: newestPeriod, periods: periods)
        return alert
    }

    /// Reads an alert back from its JSON object (the daemon's stored alerts); nil when a field is missing.
    public init?(json text: String) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let id = object["id"] as? String, let status = (object["status"] as? String).flatMap(Status.init(rawValue:)),
              let model = object["model"] as? String, let version = object["model_version"] as? String,
              let facility = object["facility_id"] as? String, let measure = object["measure"] as? String,
              let period = object["period"] as? String,
              let severity = (object["severity"] as? String).flatMap(Severity.init(rawValue:)),
              let raised = (object["raised_at"] as? String).flatMap({ try? Date($0, strategy: Self.timestampFormat) })
        else { return nil }
        func number(_ key: String) -> NSNumber? { object[key] as? NSNumber }
        // A stale-feed alert has no detector fields.
        var signal = (detector: "", type: "", start: period, observed: 0, expected: Double.nan, statistic: Double.nan,
                      threshold: Double.nan)
        if !id.hasPrefix("stale:") {
            guard let detector = object["detector"] as? String, let type = object["detector_type"] as? String,
                  let start = object["signal_start"] as? String, let observed = number("observed")?.intValue,
                  let expected = number("expected")?.doubleValue, let statistic = number("statistic")?.doubleValue,
                  let threshold = number("threshold")?.doubleValue
            else { return nil }
            signal = (detector, type, start, observed, expected, statistic, threshold)
        }
        self.init(id: id, status: status, model: model, modelVersion: version, detector: signal.detector,
                  detectorType: signal.type, facility: facility, measure: measure, period: period, signalStart: signal.start,
                  observed: signal.observed, expected: signal.expected, statistic: signal.statistic, threshold: signal.threshold,
                  severity: severity, raisedAt: raised, patients: number("patients")?.intValue)
        trials = number("trials")?.intValue
        if isStale {
            guard let newest = object["newest_period"] as? String, let periods = number("stale_after")?.intValue else { return nil }
            staleness = Staleness(newestPeriod: newest, periods: periods)
        }
        if let by = object["resolved_by"] as? String { resolution = Resolution(by: by, note: object["note"] as? String ?? "") }
        if let labels = object["facility"] as? [String: Any] {
            facilityLabels = FacilityLabels(labels.compactMap { key, value in (value as? String).map { (key, $0) } })
        }
    }

    public init(id: String, status: Status, model: String, modelVersion: String, detector: String, detectorType: String,
                facility: String, measure: String, period: String, signalStart: String, observed: Int, expected: Double,
                statistic: Double, threshold: Double, severity: Severity, raisedAt: Date, patients: Int?) {
        self.id = id
        self.status = status
        self.model = model
        self.modelVersion = modelVersion
        self.detector = detector
        self.detectorType = detectorType
        self.facility = facility
        self.measure = measure
        self.period = period
        self.signalStart = signalStart
        self.observed = observed
        self.expected = expected
        self.statistic = statistic
        self.threshold = threshold
        self.severity = severity
        self.raisedAt = raisedAt
        self.patients = patients
    }

    /// SIR = O/E, given only when E ≥ 1 as NHSN does (its Guide to the SIR): below, the ratio is too unstable.
    public var sir: Double? { expected >= 1 && expected.isFinite ? Double(observed) / expected : nil }

    /// NHSN's mid-P exact 95% interval of the SIR, when there is an SIR.
    public var sirInterval: (lower: Double, upper: Double)? {
        guard sir != nil, observed >= 0 else { return nil }
        return StandardizedRatio(observed: observed, expected: expected).midPInterval()
    }

    /// Derived from (model, detector, facility, measure, period of the signal): the same signal gets the same
    /// id across restarts and replays (SPEC §3). 128 bits of SHA-256, hex.
    public static func id(model: String, detector: String, facility: String, measure: String, period: String) -> String {
        let key = [model, detector, facility, measure, period].joined(separator: "\u{1F}")
        let hex = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in SHA256.hash(data: Array(key.utf8)).prefix(16) {
            text.append(hex[Int(byte >> 4)])
            text.append(hex[Int(byte & 15)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    public var summary: String {
        if let staleness {
            return "\(measure) at \(facility): no record since \(period); the model's newest period is \(staleness.newestPeriod) "
                + "(stale after \(staleness.periods) period\(staleness.periods == 1 ? "" : "s"))"
        }
        let statistic = Self.fixed2(statistic), threshold = Self.short(threshold)
        let stat = Detectors.named(detectorType)?.definition.signal(statistic: statistic, threshold: threshold)
            ?? "\(detectorType) \(statistic) > \(threshold)"
        if let patients {
            let ratio = sir.map { " (O/E \(Self.fixed2($0)))" } ?? ""
            return "\(measure) at \(facility): \(observed) observed vs \(Self.fixed2(expected)) expected in "
                + "\(patients) patient\(patients == 1 ? "" : "s") from \(signalStart) to \(period)\(ratio); \(stat)"
        }
        if let trials {
            let ratio = sir.map { " (O/E \(Self.fixed2($0)))" } ?? ""
            return "\(measure) at \(facility): \(observed) of \(trials) observed vs \(Self.fixed2(expected)) expected in "
                + "\(period)\(ratio); \(stat)"
        }
        let ratio = sir.map { " (SIR \(Self.fixed2($0)))" } ?? ""
        return "\(measure) at \(facility): \(observed) observed vs \(Self.fixed2(expected)) expected in "
            + "\(period)\(ratio); \(stat)"
    }

    /// x with two decimals, as C's printf writes it. Away from a tie x·100 rounds as x's exact value does (its
    /// error, below 1e-7 under 1e9, cannot cross a cent), so the digits come from an integer; ties, large and
    /// non-finite x go to printf.
    static func fixed2(_ x: Double) -> String {
        let scaled = x.magnitude * 100
        guard scaled < 1e9, (scaled - scaled.rounded(.down) - 0.5).magnitude > 1e-6 else { return printf("%.2f", x) }
        let cents = Int(scaled.rounded())
        let fraction = cents % 100
        return (x.sign == .minus ? "-" : "") + String(cents / 100) + (fraction < 10 ? ".0" : ".") + String(fraction)
    }

    static func printf(_ format: String, _ x: Double) -> String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer in
            let n = withVaList([x]) { vsnprintf(buffer.baseAddress, 64, format, $0) }
            return String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress, count: Int(max(0, min(n, 63)))), as: UTF8.self)
        }
    }

    /// x as printf's `%.4g`, with ".0" after a whole number (a threshold reads "4.0").
    public static func short(_ x: Double) -> String {
        if let s = shortDecimal(x) { return s }
        let s = Self.printf("%.4g", x)
        return s.utf8.contains(UInt8(ascii: ".")) || s.utf8.contains(UInt8(ascii: "e")) ? s : s + ".0"
    }

    /// `short(x)` from an integer when x·10^d is a whole number m of at most four digits for some d ≤ 3 and
    /// 10⁻⁴ ≤ |x| < 10⁴: x is then within an ulp of m/10^d, far from a 4-digit rounding tie, so `%.4g`
    /// writes m's digits (trailing zeros dropped); nil for every other x (printf writes those).
    static func shortDecimal(_ x: Double) -> String? {
        let magnitude = x.magnitude
        guard magnitude >= 1e-4, magnitude < 1e4 else { return nil }
        var scaled = magnitude, decimals = 0
        while scaled != scaled.rounded() {
            guard decimals < 3 else { return nil }
            scaled *= 10
            decimals += 1
        }
        guard scaled < 1e4 else { return nil }
        var m = Int(scaled)
        while decimals > 0 && m % 10 == 0 {
            m /= 10
            decimals -= 1
        }
        var digits = String(m)
        if decimals > 0 {
            digits = String(repeating: "0", count: max(0, decimals + 1 - digits.utf8.count)) + digits
            digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -decimals))
        } else {
            digits += ".0"
        }
        return x.sign == .minus ? "-" + digits : digits
    }

    public static let timestampFormat: Date.ISO8601FormatStyle = .iso8601

    /// `date` as `timestampFormat` writes it (UTC, whole seconds, cut toward the past). Years 1900–9999 are
    /// written from the proleptic Gregorian calendar (`CivilDate`); other dates, where Foundation's calendar
    /// turns Julian, by Foundation.
    public static func timestamp(_ date: Date) -> String {
        let t = date.timeIntervalSince1970
        guard t >= -2_208_988_800, t < 253_402_300_800 else { return date.formatted(timestampFormat) }
        let seconds = Int(t.rounded(.down))
        let days = seconds.floorDiv(86_400)
        let time = seconds - days * 86_400
        let (year, month, day) = CivilDate.civil(days)
        var text = [UInt8](repeating: 0, count: 20)
        func put(_ value: Int, at start: Int, width: Int) {
            var v = value
            for k in stride(from: start + width - 1, through: start, by: -1) {
                text[k] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
            }
        }
        put(year, at: 0, width: 4)
        put(month, at: 5, width: 2)
        put(day, at: 8, width: 2)
        put(time / 3600, at: 11, width: 2)
        put(time / 60 % 60, at: 14, width: 2)
        put(time % 60, at: 17, width: 2)
        for (k, c) in [(4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":"), (19, "Z")] as [(Int, Unicode.Scalar)] {
            text[k] = UInt8(ascii: c)
        }
        return String(decoding: text, as: UTF8.self)
    }

    public var json: JSON {
        if let staleness { return staleJSON(staleness) }
        var fields: [(String, JSON)] = [
            ("schema", .string("vigil.alert/v1")), ("id", .string(id)), ("status", .string(status.rawValue)),
            ("model", .string(model)), ("model_version", .string(modelVersion)),
            ("detector", .string(detector)), ("detector_type", .string(detectorType)),
            ("facility_id", .string(facility)),
        ]
        if let facilityLabels { fields.append(("facility", facilityLabels.json)) }
        fields += [
            ("measure", .string(measure)), ("period", .string(period)), ("signal_start", .string(signalStart)),
            ("observed", .integer(observed)), ("expected", .finite(expected)), ("sir", .finite(sir)),
        ]
        if let ci = sirInterval { fields.append(("sir_ci95", .array([.finite(ci.lower), .finite(ci.upper)]))) }
        else { fields.append(("sir_ci95", .null)) }
        if let patients { fields.append(("patients", .integer(patients))) }
        if let trials { fields.append(("trials", .integer(trials))) }
        fields += [
            ("statistic", .finite(statistic)), ("threshold", .finite(threshold)),
            ("severity", .string(severity.rawValue)),
            ("raised_at", .string(Self.timestamp(raisedAt))),
            ("summary", .string(summary)),
        ]
        return .object(fields + resolutionFields)
    }

    private var resolutionFields: [(String, JSON)] {
        resolution.map { [("resolved_by", .string($0.by)), ("note", .string($0.note))] } ?? []
    }

    private func staleJSON(_ staleness: Staleness) -> JSON {
        var fields: [(String, JSON)] = [
            ("schema", .string("vigil.alert/v1")), ("id", .string(id)), ("status", .string(status.rawValue)),
            ("model", .string(model)), ("model_version", .string(modelVersion)), ("facility_id", .string(facility)),
        ]
        if let facilityLabels { fields.append(("facility", facilityLabels.json)) }
        fields += [
            ("measure", .string(measure)), ("period", .string(period)), ("newest_period", .string(staleness.newestPeriod)),
            ("stale_after", .integer(staleness.periods)), ("severity", .string(severity.rawValue)),
            ("raised_at", .string(Self.timestamp(raisedAt))), ("summary", .string(summary)),
        ]
        return .object(fields + resolutionFields)
    }
}
