import ArgumentParser
import Foundation
import VigilThreads
import VigilCore
import VigilStats

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Run the daemon's engine over historical files, in memory; write the trace and the alerts.")

    @Option(help: "A model file or a directory of them.")
    var models: String

    @Option(name: .customLong("input"), parsing: .upToNextOption,
            help: "Record files (.csv, .ndjson, .jsonl), applied one batch per file in this order.")
    var inputs: [String]

    @Option(help: "Write the per-period trace CSV here (- for standard output).")
    var trace: String?

    @Option(help: "Write the alert events (JSON Lines) here (- for standard output).")
    var alerts: String?

    @Option(help: "Write the workbench page here (the page of GET /ui): funnel plots, the alerts firing at the end, facility views, models, rejected rows.")
    var report: String?

    @Option(help: "A column mapping (YAML) for feeds with their own column names.")
    var columns: String?

    @Option(help: "A facility registry (CSV: facility_id, name, state, type, county, other columns as labels): alerts carry facility: {…}.")
    var facilities: String?

    @Flag(help: "Exit 1 when any row was rejected.")
    var strict = false

    @Option(help: "Planted changes of simulated feeds (CSV: model, facility_id, from): print how many the alerts find, how soon, and the false alerts per 100 series-years.")
    var truth: String?

    @Flag(help: "Print how long reading, fitting and evaluating each file took (standard error).")
    var timings = false

    func run() throws {
        keepFreedMemory()
        let replay = try Replay.load(models: models, columns: columns)
        if let facilities {
            do {
                let registry = try FacilityRegistry(path: facilities)
                for problem in registry.problems { FileHandle.standardError.write(Data("\(problem.description)\n".utf8)) }
                replay.engine.facilities = registry
            } catch let error as RowError {
                throw ReportedFailure(message: error.description)
            }
        }
        if timings {
            replay.engine.timings = { step, seconds in
                FileHandle.standardError.write(Data("\(step): \(String(format: "%.2f", seconds)) s\n".utf8))
            }
        }
        let summary: Replay.Summary
        do {
            summary = try replay.run(inputs: inputs, trace: trace) { error in
                FileHandle.standardError.write(Data("\(error.description)\n".utf8))
            }
        } catch let error as RowError {
            throw ReportedFailure(message: error.description)
        }
        if let report {
            let writer = try LineWriter(path: report)
            writer.write(Workbench.replayPage(replay: replay, summary: summary, inputs: inputs))
            try writer.close()
        }
        if let alerts {
            let writer = try LineWriter(path: alerts)
            // The alerts' lines made on all cores, 1,024 to a buffer, a window at a time, each window written in
            // order while the next is made.
            let events = summary.events, window = 65_536
            Parallel.pipeline(windows: (events.count + window - 1) / window, make: { w in
                Parallel.map(Array(stride(from: w * window, to: min(events.count, (w + 1) * window), by: 1024))) { first in
                    var text: [UInt8] = []
                    text.reserveCapacity(1024 * 640)
                    for i in first..<min(events.count, first + 1024) {
                        events[i].json.write(to: &text)
                        text.append(0x0A)
                    }
                    return text
                }
            }, consume: { _, texts in
                for text in texts { writer.write(bytes: text) }
            })
            try writer.close()
        }
        if timings, let peak = Self.peakMemory() { FileHandle.standardError.write(Data("peak resident memory: \(peak)\n".utf8)) }
        var firing = 0, stale = 0, resolved = 0
        for i in summary.events.indices {
            switch summary.events[i].status {
            case .firing: firing += 1
            case .stale: stale += 1
            case .resolved: resolved += 1
            }
        }
        var lines = ["replayed \(summary.files) file\(summary.files == 1 ? "" : "s"): \(summary.accepted) records accepted, "
            + "\(summary.rejected.count) rejected, \(summary.suppressed) suppressed, \(summary.unmatched) for measures no model watches"]
        lines.append("alerts: \(firing) raised, \(resolved) resolved, \(replay.engine.firingCount) firing at the end"
                     + (stale == 0 ? "" : " (\(stale) stale-feed alert\(stale == 1 ? "" : "s") raised)"))
        if trace != nil { lines.append("trace: \(summary.traceRows) rows") }
        if let truth {
            let planted: [TruthScore.Planted]
            do { planted = try TruthScore.load(path: truth) } catch { throw ReportedFailure(message: "\(error)") }
            lines.append(TruthScore(planted: planted, events: summary.events, engine: replay.engine).summary)
        }
        for problem in summary.modelProblems { lines.append("warning: \(problem)") }
        let out = trace == "-" || alerts == "-" ? FileHandle.standardError : FileHandle.standardOutput
        out.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        if strict && !summary.rejected.isEmpty {
            throw ReportedFailure(message: "\(summary.rejected.count) rows rejected (--strict)")
        }
        exitWithoutFreeing()
    }
}

extension ReplayCommand {
    /// The process's peak resident set (Linux `VmHWM`), e.g. "297 MiB".
    static func peakMemory() -> String? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kB = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) else { return nil }
        return "\(Int((kB / 1024).rounded())) MiB"
    }
}

extension Replay {
    /// The models and column mapping named on the command line, their problems as one failure.
    static func load(models: String, columns: String?) throws -> Replay {
        do {
            return Replay(models: try ModelConfigParser.load(path: models),
                          mapping: try columns.map(ColumnMappingParser.load(path:)) ?? ColumnMapping())
        } catch let error as ConfigErrors {
            throw ReportedFailure(message: error.description)
        }
    }
}
