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
        (normal_cusum: default 2k; ewma: default 1). normal_cusum and ewma with --expected E [--theta θ] \
        run on z of Poisson (NB2) counts, as a detector sees them; their ARL1 is then at counts of mean \
        --ratio × E, or E + shift·√V. ewma uses the exact time-varying limits of the detector (--sided two: \
        the asymptotic limits, as spc). Examples:
          vigil arl --type negbin_cusum --ratio 1.5 --theta 2.5 --expected 3 --arl0 120
          vigil arl --type normal_cusum --k 0.5 --h 4 --expected 0.5 --ratio 2
          vigil arl --type ewma --lambda 0.2 --L 3.5 --expected 1 --theta 3.48
        """)

    @Option(help: "poisson_cusum | negbin_cusum | normal_cusum | ewma | bernoulli_cusum | binomial_cusum")
    var type: String

    @Option(help: "Rate ratio r to detect (poisson_cusum, negbin_cusum); with normal_cusum/ewma on counts, the mean ratio of ARL1.")
    var ratio: Double?

    @Option(help: "NB2 size θ (negbin_cusum; normal_cusum and ewma on NB2 counts).")
    var theta: Double?

    @Option(name: [.customLong("odds_ratio"), .customLong("odds-ratio")], help: "Odds ratio R_A (bernoulli_cusum, binomial_cusum).")
    var oddsRatio: Double?

    @Option(help: "Trials n per period (binomial_cusum: events out of n at risk --expected p).")
    var trials: Int?

    @Option(help: "Intra-class correlation ρ of beta-binomial counts (binomial_cusum; default 0, binomial).")
    var rho: Double = 0

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

    @Option(help: "Expected count E per period (count CUSUMs; normal_cusum and ewma on counts), or one risk p (bernoulli_cusum, binomial_cusum).")
    var expected: Double?

    @Option(help: "CSV of patient risks (column p, or the first column) for bernoulli_cusum.")
    var risks: String?

    @Option(help: "Mean shift in σ units for ARL1 (normal_cusum, ewma).")
    var shift: Double?

    @Option(help: "one | two (normal_cusum, ewma).")
    var sided: String = "one"

    @Option(help: "up | down: the direction a normal_cusum or ewma on counts watches.")
    var direction: Direction = .up

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
            if type == NegativeBinomialCUSUM.type, !((theta ?? 0) > 0) { throw ValidationError("--theta must be > 0") }
        case BernoulliCUSUM.type:
            guard let oddsRatio, oddsRatio > 0, oddsRatio != 1 else {
                throw ValidationError("--odds_ratio must be a number > 0 and != 1")
            }
            guard (expected == nil) != (risks == nil) else {
                throw ValidationError("give the patient risk mix: --expected p or --risks FILE")
            }
            if let expected, !(expected > 0 && expected < 1) { throw ValidationError("--expected must be a risk in (0, 1)") }
        case BinomialCUSUM.type:
            guard let oddsRatio, oddsRatio > 0, oddsRatio != 1 else {
                throw ValidationError("--odds_ratio must be a number > 0 and != 1")
            }
            guard let expected, expected > 0, expected < 1 else { throw ValidationError("--expected must be the risk p per trial, in (0, 1)") }
            guard let trials, trials >= 1 else { throw ValidationError("--trials must be a whole number >= 1") }
            guard rho >= 0, rho < 1 else { throw ValidationError("--rho must be in [0, 1)") }
        case EWMA.type:
            guard let lambda, lambda > 0, lambda <= 1 else { throw ValidationError("--lambda must be in (0, 1]") }
        default: break
        }
        if type == NormalCUSUM.type || type == EWMA.type {
            if let expected, !(expected > 0 && expected.isFinite) { throw ValidationError("--expected must be a count > 0") }
            if let theta, !(theta > 0) { throw ValidationError("--theta must be > 0") }
            if theta != nil && expected == nil { throw ValidationError("--theta needs --expected (the counts' mean)") }
            if let ratio, !(ratio > 0 && ratio.isFinite) { throw ValidationError("--ratio must be a number > 0") }
            if ratio != nil && expected == nil { throw ValidationError("--ratio needs --expected (ARL1 at counts of mean ratio × E)") }
        }
    }

    func run() throws {
        let sidedness = ARL.Sided(rawValue: sided) ?? .one
        let headStartFactor = reset == .fir ? 0.5 : 0
        // ARL as a function of (threshold, out of control?); `lattice`: the in-control chart when its
        // statistic lives on a count lattice (its solved threshold is reported mid-step).
        let arl: (Double, Bool) throws -> Double
        var lattice: ARL.LatticeCUSUM? = nil
        var shiftUsed: Double? = nil
        do {
            switch type {
            case PoissonCUSUM.type, NegativeBinomialCUSUM.type:
                let r = ratio ?? 2, e = expected ?? 1, th = type == PoissonCUSUM.type ? Double.infinity : (theta ?? 1)
                let inControl = try ARL.negativeBinomialLattice(ratio: r, theta: th, expected: e)
                let shifted = try ARL.negativeBinomialLattice(ratio: r, theta: th, expected: e, shift: r)
                lattice = inControl
                arl = { h, out in try (out ? shifted : inControl).arl(h: h, headStart: h * headStartFactor) }
            case BernoulliCUSUM.type:
                let mix = try riskMix()
                let r = oddsRatio ?? 2
                if Set(mix).count == 1 {
                    let inControl = try ARL.bernoulliLattice(oddsRatio: r, risk: mix[0])
                    let shifted = try ARL.bernoulliLattice(oddsRatio: r, risk: mix[0], shiftOddsRatio: r)
                    lattice = inControl
                    arl = { h, out in try (out ? shifted : inControl).arl(h: h, headStart: h * headStartFactor) }
                } else {
                    arl = { h, out in
                        try ARL.bernoulliCUSUM(oddsRatio: r, h: h, risks: mix, shiftOddsRatio: out ? r : 1, headStart: h * headStartFactor)
                    }
                }
            case BinomialCUSUM.type:
                let counts = try ARL.Counts(trials: trials ?? 1, risk: expected ?? 0.5, rho: rho)
                let r = oddsRatio ?? 2
                let inControl = try ARL.binomialLattice(oddsRatio: r, counts: counts)
                let shifted = try ARL.binomialLattice(oddsRatio: r, counts: counts, shiftOddsRatio: r)
                lattice = inControl
                arl = { h, out in try (out ? shifted : inControl).arl(h: h, headStart: h * headStartFactor) }
            case NormalCUSUM.type:
                let kk = k
                let delta = shift ?? 2 * kk
                if let e = expected {
                    let counts = try ARL.Counts(expected: e, theta: theta ?? .infinity)
                    let outMean = ratio.map { $0 * e } ?? max(0, e + delta * counts.variance.squareRoot())
                    if ratio == nil { shiftUsed = delta }
                    let sidedness = sidedness, direction = direction
                    if sidedness == .one { lattice = try ARL.normalCUSUMLattice(k: kk, counts: counts, mean: e, direction: direction) }
                    arl = { h, out in
                        try ARL.normalCUSUM(k: kk, h: h, counts: counts, mean: out ? outMean : e, direction: direction,
                                            sided: sidedness, headStart: h * headStartFactor)
                    }
                } else {
                    shiftUsed = delta
                    arl = { h, out in
                        try ARL.normalCUSUM(k: kk, h: h, shift: out ? delta : 0, sided: sidedness, headStart: h * headStartFactor)
                    }
                }
            default:   // ewma
                let l = lambda ?? 0.2
                let delta = shift ?? 1
                if let e = expected {
                    let counts = try ARL.Counts(expected: e, theta: theta ?? .infinity)
                    let outMean = ratio.map { $0 * e } ?? max(0, e + delta * counts.variance.squareRoot())
                    if ratio == nil { shiftUsed = delta }
                    let direction = direction
                    arl = { L, out in
                        try ARL.ewmaExact(lambda: l, L: L, input: .counts(counts, mean: out ? outMean : e, direction: direction))
                    }
                } else if sidedness == .two {
                    shiftUsed = delta
                    arl = { L, out in try ARL.ewma(lambda: l, L: L, shift: out ? delta : 0, sided: .two) }
                } else {
                    shiftUsed = delta
                    arl = { L, out in try ARL.ewmaExact(lambda: l, L: L, input: .normal(shift: out ? delta : 0)) }
                }
            }
            var solved: Double? = nil
            let threshold: Double
            if let target = arl0 {
                if let lattice {
                    threshold = try lattice.threshold(forARL0: target, headStartFraction: headStartFactor)
                } else {
                    threshold = try ARL.threshold(forARL0: target, initial: type == EWMA.type ? 2 : 1) { try arl($0, false) }
                }
                solved = threshold
            } else {
                threshold = (type == EWMA.type ? limitWidth : h) ?? 1
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
extension Direction: ExpressibleByArgument {}
