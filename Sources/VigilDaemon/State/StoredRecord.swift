import VigilCore

/// A record as the state database keeps it: its key and its canonical NDJSON line (SPEC §1 field names),
/// which the same reader as the feeds turns back into the record when the daemon starts.
///
/// The key is what makes a record replace an earlier one: (facility, measure, period) for counts, the
/// episode for patients; a patient record without an episode id is keyed by its whole line, so sending it
/// again is the same record, not a second patient.
struct StoredRecord: Sendable {
    let key: String
    let line: String

    init(_ record: Record) {
        switch record {
        case let .aggregate(r):
            var fields: [(String, JSON)] = [
                ("facility_id", .string(r.facility)), ("measure", .string(r.measure)),
                ("period", .string(r.period.description)), ("events", .integer(r.events)),
            ]
            if let exposure = r.exposure { fields.append(("exposure", .number(exposure))) }
            Self.append(r.covariates, to: &fields)
            line = JSON.object(fields).serialized()
            key = "a\u{1F}\(r.facility)\u{1F}\(r.measure)\u{1F}\(r.period.description)"
        case let .patient(r):
            var fields: [(String, JSON)] = [
                ("facility_id", .string(r.facility)), ("measure", .string(r.measure)),
                ("time", .string(r.time.text)), ("outcome", .integer(r.outcome ? 1 : 0)),
            ]
            if let episode = r.episode { fields.append(("episode_id", .string(episode))) }
            Self.append(r.covariates, to: &fields)
            line = JSON.object(fields).serialized()
            key = r.episode.map { "p\u{1F}\(r.facility)\u{1F}\(r.measure)\u{1F}\($0)" } ?? "l\u{1F}\(line)"
        }
    }

    /// Covariates with a value, nested so that a covariate named like a SPEC field stays a covariate.
    private static func append(_ covariates: Covariates, to fields: inout [(String, JSON)]) {
        var nested: [(String, JSON)] = []
        for (name, value) in zip(covariates.names.names, covariates.values) where !value.isEmpty {
            nested.append((name, .string(value)))
        }
        if !nested.isEmpty { fields.append(("covariates", .object(nested))) }
    }
}
