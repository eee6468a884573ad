import ArgumentParser
import Foundation
import VigilCore
import VigilDaemon

struct SilenceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "silence",
        abstract: "Silence alerts for a while: their events are held, and delivered when the silence ends if they still fire.",
        subcommands: [Add.self, List.self, Expire.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a silence (safe while the daemon runs).")

        @Option(help: "The daemon config (its state_dir holds the silences).")
        var config: String

        @Option(name: .customLong("match"), help: "KEY=VALUE[,VALUE…]: model, measure, severity, detector, facility_id or a registry label (state, type, county, …); repeat for more conditions, all must hold.")
        var matches: [String] = []

        @Option(help: "How long: 8h, 3d, 90m.")
        var duration: String?

        @Option(help: "When it ends (ISO 8601, e.g. 2026-12-08T17:00:00Z), instead of --duration.")
        var endsAt: String?

        @Option(help: "When it starts (ISO 8601; default now).")
        var startsAt: String?

        @Option(help: "Who silences (a name or an address).")
        var author: String

        @Option(help: "Why, or the ticket.")
        var comment: String = ""

        func run() throws {
            var matchers: [String: [String]] = [:]
            for m in matches {
                guard let eq = m.firstIndex(of: "="), eq != m.startIndex else {
                    throw ValidationError("--match \(m): write KEY=VALUE, e.g. facility_id=100234 or state=TX,OK")
                }
                let values = m[m.index(after: eq)...].split(separator: ",").map(String.init)
                guard !values.isEmpty else { throw ValidationError("--match \(m): give a value") }
                matchers[String(m[..<eq]), default: []] += values
            }
            var request: [String: Any] = ["matchers": matchers, "author": author, "comment": comment]
            if let startsAt { request["starts_at"] = startsAt }
            if let endsAt { request["ends_at"] = endsAt }
            if let duration {
                guard let seconds = DigestSchedule.seconds(duration) else { throw ValidationError("--duration: such as 8h, 3d or 90m") }
                request["duration_hours"] = seconds / 3600
            }
            let now = Date()
            let silence: Silence
            let daemon = try daemonConfig(config)
            let labels = try daemon.facilities.map { try FacilityRegistry(path: $0).columns } ?? []
            do { silence = try Silence.request(request, id: Silence.newID(), now: now, labels: labels) } catch {
                throw ValidationError(error.description)
            }
            try StateStore(directory: daemon.stateDir).addSilence(silence)
            print(silence.json(at: now).serialized())
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the silences not ended (--all: every one, for the audit), one JSON object a line.")

        @Option(help: "The daemon config.")
        var config: String

        @Flag(help: "Every silence ever made, ended ones too.")
        var all = false

        func run() throws {
            let now = Date()
            for s in try daemonState(config: config).silences(all: all, now: now) { print(s.json(at: now).serialized()) }
        }
    }

    struct Expire: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "End a silence now; the running daemon releases what it held within a second.")

        @Option(help: "The daemon config.")
        var config: String

        @Option(help: "Who ends it.")
        var author: String

        @Argument(help: "The silence's id.")
        var id: String

        func run() throws {
            switch try daemonState(config: config).expireSilence(id: id, by: author) {
            case .unknown: throw ReportedFailure(message: "no silence \(id) in the state of \(config)")
            case .alreadyEnded: throw ReportedFailure(message: "silence \(id) has already ended")
            case let .expired(s): print(s.json(at: Date()).serialized())
            }
        }
    }
}
