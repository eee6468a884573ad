import Foundation
import VigilStats
import VigilThreads

/// Per-series thresholds (`per_series: true`, or a model's false-alarm budget), solved at each series' own
/// expected count and kept by (model, fit, detector, E on a 2% grid, target). Every tenth grid level is a
/// node, solved to tolerance by a search from the model's threshold; the levels between start from the threshold interpolated linearly in ln E
/// between their two nodes (monotone between them) and are checked at the threshold they get, so a level
/// costs one or two chains instead of a full search. Read and filled by the evaluation workers; what a level
/// gets depends only on its key, never on which worker came first.
final class SeriesThresholds: Sendable {
    struct Key: Hashable {
        let model: Int
        let fits: Int
        let detector: Int
        /// round(50 · ln E) for counts; the risk mix's hash for Bernoulli CUSUMs.
        let level: Int
        /// The series' typical n (proportions), 0 for counts.
        let trials: Int
        let target: Int
    }

    /// What the solving cost so far (`vigil replay --timings`).
    struct Work: Sendable {
        var levels = 0
        var nodes = 0
        var seconds = 0.0
    }

    private let solved = Locked<[Key: Double?]>([:])
    private let nodes = Locked<[Key: Double?]>([:])
    private let work = Locked(Work())

    static let levelsPerNode = 10

    /// ln E on this grid: E is solved at exp(level / 50), within 1% of the series' own.
    static func level(_ e: Double) -> Int { Int((50 * Foundation.log(e)).rounded()) }
    static func gridValue(_ level: Int) -> Double { Foundation.exp(Double(level) / 50) }

    var cost: Work { work.withLock { $0 } }

    /// The threshold of detector `d` of `model` for a series with mean expected count `expected` (proportions:
    /// out of a mean of `trials`; for a Bernoulli CUSUM, baseline risks `risks`), giving in-control ARL
    /// `target`; nil when none can be solved.
    func threshold(model m: Int, _ model: ModelRuntime, detector d: Int, expected: Double?, trials: Double? = nil,
                   risks: [Double], target: Double) -> Double? {
        let spec = model.config.detectors[d]
        let n = trials.map { max(1, Int($0.rounded())) }
        let patient = spec.watchesPatients
        let level: Int
        if patient {
            guard !risks.isEmpty else { return nil }
            level = risks.hashValue
        } else {
            guard let expected, expected > 0, expected.isFinite else { return nil }
            level = Self.level(expected)
        }
        let key = Key(model: m, fits: model.fits, detector: d, level: level, trials: n ?? 0, target: Self.level(target))
        if let known = solved.withLock({ $0[key] }) { return known }
        let counts = model.countsBuilder(trials: n.map(Double.init))
        let start = Date()
        let h: Double?
        if patient {
            h = try? model.threshold(d, arl0: target, baselineExpected: risks, counts: counts, ownE: true)
        } else {
            let below = Int((Double(level) / Double(Self.levelsPerNode)).rounded(.down)) * Self.levelsPerNode
            let modelWide = model.thresholds[d]
            let low = node(key, level: below, model, detector: d, counts: counts, target: target, from: modelWide)
            if level == below {
                h = low
            } else if let low, let high = node(key, level: below + Self.levelsPerNode, model, detector: d, counts: counts,
                                               target: target, from: modelWide) {
                let guess = low + (high - low) * Double(level - below) / Double(Self.levelsPerNode)
                h = try? model.threshold(d, arl0: target, baselineExpected: [Self.gridValue(level)], counts: counts,
                                         search: .interpolated(guess), ownE: true)
            } else {
                h = try? model.threshold(d, arl0: target, baselineExpected: [Self.gridValue(level)], counts: counts, ownE: true)
            }
        }
        // Two workers may solve the same level at once (the same answer): count it once.
        let fresh = solved.withLock { known in known.updateValue(h, forKey: key) == nil }
        let seconds = Date().timeIntervalSince(start)
        work.withLock { $0.levels += fresh ? 1 : 0; $0.seconds += seconds }
        return h
    }

    /// The threshold solved at a node level, searched outward from the model's own threshold (of this fit) —
    /// never from a neighbouring node, since what a level gets must not depend on which worker came first.
    private func node(_ key: Key, level: Int, _ model: ModelRuntime, detector d: Int, counts: ModelRuntime.CountsBuilder,
                      target: Double, from modelWide: Double?) -> Double? {
        let nodeKey = Key(model: key.model, fits: key.fits, detector: key.detector, level: level, trials: key.trials, target: key.target)
        if let known = nodes.withLock({ $0[nodeKey] }) { return known }
        let h = try? model.threshold(d, arl0: target, baselineExpected: [Self.gridValue(level)], counts: counts,
                                     search: modelWide.map { .around($0) } ?? .scratch, ownE: true)
        let fresh = nodes.withLock { known in known.updateValue(h, forKey: nodeKey) == nil }
        work.withLock { $0.nodes += fresh ? 1 : 0 }
        return h
    }
}
