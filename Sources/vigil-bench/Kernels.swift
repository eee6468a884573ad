import Foundation
import VigilStats

enum Kernels {
    /// Best-of-3 dgemm throughput on n × n matrices: 2n³ flops.
    static func dgemmGFLOPS(n: Int) -> Double {
        var random = Random(seed: 1)
        let a = Matrix(rows: n, columns: n, columnMajor: (0..<(n * n)).map { _ in random.uniform() })
        let b = Matrix(rows: n, columns: n, columnMajor: (0..<(n * n)).map { _ in random.uniform() })
        var best = Double.infinity
        for _ in 0..<3 {
            let start = Date()
            let c = LinearAlgebra.multiply(a, b)
            best = min(best, Date().timeIntervalSince(start))
            precondition(c.elements[0].isFinite)
        }
        return 2 * pow(Double(n), 3) / best / 1e9
    }

    /// vigil's XᵀWX accumulation (dsyrk of a rows × p block into p × p): rows·p·(p+1) flops per call.
    static func gramGFLOPS(rows: Int, columns p: Int) -> Double {
        var random = Random(seed: 2)
        let block = Matrix(rows: rows, columns: p, columnMajor: (0..<(rows * p)).map { _ in random.uniform() })
        var gram = Matrix(rows: p, columns: p)
        let calls = max(50, 400_000_000 / (rows * p * (p + 1)))
        var best = Double.infinity
        for _ in 0..<3 {
            let start = Date()
            for _ in 0..<calls { LinearAlgebra.accumulateGram(block, rows: rows, into: &gram) }
            best = min(best, Date().timeIntervalSince(start))
        }
        precondition(gram.elements[0].isFinite)
        return Double(calls) * Double(rows * p * (p + 1)) / best / 1e9
    }

    /// Updates per second of each detector over the panel's counts, one series after another.
    static func detectorRates(panel: NationalPanel) -> [(String, Double)] {
        let n = min(panel.count, 4_320_000)
        let observed = Array(panel.events.prefix(n))
        let expected = (0..<n).map { _ in 0.0 }.enumerated().map { i, _ in
            exp(-8 + 0.0005 * panel.beds[i]) * panel.exposure[i]
        }
        let risks = (0..<n).map { i in 0.02 + 0.2 * panel.icuShare[i] }
        func time(_ body: () -> Double) -> Double {
            var best = Double.infinity
            var sink = 0.0
            for _ in 0..<3 {
                let start = Date()
                sink += body()
                best = min(best, Date().timeIntervalSince(start))
            }
            precondition(sink.isFinite)
            return Double(n) / best
        }
        return [
            ("poisson_cusum", time {
                var d = PoissonCUSUM(ratio: 1.5, h: 4); var s = 0.0
                for i in 0..<n { s += d.update(.poisson(observed: observed[i], expected: expected[i])).statistic }
                return s
            }),
            ("negbin_cusum", time {
                var d = NegativeBinomialCUSUM(ratio: 1.5, theta: 2.5, h: 4); var s = 0.0
                for i in 0..<n { s += d.update(.poisson(observed: observed[i], expected: expected[i])).statistic }
                return s
            }),
            ("normal_cusum", time {
                var d = NormalCUSUM(k: 0.5, h: 4); var s = 0.0
                for i in 0..<n { s += d.update(.negativeBinomial(observed: observed[i], expected: expected[i], theta: 2.5)).statistic }
                return s
            }),
            ("ewma", time {
                var d = EWMA(lambda: 0.2, L: 2.8); var s = 0.0
                for i in 0..<n { s += d.update(.negativeBinomial(observed: observed[i], expected: expected[i], theta: 2.5)).statistic }
                return s
            }),
            ("bernoulli_cusum", time {
                var d = BernoulliCUSUM(oddsRatio: 2, h: 4); var s = 0.0
                for i in 0..<n { s += d.update(.patient(outcome: observed[i] > 0, risk: risks[i])).statistic }
                return s
            }),
            ("any detector (registry dispatch, negbin)", time {
                var d = AnyDetector(NegativeBinomialCUSUM(ratio: 1.5, theta: 2.5, h: 4)); var s = 0.0
                for i in 0..<n { s += d.update(.poisson(observed: observed[i], expected: expected[i])).statistic }
                return s
            }),
        ]
    }
}
