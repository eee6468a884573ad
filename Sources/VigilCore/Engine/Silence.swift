import Foundation

/// An operator's silence (`POST /v1/silences`, `vigil silence add`): while it is active, a firing event of an
/// alert it matches is held — recorded, not delivered — and delivered when the silence ends if the alert still
/// fires. Kept after it ends (expired or past `ends_at`), for the audit (`GET /v1/silences?all=true`).
public struct Silence: Sendable, Equatable {
    public let id: String
    public let matcher: AlertMatcher
    public let startsAt: Date
    public let endsAt: Date
    public let author: String
    public let comment: String
    public let createdAt: Date
    /// Ended early by an operator: when, and who.
    public var expiredAt: Date? = nil
    public var expiredBy: String? = nil

    public init(id: String, matcher: AlertMatcher, startsAt: Date, endsAt: Date, author: String, comment: String, createdAt: Date) {
        self.id = id
        self.matcher = matcher
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.author = author
        self.comment = comment
        self.createdAt = createdAt
    }

    /// The end that holds: an early expiry, else `ends_at`.
    public var effectiveEnd: Date { min(expiredAt ?? endsAt, endsAt) }

    public func isActive(at now: Date) -> Bool { startsAt <= now && now < effectiveEnd }

    public func state(at now: Date) -> String {
        if now < startsAt { return "pending" }
        return isActive(at: now) ? "active" : "expired"
    }

    public func json(at now: Date) -> JSON {
        let stamp = { (d: Date) in JSON.string(Alert.timestamp(d)) }
        var fields: [(String, JSON)] = [
            ("id", .string(id)), ("state", .string(state(at: now))), ("matchers", matcher.json),
            ("starts_at", stamp(startsAt)), ("ends_at", stamp(endsAt)), ("author", .string(author)),
            ("comment", .string(comment)), ("created_at", stamp(createdAt)),
        ]
        if let expiredAt { fields.append(("expired_at", stamp(expiredAt))) }
        if let expiredBy { fields.append(("expired_by", .string(expiredBy))) }
        return .object(fields)
    }

    /// A new silence from its request object: `{"matchers": {"state": ["TX"], "model": "x"}, "ends_at": …,
    /// "starts_at"?: …, "author": …, "comment": …}` (times ISO 8601; `duration` in hours may stand for
    /// `ends_at`). Throws a message naming the field. `labels`: the facility registry's columns — a matcher key
    /// must be an alert field or one of them (a misspelt key would silence nothing, silently).
    public static func request(_ object: [String: Any], id: String, now: Date, labels: [String] = []) throws(SilenceError) -> Silence {
        guard let given = object["matchers"] as? [String: Any], !given.isEmpty else {
            throw SilenceError("matchers: give at least one, e.g. {\"facility_id\": \"100234\"} (a silence of everything is refused)")
        }
        var conditions: [(key: String, values: Set<String>)] = []
        for (key, value) in given.sorted(by: { $0.key < $1.key }) {
            guard AlertMatcher.alertFields.contains(key) || labels.contains(key) else {
                let known = AlertMatcher.alertFields + labels
                throw SilenceError("matchers.\(key): not a key to match on (\(known.joined(separator: ", "))\(labels.isEmpty ? "; registry labels need the daemon's facilities:" : ""))")
            }
            let values: [String]? = (value as? String).map { [$0] } ?? (value as? [Any])?.compactMap { $0 as? String }
            guard let values, !values.isEmpty, values.count == ((value as? [Any])?.count ?? 1) else {
                throw SilenceError("matchers.\(key): a text or a list of texts")
            }
            conditions.append((key, Set(values)))
        }
        guard let author = (object["author"] as? String)?.trimmingCharacters(in: .whitespacesAndNewlines),
              !author.isEmpty, author.count <= 200 else { throw SilenceError("author: a name of 1 to 200 characters is required") }
        let comment = object["comment"] as? String ?? ""
        guard comment.count <= 4000 else { throw SilenceError("comment: at most 4000 characters") }
        func time(_ key: String) throws(SilenceError) -> Date? {
            guard let value = object[key] else { return nil }
            guard let text = value as? String, let date = try? Date(text, strategy: Alert.timestampFormat) else {
                throw SilenceError("\(key): an ISO 8601 time such as 2026-12-01T17:00:00Z")
            }
            return date
        }
        let starts = try time("starts_at") ?? now
        var ends = try time("ends_at")
        if let hours = object["duration_hours"] {
            guard ends == nil else { throw SilenceError("give ends_at or duration_hours, not both") }
            guard let h = (hours as? NSNumber)?.doubleValue, h > 0, h <= 24 * 366 else {
                throw SilenceError("duration_hours: a number of hours in (0, 8784]")
            }
            ends = starts.addingTimeInterval(h * 3600)
        }
        guard let ends else { throw SilenceError("ends_at (or duration_hours) is required") }
        guard ends > now else { throw SilenceError("ends_at is in the past") }
        guard ends > starts else { throw SilenceError("ends_at must be after starts_at") }
        return Silence(id: id, matcher: AlertMatcher(conditions), startsAt: starts, endsAt: ends, author: author,
                       comment: comment, createdAt: now)
    }

    /// A fresh silence id: 16 random bytes, hex.
    public static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}

public struct SilenceError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension AlertMatcher {
    /// `{"key": ["value", …]}`, values sorted (how silences keep their matchers).
    public var json: JSON {
        .object(conditions.map { ($0.key, .array($0.values.sorted().map(JSON.string))) })
    }

    /// Reads back `json`; nil for anything else.
    public init?(json text: String) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: [String]] else { return nil }
        self.init(object.sorted { $0.key < $1.key }.map { (key: $0.key, values: Set($0.value)) })
    }
}
