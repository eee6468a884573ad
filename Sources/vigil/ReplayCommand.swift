import ArgumentParser
import Foundation
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

    @Option(help: "Write an HTML report here: models, alerts firing at the end, charts of their series, rejected rows.")
    var report: String?

    @Option(help: "A column mapping (YAML) for feeds with their own column names.")
    var columns: String?

    @Flag(help: "Exit 1 when any row was rejected.")
    var strict = false

    @Option(help: "Planted changes of simulated feeds (CSV: model, facility_id, from): print how many the alerts find, how soon, and the false alerts per 100 series-years.")
    var truth: String?

    @Flag(help: "Print how long reading, fitting and evaluating each file took (standard error).")
    var timings = false

    func run() throws {
        let replay = try Replay.load(models: models, columns: columns)
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
            writer.write(ReplayReport.html(replay: replay, summary: summary, inputs: inputs))
            try writer.close()
        }
        if let alerts {
            let writer = try LineWriter(path: alerts)
            // The alerts' objects and lines made on all cores, a window at a time (memory holds one), written in order.
            let events = summary.events
            for start in stride(from: 0, to: events.count, by: 65_536) {
                let window = Array(events[start..<min(events.count, start + 65_536)])
                let lines = Parallel.map(count: window.count, chunk: 1024) { i -> [UInt8] in
                    var line = window[i].json.serializedBytes()
                    line.append(0x0A)
                    return line
                }
                for line in lines { writer.write(bytes: line) }
            }
            try writer.close()
        }
        if timings, let peak = Self.peakMemory() { FileHandle.standardError.write(Data("peak resident memory: \(peak)\n".utf8)) }
        let firing = summary.events.filter { $0.status == .firing }.count
        let resolved = summary.events.count - firing
        var lines = ["replayed \(summary.files) file\(summary.files == 1 ? "" : "s"): \(summary.accepted) records accepted, "
            + "\(summary.rejected.count) rejected, \(summary.suppressed) suppressed, \(summary.unmatched) for measures no model watches"]
        lines.append("alerts: \(firing) raised, \(resolved) resolved, \(replay.engine.firingAlerts.count) firing at the end")
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

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check the daemon config or model files; print file:line:col: message per problem; exit 0 when clean, 1 otherwise.",
        discussion: """
            With --input, each model's baseline is also fitted on those records (as the daemon would) and its \
            status printed: fitted, fitted with warnings (each warning), or unfitted and why; exit 1 when any \
            model is unfitted.
            """)

    @Option(help: "The daemon config: checked with the models and column mapping it names.")
    var config: String?

    @Option(help: "A column mapping file to check (and to read --input with).")
    var columns: String?

    @Option(name: .customLong("input"), parsing: .upToNextOption,
            help: "Record files: fit every model's baseline on them and print each model's status.")
    var inputs: [String] = []

    @Argument(help: "Model files or directories of them.")
    var paths: [String] = []

    func validate() throws {
        if config == nil && paths.isEmpty && columns == nil { throw ValidationError("give --config FILE, model files or --columns FILE") }
    }

    func run() throws {
        var problems: [ConfigProblem] = []
        var models: [ModelConfig] = []
        var modelPaths = paths
        var mapping = ColumnMapping()
        var daemon: DaemonConfig? = nil
        if let config {
            do {
                let loaded = try DaemonConfigParser.load(path: config)
                daemon = loaded
                modelPaths.append(loaded.models)
                if let columns = loaded.columns { mapping = try ColumnMappingParser.load(path: columns) }
            } catch let error as ConfigErrors {
                problems += error.problems
            }
        }
        if let columns {
            do {
                mapping = try ColumnMappingParser.load(path: columns)
            } catch let error as ConfigErrors {
                problems += error.problems
            }
        }
        for path in modelPaths {
            do {
                models += try ModelConfigParser.load(path: path)
            } catch let error as ConfigErrors {
                problems += error.problems
            }
        }
        if let daemon { problems += daemon.unknownSinks(in: models) }
        guard problems.isEmpty else {
            FileHandle.standardError.write(Data((problems.map(\.description).joined(separator: "\n") + "\n").utf8))
            throw ExitCode.failure
        }
        print((config == nil ? "" : "config valid; ") + (columns == nil ? "" : "column mapping valid; ")
              + "\(models.count) model\(models.count == 1 ? "" : "s") valid")
        guard !inputs.isEmpty else { return }
        try fitBaselines(Replay(models: models, mapping: mapping))
    }

    /// Applies the inputs as replay does and prints each model's status; exit 1 when one is unfitted.
    private func fitBaselines(_ replay: Replay) throws {
        var rejected = 0
        let summary: Replay.Summary
        do {
            summary = try replay.run(inputs: inputs) { error in
                rejected += error.suppressed ? 0 : 1
                if !error.suppressed && rejected <= 20 { FileHandle.standardError.write(Data("\(error.description)\n".utf8)) }
            }
        } catch let error as RowError {
            throw ReportedFailure(message: error.description)
        }
        print("records: \(summary.accepted) accepted, \(summary.rejected.count) rejected, \(summary.suppressed) suppressed, "
              + "\(summary.unmatched) for measures no model watches")
        var unfitted = 0
        for model in replay.engine.models {
            var line = "model \(model.config.name): \(model.status.name.replacingOccurrences(of: "_", with: " "))"
            if let fit = model.fit {
                line += " (\(fit.baselineRows) baseline rows, \(RNumberFormat.format([fit.baselineEvents], digits: 7)[0]) events"
                    + (fit.theta.map { ", θ \(RNumberFormat.format([$0], digits: 5)[0])" } ?? "")
                    + (fit.rho.map { ", ρ \(RNumberFormat.format([$0], digits: 5)[0])" } ?? "") + ")"
            }
            print(line)
            switch model.status {
            case .fitted: break
            case let .fittedWithWarnings(warnings): for w in warnings { print("  warning: \(w)") }
            case let .unfitted(reason): unfitted += 1; print("  \(reason)")
            }
        }
        if unfitted > 0 { throw ExitCode.failure }
    }
}

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Solve every arl0: detector's threshold and print it.",
        discussion: """
            Thresholds are solved on the data the detectors see, at arl_expected or the median expected count of \
            the baseline (normal CUSUM and EWMA without either: on N(0, 1)); the Bernoulli CUSUM over the risk mix \
            of the baseline patients: give the baseline records with --input. A model with \
            alert.false_alarms_per_year also prints N (series with baseline rows), the ARL0 A each series gets, and \
            each detector's ARL1 at its design shift at the median E; per-series thresholds are in the trace.
            """)

    @Option(help: "A model file or a directory of them.")
    var models: String

    @Option(name: .customLong("input"), parsing: .upToNextOption, help: "Record files holding the baseline.")
    var inputs: [String] = []

    @Option(help: "A column mapping (YAML) for feeds with their own column names.")
    var columns: String?

    func run() throws {
        let replay = try Replay.load(models: models, columns: columns)
        _ = try replay.run(inputs: inputs)
        var failed: [String] = []
        print("model\tdetector\ttype\tarl0\tthreshold")
        var budgets: [String] = []
        for model in replay.engine.models {
            let budget = model.config.alert.falseAlarmsPerYear
            if let budget {
                var line = "model \(model.config.name): budget \(budget) false alarms a year; N \(model.seriesWithBaseline) series with "
                    + "baseline rows, D \(model.config.detectors.count) detectors"
                if let a = model.budgetARL {
                    line += model.config.isPatientLevel ? "; A = \(Alert.short(a)) × a series' baseline patients a year"
                                                        : "; each series ARL0 A = \(Alert.short(a)) \(model.config.unit.rawValue)s"
                }
                budgets.append(line)
            }
            for (d, (spec, threshold)) in zip(model.config.detectors, model.thresholds).enumerated() where spec.arl0 != nil || budget != nil {
                if let threshold {
                    let target = spec.arl0 ?? model.budgetARL ?? 0
                    print("\(model.config.name)\t\(spec.id)\t\(spec.typeName)\t\(Alert.short(target))\t\(spec.thresholdKey): \(threshold)"
                        + (spec.perSeries ? " (model-wide; each series solves its own)" : ""))
                    if budget != nil, let e = model.medianExpected, let arl1 = model.designARL1(detector: d, threshold: threshold, expected: e) {
                        budgets.append("  \(spec.id): ARL1 \(Alert.short(arl1)) at its design shift, at the median E \(Alert.short(e))")
                    }
                } else if !spec.perSeries {
                    failed.append(model.problem ?? "model \(model.config.name), detector \(spec.id): not calibrated")
                }
            }
        }
        for line in budgets { print(line) }
        if !failed.isEmpty { throw ReportedFailure(message: failed.joined(separator: "\n")) }
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
