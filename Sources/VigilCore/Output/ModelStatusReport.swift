import Foundation
import VigilStats

/// A model's status as every door shows it: `vigil replay` and `vigil validate --input` (one line per
/// problem), the daemon's log and `GET /v1/models` (one JSON object per model).
extension ModelRuntime {
    /// `model NAME: …` lines for what a user must know: each fit warning, or why the model is unfitted.
    public var statusMessages: [String] {
        let name = config.name
        switch status {
        case .fitted: return []
        case let .fittedWithWarnings(warnings): return warnings.map { "model \(name): \($0)" }
        case let .unfitted(reason):
            let prefix = "model \(name): "
            let why = reason.hasPrefix(prefix) ? String(reason.dropFirst(prefix.count)) : reason
            return ["model \(name) unfitted, its series are not evaluated: \(why)"]
        }
    }

    /// The object of `GET /v1/models`.
    public var statusJSON: JSON {
        var fields: [(String, JSON)] = [
            ("model", .string(config.name)), ("measure", .string(config.measure)), ("unit", .string(config.unit.rawValue)),
            ("model_version", .string(config.version)), ("expected", .string(config.expected.kind.name)),
            ("status", .string(status.name)),
        ]
        switch status {
        case .fitted: fields.append(("reason", .null)); fields.append(("warnings", .array([])))
        case let .fittedWithWarnings(warnings):
            fields.append(("reason", .null)); fields.append(("warnings", .array(warnings.map(JSON.string))))
        case let .unfitted(reason): fields.append(("reason", .string(reason))); fields.append(("warnings", .array([])))
        }
        if let fit {
            fields.append(("family", .string(fit.family.rawValue)))
            fields.append(("coefficients", .array(fit.coefficients.map { c in
                .object([("name", .string(c.name)), ("estimate", .finite(c.estimate)), ("std_error", .finite(c.standardError))])
            })))
            fields.append(("theta", .finite(fit.theta)))
            if fit.family == .betaBinomial { fields.append(("rho", .finite(fit.rho))) }
            fields.append(("baseline_rows", .integer(fit.baselineRows)))
            fields.append(("baseline_events", .finite(fit.baselineEvents)))
            fields.append(("fit_seconds", .finite(fit.seconds)))
        }
        fields.append(("fits", .integer(fits)))
        fields.append(("detectors", .array(zip(config.detectors, thresholds).map { spec, threshold in
            .object([("id", .string(spec.id)), ("type", .string(spec.typeName)), ("threshold", .finite(threshold))])
        })))
        return .object(fields)
    }
}
