import ArgumentParser
import Foundation
import VigilCore
import VigilStats

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
        keepFreedMemory()
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
