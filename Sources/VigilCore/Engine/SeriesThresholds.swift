import Foundation
import Synchronization
import VigilStats

/// Per-series thresholds (`per_series: true`, or a model's false-alarm budget), solved at each series' own
/// expected count and kept by (model, fit, detector, E on a 2% grid, target): a network of thousands of
/// series needs a few hundred solves. Read and filled by the evaluation workers.
final class SeriesThresholds: Sendable {
    struct Key: Hashable {
        let model: Int
        let fits: Int
        let detector: Int
        /// round(50 · ln E) for counts; the risk mix's hash for Bernoulli CUSUMs.
        let level: Int
        let target: Int
    }

    private let solved = Mutex<[Key: Double?]>([:])

    /// ln E on this grid: E is solved at exp(level / 50), within 1% of the series' own.
    static func level(_ e: Double) -> Int { Int((50 * Foundation.log(e)).rounded()) }
    static func gridValue(_ level: Int) -> Double { Foundation.exp(Double(level) / 50) }

    /// The threshold of detector `d` of `model` for a series with mean expected count `expected` (or, for a
    /// Bernoulli CUSUM, baseline risks `risks`), giving in-control ARL `target`; nil when none can be solved.
    func threshold(model m: Int, _ model: ModelRuntime, detector d: Int, expected: Double?, risks: [Double],
                   target: Double) -> Double? {
        let spec = model.config.detectors[d]
        let patient = spec.kind == .bernoulliCUSUM
        let level: Int
        if patient {
            guard !risks.isEmpty else { return nil }
            level = risks.hashValue
        } else {
            guard let expected, expected > 0, expected.isFinite else { return nil }
            level = Self.level(expected)
        }
        let key = Key(model: m, fits: model.fits, detector: d, level: level, target: Self.level(target))
        if let known = solved.withLock({ $0[key] }) { return known }
        let h = try? ModelRuntime.threshold(spec, arl0: target, theta: spec.theta ?? model.expectation?.theta,
                                            baselineExpected: patient ? risks : [Self.gridValue(level)])
        solved.withLock { $0[key] = h }
        return h
    }
}
