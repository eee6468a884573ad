import VigilCore

/// A record as the state database keeps it (table `records`, SPEC §4): its key columns and its values, the
/// covariates as a compact list of values whose names are stored once per set of names (table `shapes`).
/// Compact, since writing the records' bytes is most of a large batch's commit.
///
/// The key is what makes a record replace an earlier one: (facility, measure, period) for counts, the
/// episode for patients; a patient record without an episode id is keyed by all its fields, so sending it
/// again is the same record, not a second patient.
struct StoredRecord: Sendable {
    enum Kind: String, Sendable {
        case aggregate = "a"
        /// A patient record with an episode id.
        case episode = "p"
        /// A patient record without one.
        case patient = "l"
    }

    let record: Record
    let kind: Kind
    /// The last part of the key: the period as written in its unit, the episode id, or (kind `patient`) the
    /// record's fields as a JSON object.
    let ident: String
    /// The covariate values in the order of `record.covariates.names`, each as a varint length and its bytes.
    let covariates: [UInt8]
    /// Seeded hashes of the key and of the whole record: the duplicate check compares these.
    let keyHash: Int
    let contentHash: Int

    init(_ record: Record) {
        self.record = record
        let values = Self.encode(record.covariates.values)
        covariates = values
        switch record {
        case let .aggregate(r):
            kind = .aggregate
            ident = r.period.description
        case let .patient(r):
            if let episode = r.episode {
                kind = .episode
                ident = episode
            } else {
                kind = .patient
                var fields: [(String, JSON)] = [("time", .string(r.time.text)), ("outcome", .integer(r.outcome ? 1 : 0))]
                for (name, value) in zip(r.covariates.names.names, r.covariates.values) where !value.isEmpty {
                    fields.append((name, .string(value)))
                }
                ident = JSON.object(fields).serialized()
            }
        }
        var key = Hasher()
        key.combine(kind.rawValue)
        key.combine(record.facility)
        key.combine(record.measure)
        key.combine(ident)
        keyHash = key.finalize()
        var content = Hasher()
        content.combine(keyHash)
        switch record {
        case let .aggregate(r):
            content.combine(r.events)
            content.combine(r.exposure?.bitPattern)
            content.combine(r.trials)
        case let .patient(r):
            content.combine(r.outcome)
            content.combine(r.time.text)
        }
        content.combine(record.covariates.names.names)
        values.withUnsafeBytes { content.combine(bytes: $0) }
        contentHash = content.finalize()
    }

    /// `events`, or the outcome as 0/1.
    var value: Int {
        switch record {
        case let .aggregate(r): r.events
        case let .patient(r): r.outcome ? 1 : 0
        }
    }

    var exposure: Double? {
        if case let .aggregate(r) = record { return r.exposure }
        return nil
    }

    var trials: Int? {
        if case let .aggregate(r) = record { return r.trials }
        return nil
    }

    var time: String? {
        if case let .patient(r) = record { return r.time.text }
        return nil
    }

    /// Strings as one list of bytes: each a varint of its length and its UTF-8 (covariate values, and the
    /// names of a `shapes` row).
    static func encode(_ values: [String]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.reduce(0) { $0 + $1.utf8.count + 1 })
        for value in values {
            var n = value.utf8.count
            while n >= 0x80 {
                bytes.append(UInt8(n & 0x7F) | 0x80)
                n >>= 7
            }
            bytes.append(UInt8(n))
            bytes.append(contentsOf: value.utf8)
        }
        return bytes
    }

    /// The strings `encode` wrote, or nil when the bytes are not such a list.
    static func values(_ bytes: UnsafeBufferPointer<UInt8>) -> [String]? {
        var values: [String] = []
        var i = 0
        while i < bytes.count {
            var n = 0, shift = 0
            while true {
                guard i < bytes.count, shift < 35 else { return nil }
                let b = bytes[i]
                i += 1
                n |= Int(b & 0x7F) << shift
                shift += 7
                if b < 0x80 { break }
            }
            guard n <= bytes.count - i else { return nil }
            values.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[i..<(i + n)]), as: UTF8.self))
            i += n
        }
        return values
    }
}
