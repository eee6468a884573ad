import ArgumentParser
import Foundation
import VigilCore
import VigilDaemon
import VigilStats

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
        keepFreedMemory()
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
                // The daemon skips a bad registry row with a warning; here it is a problem to fix.
                if let registry = try? loaded.facilities.map(FacilityRegistry.init(path:)) {
                    problems += registry.problems.map {
                        ConfigProblem(file: $0.source, line: $0.line, column: 1, message: ($0.field.map { "\($0): " } ?? "") + $0.reason)
                    }
                }
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
