import ArgumentParser
import Foundation
import VigilCore
import VigilStats

struct ARLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "arl",
        abstract: "In-control (ARL0) and out-of-control (ARL1) average run length of a detector, or the threshold for a target ARL0.",
        discussion: """
        Keys are the detector's model-file keys. ARL1 is at the shift the detector is tuned for: the rate \
        ratio (poisson_cusum, negbin_cusum), the odds ratio (bernoulli_cusum), or --shift in σ units \
        (normal_cusum: default 2k; ewma: default 1). Examples:
          vigil arl --type negbin_cusum --ratio 1.5 --theta 2.5 --expected 3 --arl0 120
          vigil arl --type ewma --lambda 0.2 --L 2.86 --sided two
        """)

    @Option(help: "poisson_cusum | negbin_cusum | normal_cusum | ewma | bernoulli_cusum")
    var type: String

    @Option(help: "Rate ratio r to detect (poisson_cusum, negbin_cusum).")
    var ratio: Double?

    @Option(help: "NB2 size θ (negbin_cusum).")
    var theta: Double?

    @Option(name: [.customLong("odds_ratio"), .customLong("odds-ratio")], help: "Odds ratio R_A (bernoulli_cusum).")
    var oddsRatio: Double?

    @Option(help: "Reference value k (normal_cusum; default 0.5).")
    var k: Double = 0.5

    @Option(help: "Smoothing λ (ewma).")
    var lambda: Double?

    @Option(name: .customLong("L"), help: "Limit width L (ewma).")
    var limitWidth: Double?

    @Option(help: "Decision threshold (CUSUMs).")
    var h: Double?

    @Option(help: "Target in-control ARL: solve for h (CUSUMs) or L (ewma).")
    var arl0: Double?

    @Option(help: "Expected count E per period (count CUSUMs), or one patient risk p (bernoulli_cusum).")
    var expected: Double?

    @Option(help: "CSV of patient risks (column p, or the first column) for bernoulli_cusum.")
    var risks: String?

    @Option(help: "Mean shift in σ units for ARL1 (normal_cusum, ewma).")
    var shift: Double?

    @Option(help: "one | two (normal_cusum, ewma).")
    var sided: String = "one"

    @Option(help: "zero | fir | none: with fir the ARLs start from h/2 (CUSUMs).")
    var reset: ResetMode = .zero

    func validate() throws {
        guard AnyDetector.types.contains(type) else {
            throw ValidationError("--type must be one of \(AnyDetector.types.joined(separator: ", ")), got \"\(type)\"")
        }
        guard ARL.Sided(rawValue: sided) != nil else { throw ValidationError("--sided must be one or two") }
        let threshold = type == EWMA.type ? limitWidth : h
        let name = type == EWMA.type ? "--L" : "--h"
        guard (threshold == nil) != (arl0 == nil) else {
            throw ValidationError("give exactly one of \(name) and --arl0")
        }
        if let arl0, arl0 <= 1 { throw ValidationError("--arl0 must be > 1") }
        switch type {
        case PoissonCUSUM.type, NegativeBinomialCUSUM.type:
            guard let ratio, ratio > 0, ratio != 1 else { throw ValidationError("--ratio must be a number > 0 and != 1") }
            guard let expected, expected > 0 else { throw ValidationError("--expected (E per period) must be > 0") }
            if type == NegativeBinomialCUSUM.type, (theta ?? 0) <= 0 { throw ValidationError("--theta must be > 0") }
        case BernoulliCUSUM.type:
            guard let oddsRatio, oddsRatio > 0, oddsRatio != 1 else {
                throw ValidationError("--odds_ratio must be a number > 0 and != 1")
            }
            guard (expected == nil) != (risks == nil) else {
                throw ValidationError("give the patient risk mix: --expected p or --risks FILE")
            }
            if let expected, !(expected > 0 && expected < 1) { throw ValidationError("--expected must be a risk in (0, 1)") }
        case EWMA.type:
            guard let lambda, lambda > 0, lambda <= 1 else { throw ValidationError("--lambda must be in (0, 1]") }
        default: break
        }
    }

    func run() throws {
        let sidedness = ARL.Sided(rawValue: sided) ?? .one
        let headStartFactor = reset == .fir ? 0.5 : 0
        // ARL as a function of (threshold, out of control?).
        let arl: (Double, Bool) throws -> Double
        var shiftUsed: Double? = nil
        switch type {
        case PoissonCUSUM.type:
            let r = ratio!, e = expected!
            arl = { h, shifted in try ARL.poissonCUSUM(ratio: r, h: h, expected: e, shift: shifted ? r : 1, headStart: h * headStartFactor) }
        case NegativeBinomialCUSUM.type:
            let r = ratio!, e = expected!, th = theta!
            arl = { h, shifted in
                try ARL.negativeBinomialCUSUM(ratio: r, theta: th, h: h, expected: e, shift: shifted ? r : 1,
                                              headStart: h * headStartFactor)
            }
        case BernoulliCUSUM.type:
            let mix = try riskMix()
            let r = oddsRatio!
            arl = { h, shifted in
                try ARL.bernoulliCUSUM(oddsRatio: r, h: h, risks: mix, shiftOddsRatio: shifted ? r : 1,
                                       headStart: h * headStartFactor)
            }
        case NormalCUSUM.type:
            let kk = k
            let delta = shift ?? 2 * kk
            shiftUsed = delta
            arl = { h, shifted in
                try ARL.normalCUSUM(k: kk, h: h, shift: shifted ? delta : 0, sided: sidedness, headStart: h * headStartFactor)
            }
        default:   // ewma
            let l = lambda!
            let delta = shift ?? 1
            shiftUsed = delta
            arl = { L, shifted in try ARL.ewma(lambda: l, L: L, shift: shifted ? delta : 0, sided: sidedness) }
        }
        var solved: Double? = nil
        let threshold: Double
        do {
            if let target = arl0 {
                threshold = try ARL.threshold(forARL0: target, initial: type == EWMA.type ? 2 : 1) { try arl($0, false) }
                solved = threshold
            } else {
                threshold = (type == EWMA.type ? limitWidth : h)!
            }
            var fields: [(String, JSON)] = [("type", .string(type))]
            if let solved { fields.append((type == EWMA.type ? "L" : "h", .number(solved))) }
            fields.append(("arl0", .number(try arl(threshold, false))))
            fields.append(("arl1", .number(try arl(threshold, true))))
            if let shiftUsed { fields.append(("shift", .number(shiftUsed))) }
            if type == NormalCUSUM.type || type == EWMA.type { fields.append(("sided", .string(sided))) }
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
