import ArgumentParser
import Foundation
import VigilCore
import VigilStats

struct ARLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "arl",
        abstract: "In-control (ARL0) and out-of-control (ARL1) average run length of a detector, or the threshold for a target ARL0.",
        discussion: """
        Keys are the detector's model-file keys, as --key value. ARL1 is at the shift the detector is tuned \
        for: the rate ratio (poisson_cusum, negbin_cusum), the odds ratio (bernoulli_cusum, binomial_cusum), \
        or --shift in σ units (normal_cusum: default 2k; ewma: default 1). normal_cusum and ewma with \
        --expected E [--theta θ] run on z of Poisson (NB2) counts, as a detector sees them; their ARL1 is then \
        at counts of mean --ratio × E, or E ± shift·√V in the watched direction. ewma uses the exact \
        time-varying limits of the detector (--sided two: the asymptotic limits, as spc). Examples:
          vigil arl --type negbin_cusum --ratio 1.5 --theta 2.5 --expected 3 --arl0 120
          vigil arl --type normal_cusum --k 0.5 --h 4 --expected 0.5 --ratio 2
          vigil arl --type ewma --lambda 0.2 --L 3.5 --expected 1 --theta 3.48
        Keys by type:
        \(Detectors.all.map { type in
            "  \(type.type): " + (type.definition.parameters.map { "--\($0.key) (\($0.meaning))" }
                + [type.definition.thresholdKey.map { "--\($0) or --arl0" } ?? "no threshold"]).joined(separator: ", ")
        }.joined(separator: "\n"))
        """)

    @Option(help: "The detector type: \(Detectors.types.joined(separator: " | ")).")
    var type: String

    @Option(help: "Rate ratio r to detect (poisson_cusum, negbin_cusum); with normal_cusum/ewma on counts, the mean ratio of ARL1.")
    var ratio: Double?

    @Option(help: "NB2 size θ (negbin_cusum; normal_cusum and ewma on NB2 counts).")
    var theta: Double?

    @Option(help: "Trials n per period (detectors on events out of n at risk --expected p).")
    var trials: Int?

    @Option(help: "Intra-class correlation ρ of beta-binomial counts (with --trials; default 0, binomial).")
    var rho: Double = 0

    @Option(help: "Target in-control ARL: solve for the threshold (h, or L for ewma).")
    var arl0: Double?

    @Option(help: "Expected count E per period (count detectors; charts on z of counts), or one risk p (patients; with --trials, per trial).")
    var expected: Double?

    @Option(help: "CSV of patient risks (column p, or the first column) for detectors on patients.")
    var risks: String?

    @Option(help: "Mean shift in σ units for ARL1 (normal_cusum, ewma).")
    var shift: Double?

    @Option(help: "one | two (normal_cusum, ewma).")
    var sided: String = "one"

    @Option(help: "up | down: the direction a normal_cusum or ewma watches.")
    var direction: Direction = .up

    @Option(help: "zero | fir | none: with fir the ARLs start from h/2 (CUSUMs).")
    var reset: ResetMode = .zero

    @Argument(parsing: .allUnrecognized, help: "The detector's other keys and its threshold, as --key value (--h, --L, --k, --lambda, --odds_ratio, --level).")
    var keys: [String] = []

    /// The detector type, its keys with their defaults, and its threshold when given.
    private func detector() throws -> (type: any Detector.Type, parameters: DetectorParameters, threshold: Double?) {
        guard let type = Detectors.named(self.type) else {
            throw ValidationError("--type must be one of \(Detectors.types.joined(separator: ", ")), got \"\(self.type)\"")
        }
        let definition = type.definition
        var given: [String: Double] = [:]
        if let ratio, definition.parameter("ratio") != nil { given["ratio"] = ratio }
        if let theta, definition.parameter("theta") != nil { given["theta"] = theta }
        var i = 0
        while i < keys.count {
            let flag = keys[i]
            let key = String(flag.drop { $0 == "-" }).replacingOccurrences(of: "-", with: "_")
            guard flag.hasPrefix("--"), key == definition.thresholdKey || definition.parameter(key) != nil else {
                let known = definition.parameters.map { "--\($0.key)" } + (definition.thresholdKey.map { ["--\($0)"] } ?? [])
                throw ValidationError("\(flag) is not a key of \(self.type) (its keys: \(known.joined(separator: ", ")))")
            }
            guard i + 1 < keys.count, let x = Double(keys[i + 1]) else { throw ValidationError("\(flag) needs a number") }
            given[key] = x
            i += 2
        }
        var parameters = DetectorParameters(direction: direction, reset: reset)
        for parameter in definition.parameters {
            if let x = given[parameter.key] {
                guard parameter.range.contains(x) else { throw ValidationError("--\(parameter.key) \(parameter.rangeMessage)") }
                parameters[parameter.key] = x
            } else if case let .defaultValue(x) = parameter.absent {
                parameters[parameter.key] = x
            } else {
                throw ValidationError("missing --\(parameter.key) (\(parameter.meaning))")
            }
        }
        let threshold = definition.thresholdKey.flatMap { given[$0] }
        if let threshold, !(threshold > 0 && threshold.isFinite) { throw ValidationError("the threshold must be a number > 0") }
        return (type, parameters, threshold)
    }

    func validate() throws {
        let (type, _, threshold) = try detector()
        let definition = type.definition
        guard ARL.Sided(rawValue: sided) != nil else { throw ValidationError("--sided must be one or two") }
        guard let key = definition.thresholdKey else { throw ValidationError("\(self.type) has no threshold and no ARL") }
        guard (threshold == nil) != (arl0 == nil) else { throw ValidationError("give exactly one of --\(key) and --arl0") }
        if let arl0, arl0 <= 1 { throw ValidationError("--arl0 must be > 1") }
        if definition.watches.contains(.patients) {
            guard (expected == nil) != (risks == nil) else { throw ValidationError("give the patient risk mix: --expected p or --risks FILE") }
            if let expected, !(expected > 0 && expected < 1) { throw ValidationError("--expected must be a risk in (0, 1)") }
        } else if definition.watches == [.proportions] {
            guard let expected, expected > 0, expected < 1 else { throw ValidationError("--expected must be the risk p per trial, in (0, 1)") }
            guard let trials, trials >= 1 else { throw ValidationError("--trials must be a whole number >= 1") }
            guard rho >= 0, rho < 1 else { throw ValidationError("--rho must be in [0, 1)") }
        } else {
            if !definition.standardNormalARL && expected == nil { throw ValidationError("--expected (E per period) must be given") }
            if let expected, !(expected > 0 && expected.isFinite) { throw ValidationError("--expected must be a count > 0") }
            if let theta, !(theta > 0) { throw ValidationError("--theta must be > 0") }
            if definition.parameter("theta") == nil && theta != nil && expected == nil {
                throw ValidationError("--theta needs --expected (the counts' mean)")
            }
            if definition.parameter("ratio") == nil, let ratio {
                if !(ratio > 0 && ratio.isFinite) { throw ValidationError("--ratio must be a number > 0") }
                if expected == nil { throw ValidationError("--ratio needs --expected (ARL1 at counts of mean ratio × E)") }
            }
        }
    }

    func run() throws {
        let (type, parameters, given) = try detector()
        let definition = type.definition
        do {
            let data: ARLData
            if definition.watches.contains(.patients) {
                data = .risks(try riskMix())
            } else if let trials, definition.watches == [.proportions] {
                data = .counts(try ARL.Counts(trials: trials, risk: expected ?? 0.5, rho: rho))
            } else if let expected {
                data = .counts(try ARL.Counts(expected: expected, theta: theta ?? .infinity))
            } else {
                data = .standardNormal
            }
            var shift = ARLShift.designed
            if let ratio, definition.parameter("ratio") == nil { shift = .meanRatio(ratio) } else if let d = self.shift { shift = .sigma(d) }
            let lengths = try type.runLengths(parameters, on: data, shift: shift, sided: ARL.Sided(rawValue: sided) ?? .one)
            var fields: [(String, JSON)] = [("type", .string(self.type))]
            let threshold: Double
            if let target = arl0 {
                // One solve, printed: to 1e-6 even where calibration settles for less.
                threshold = try lengths.threshold(forARL0: target, tolerance: 1e-6)
                fields.append((definition.thresholdKey ?? "h", .number(threshold)))
            } else {
                threshold = given ?? 1
            }
            fields.append(("arl0", .number(try lengths.arl(threshold, false))))
            fields.append(("arl1", .number(try lengths.arl(threshold, true))))
            if let s = lengths.shiftInSigma { fields.append(("shift", .number(s))) }
            if definition.hasDirection { fields.append(("sided", .string(sided))) }
            print(JSON.object(fields).serialized())
        } catch let failure as ARL.Failure {
            throw ReportedFailure(message: failure.description)
        }
    }

    private func riskMix() throws -> [Double] {
        if let expected { return [expected] }
        guard let risks else { return [] }
        let table: CSVTable
        do { table = try CSVTable(path: risks) } catch {
            throw ReportedFailure(message: "\(error)")
        }
        let column = table.column("p") ?? table.columns.first ?? []
        let name = table.header.contains("p") ? "p" : (table.header.first ?? "p")
        var values: [Double] = []
        var problems: [String] = []
        for (i, text) in column.enumerated() {
            if let v = Double(text.trimmingCharacters(in: .whitespaces)), v > 0, v < 1 { values.append(v) }
            else if problems.count < 20 { problems.append("\(risks):\(table.lines[i]): \(name): \"\(text)\" is not a risk in (0, 1)") }
        }
        guard problems.isEmpty else { throw ReportedFailure(message: problems.joined(separator: "\n")) }
        guard !values.isEmpty else { throw ReportedFailure(message: "\(risks): no risks (the file has no rows)") }
        return values
    }
}

extension ResetMode: ExpressibleByArgument {}
extension Direction: ExpressibleByArgument {}
