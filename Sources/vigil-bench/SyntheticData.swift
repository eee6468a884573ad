import Foundation
import VigilStats

/// Seeded generator (SplitMix64) and the samplers the synthetic national panel needs.
struct Random {
    private var generator: SplitMix64
    init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    mutating func next() -> UInt64 { generator.next() }

    mutating func uniform() -> Double { (Double(next() >> 11) + 0.5) / Double(1 << 53) }

    mutating func normal() -> Double {
        (-2 * log(uniform())).squareRoot() * cos(2 * .pi * uniform())
    }

    mutating func bernoulli(_ p: Double) -> Bool { uniform() < p }

    /// Marsaglia & Tsang (2000), shape ≥ 1 (boosted for shape < 1).
    mutating func gamma(shape: Double, scale: Double) -> Double {
        if shape < 1 { return gamma(shape: shape + 1, scale: scale) * pow(uniform(), 1 / shape) }
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            var x: Double, v: Double
            repeat { x = normal(); v = 1 + c * x } while v <= 0
            v = v * v * v
            let u = uniform()
            if log(u) < 0.5 * x * x + d - d * v + d * log(v) { return d * v * scale }
        }
    }

    /// Poisson by inversion (means here are small).
    mutating func poisson(_ mean: Double) -> Int {
        if mean > 500 { return max(0, Int((mean + mean.squareRoot() * normal()).rounded())) }
        var k = 0
        var p = exp(-mean)
        var cumulative = p
        let u = uniform()
        while u > cumulative && k < 10_000 {
            k += 1
            p *= mean / Double(k)
            cumulative += p
        }
        return k
    }

    /// NB2 as a gamma–Poisson mixture: mean μ, variance μ + μ²/θ.
    mutating func negativeBinomial(mean: Double, theta: Double) -> Int {
        poisson(gamma(shape: theta, scale: mean / theta))
    }
}

/// A national panel like the real one: facilities × measures × months of device-day exposures and
/// NB2 counts, with facility covariates (bed count, teaching, ICU share, 3-level size class).
struct NationalPanel {
    static let measures = ["CAUTI", "CDI", "CLABSI", "MRSA", "SSI", "VAE"]
    static let measureEffect: [Double] = [-7.9, -9.3, -7.3, -10.4, -8.6, -8.1]
    static let theta = 2.5

    var facility: [Int32] = []
    var measure: [Int32] = []
    var month: [Int32] = []
    var beds: [Double] = []
    var teaching: [Double] = []
    var icuShare: [Double] = []
    var size: [Int32] = []          // 0 large, 1 medium, 2 small (byte order of the level names)
    var exposure: [Double] = []
    var events: [Double] = []
    static let sizeLevels = ["large", "medium", "small"]

    var count: Int { events.count }

    init(facilities: Int, months: Int, seed: UInt64) {
        var random = Random(seed: seed)
        let n = facilities * Self.measures.count * months
        facility.reserveCapacity(n); measure.reserveCapacity(n); month.reserveCapacity(n)
        beds.reserveCapacity(n); teaching.reserveCapacity(n); icuShare.reserveCapacity(n)
        size.reserveCapacity(n); exposure.reserveCapacity(n); events.reserveCapacity(n)
        for f in 0..<facilities {
            let b = Double(25 + Int(random.uniform() * 875))
            let t = random.bernoulli(0.3) ? 1.0 : 0.0
            let icu = (random.uniform() * 0.35 * 10_000).rounded() / 10_000
            let s: Int32 = b >= 300 ? 0 : (b >= 100 ? 1 : 2)
            let facilityEffect = 0.25 * random.normal()
            for (m, base) in Self.measureEffect.enumerated() {
                for month in 0..<months {
                    let days = max(1, (b * (0.15 + 0.1 * random.uniform()) * 30).rounded())
                    let eta = base + 0.0005 * b + 0.2 * t + 1.2 * icu + [0.25, 0.1, 0][Int(s)] + facilityEffect
                        + 0.03 * sin(2 * .pi * Double(month) / 12) + log(days)
                    facility.append(Int32(f)); measure.append(Int32(m)); self.month.append(Int32(month))
                    beds.append(b); teaching.append(t); icuShare.append(icu); size.append(s)
                    exposure.append(days)
                    events.append(Double(random.negativeBinomial(mean: exp(eta), theta: Self.theta)))
                }
            }
        }
    }

    /// Row indices of one measure's first `months` months.
    func baseline(measure m: Int, months: Int) -> [Int] {
        (0..<count).filter { measure[$0] == Int32(m) && month[$0] < Int32(months) }
    }

    func problem(rows: [Int]?, withMeasure: Bool) throws -> GLMProblem {
        let idx = rows ?? Array(0..<count)
        func pick<T>(_ a: [T]) -> [T] { rows == nil ? a : idx.map { a[$0] } }
        var covariates: [DesignMatrix.Covariate] = [
            .numeric(name: "beds", values: pick(beds)),
            .numeric(name: "teaching", values: pick(teaching)),
            .numeric(name: "icu_share", values: pick(icuShare)),
            .categorical(name: "size", values: pick(size).map { Self.sizeLevels[Int($0)] }, reference: nil),
        ]
        if withMeasure {
            covariates.append(.categorical(name: "measure", values: pick(measure).map { Self.measures[Int($0)] },
                                           reference: nil))
        }
        let design = try DesignMatrix(rowCount: idx.count, covariates: covariates)
        return GLMProblem(response: pick(events), offset: pick(exposure).map { log($0) }, design: design)
    }

    /// The panel's rows (or those listed) as a CSV file.
    func writeCSV(to path: String, rows: [Int]? = nil) throws {
        var out = "facility_id,measure,month,beds,teaching,icu_share,size,exposure,events\n"
        out.reserveCapacity((rows?.count ?? count) * 48)
        for i in rows ?? Array(0..<count) {
            out += "F\(facility[i]),\(Self.measures[Int(measure[i])]),\(month[i] + 1),\(Int(beds[i])),\(Int(teaching[i])),"
            out += "\(icuShare[i]),\(Self.sizeLevels[Int(size[i])]),\(Int(exposure[i])),\(Int(events[i]))\n"
        }
        try out.write(toFile: path, atomically: false, encoding: .utf8)
    }
}

/// Patient-level admissions with 30 risk factors (numeric and binary) and a logistic outcome.
struct Admissions {
    var columns: [[Double]] = []
    var outcome: [Double] = []
    static let covariateCount = 30

    init(count n: Int, seed: UInt64) {
        var random = Random(seed: seed)
        columns = Array(repeating: [], count: Self.covariateCount)
        for j in 0..<Self.covariateCount { columns[j].reserveCapacity(n) }
        outcome.reserveCapacity(n)
        var x = [Double](repeating: 0, count: Self.covariateCount)
        for _ in 0..<n {
            var eta = -3.2
            for j in 0..<Self.covariateCount {
                x[j] = j % 3 == 0 ? (random.bernoulli(0.25) ? 1 : 0) : (random.normal() * 100).rounded() / 100
                eta += (j % 2 == 0 ? 0.15 : -0.1) * x[j] / Double(1 + j / 10)
                columns[j].append(x[j])
            }
            outcome.append(random.uniform() < 1 / (1 + exp(-eta)) ? 1 : 0)
        }
    }

    func problem(covariates k: Int) throws -> GLMProblem {
        let design = try DesignMatrix(rowCount: outcome.count, covariates: (0..<k).map {
            .numeric(name: "x\($0 + 1)", values: columns[$0])
        })
        return GLMProblem(response: outcome, design: design)
    }

    /// The admissions with their first `covariates` risk factors as a CSV file.
    func writeCSV(to path: String, covariates: Int = Admissions.covariateCount) throws {
        let k = min(covariates, Self.covariateCount)
        var out = (1...k).map { "x\($0)" }.joined(separator: ",") + ",outcome\n"
        for i in 0..<outcome.count {
            for j in 0..<k { out += "\(columns[j][i])," }
            out += "\(Int(outcome[i]))\n"
        }
        try out.write(toFile: path, atomically: false, encoding: .utf8)
    }
}
