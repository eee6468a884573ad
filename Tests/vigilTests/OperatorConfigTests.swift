import Foundation
import Testing
@testable import VigilCore
@testable import VigilDaemon

/// The parts of silences, inhibition and digests that need no daemon: the digest calendar, the config keys and
/// what a silence request must say.
struct OperatorConfigTests {
    static func date(_ text: String) -> Date { (try? Date(text, strategy: .iso8601)) ?? .distantPast }

    /// 24h at 07:00 Chicago stays 07:00 local across the end of daylight saving (2026-11-01): that interval is 25 h.
    @Test func dailyDigestFollowsLocalTimeAcrossDaylightSaving() throws {
        let chicago = try #require(TimeZone(identifier: "America/Chicago"))
        let daily = try #require(DigestSchedule(every: 86400, at: 7 * 60, timeZone: chicago))
        let before = daily.interval(containing: Self.date("2026-10-31T13:00:00Z"))   // 08:00 CDT
        #expect(before.start == (Self.date("2026-10-31T12:00:00Z")) && before.end == (Self.date("2026-11-01T13:00:00Z")))
        #expect(daily.label(before.start) == "2026-10-31T07:00:00-0500")
        let early = daily.interval(containing: Self.date("2026-11-02T12:30:00Z"))    // 06:30 CST: yesterday's
        #expect(early.start == (Self.date("2026-11-01T13:00:00Z")) && early.end == (Self.date("2026-11-02T13:00:00Z")))
        #expect(daily.label(early.start) == "2026-11-01T07:00:00-0600")
        // A weekly digest keeps its weekday, and every instant of the week falls in the same interval.
        let weekly = try #require(DigestSchedule(every: 7 * 86400, at: 0, timeZone: .gmt))
        let week = weekly.interval(containing: Self.date("2026-12-01T10:00:00Z"))
        #expect(week.end.timeIntervalSince(week.start) == 7 * 86400)
        #expect(weekly.interval(containing: week.start).start == week.start && weekly.interval(containing: week.end.addingTimeInterval(-1)).start == week.start)
        // Hours divide the day from `at`.
        let sixHours = try #require(DigestSchedule(every: 6 * 3600, at: 30, timeZone: .gmt))
        #expect(sixHours.interval(containing: Self.date("2026-12-01T00:10:00Z")).start == (Self.date("2026-11-30T18:30:00Z")))
        #expect(sixHours.interval(containing: Self.date("2026-12-01T13:00:00Z")).start == (Self.date("2026-12-01T12:30:00Z")))
        #expect(DigestSchedule(every: 7 * 3600, at: 0, timeZone: .gmt) == nil, "7 h does not divide a day")
    }

    @Test func digestAndInhibitKeysAreCheckedWhereWritten() throws {
        let dir = try DaemonConfigTests.Directory()
        let config = try dir.parse("""
            models: m
            state_dir: s
            spool: { dir: spool }
            sinks:
              - { name: lead, type: file, path: d.jsonl, digest: { every: 24h, at: "07:00", timezone: America/Chicago } }
            """).get()
        #expect(config.sinks[0].digest?.every == 86400 && config.sinks[0].digest?.at == 420)
        guard case let .failure(errors) = dir.parse("""
            models: m
            state_dir: s
            spool: { dir: spool }
            sinks:
              - { name: a, type: file, path: a.jsonl, digest: { every: 7h } }
              - { name: b, type: file, path: b.jsonl, digest: { every: 1d, at: "25:00" } }
              - { name: c, type: file, path: c.jsonl, digest: { every: 1d, timezone: Mars/Olympus } }
              - { name: d, type: file, path: d.jsonl, digest: { at: "07:00" } }
            """) else { Issue.record("bad digests accepted"); return }
        #expect(errors.problems.map(\.line) == [5, 6, 7, 8], "\(errors)")

        let model = """
            model: m
            measure: CLABSI
            unit: month
            expected: { kind: poisson, offset: exposure, baseline: { from: 2022-01, to: 2023-12 } }
            detectors:
              - { id: cusum, type: poisson_cusum, ratio: 2, h: 4 }
              - { id: ewma, type: ewma, lambda: 0.3, L: 3 }
            alert:
              inhibit:

            """
        let good = ModelConfigParser.parse(data: Array((model + "    - { while: cusum, hold: [ewma] }\n").utf8), file: "m.yaml")
        #expect((try? good.get())?.alert.inhibit == [Inhibition(whileFiring: ["cusum"], hold: ["ewma"])])
        func problems(_ rules: String) -> [String] {
            guard case let .failure(e) = ModelConfigParser.parse(data: Array((model + rules).utf8), file: "m.yaml") else { return [] }
            return e.problems.map(\.description)
        }
        #expect(problems("    - { while: cusum, hold: [shewhart] }\n")
                == ["m.yaml:10:7: alert.inhibit: no detector \"shewhart\" in this model (its detectors: cusum, ewma)"])
        #expect(problems("    - { while: ewma, hold: ewma }\n")
                == ["m.yaml:10:7: alert.inhibit[0]: a detector cannot hold itself: while and hold share ewma"])
        #expect(problems("    - { while: ewma }\n") == ["m.yaml:10:7: alert.inhibit[0].hold: required"])
    }

    @Test func silenceRequestsSayWhatIsMissing() throws {
        let now = Self.date("2026-12-01T12:00:00Z")
        func problem(_ object: [String: Any]) -> String? {
            do { _ = try Silence.request(object, id: "s", now: now, labels: ["name", "state"]); return nil } catch { return error.description }
        }
        let good: [String: Any] = ["matchers": ["state": ["TX", "OK"]], "duration_hours": 8, "author": "j.doe", "comment": "INC-1"]
        #expect(problem(good) == nil)
        let silence = try Silence.request(good, id: "s", now: now, labels: ["state"])
        #expect(problem(["matchers": ["sate": "TX"], "duration_hours": 8, "author": "x"])
                == "matchers.sate: not a key to match on (model, measure, severity, detector, facility_id, name, state)")
        #expect(throws: SilenceError.self) { try Silence.request(good, id: "s", now: now) }   // no registry: no state label
        #expect(silence.endsAt == now.addingTimeInterval(8 * 3600) && silence.isActive(at: now.addingTimeInterval(3600)))
        #expect(!silence.isActive(at: now.addingTimeInterval(9 * 3600)))
        #expect(AlertMatcher(json: silence.matcher.json.serialized()) == silence.matcher)
        #expect(problem(["duration_hours": 8, "author": "x"])?.hasPrefix("matchers:") == true)
        #expect(problem(["matchers": ["state": 3], "duration_hours": 8, "author": "x"])?.hasPrefix("matchers.state:") == true)
        #expect(problem(["matchers": ["state": "TX"], "duration_hours": 8])?.hasPrefix("author:") == true)
        #expect(problem(["matchers": ["state": "TX"], "author": "x"])?.hasPrefix("ends_at (or duration_hours)") == true)
        #expect(problem(["matchers": ["state": "TX"], "author": "x", "ends_at": "2026-11-30T00:00:00Z"]) == "ends_at is in the past")
        #expect(problem(["matchers": ["state": "TX"], "author": "x", "ends_at": "tomorrow"])?.hasPrefix("ends_at: an ISO 8601") == true)
    }
}
