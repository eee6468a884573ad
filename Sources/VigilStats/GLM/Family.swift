import CKernels
import Foundation

/// An exponential-family distribution with its link, as statsmodels' `Family` and R's `family` objects:
/// everything IRLS needs and nothing else.
public protocol Family: Sendable {
    /// Name as R prints it ("poisson", "binomial", "Negative Binomial(2.31)").
    var name: String { get }
    var link: Link { get }
    /// Link, variance function and θ as IRLS's row kernel takes them (`vigil_family`).
    var kernel: vigil_family { get }
    /// Unit deviance d(y, μ); the deviance is Σ d.
    func unitDeviance(_ y: Double, _ mu: Double) -> Double
    /// Starting mean (R's `family$initialize`).
    func initialMean(_ y: Double) -> Double
    /// Log density of one observation.
    func logLikelihood(_ y: Double, _ mu: Double) -> Double
    /// Starting mean of a row with prior weight w (R's `family$initialize` with `weights`).
    func initialMean(_ y: Double, weight: Double) -> Double
    /// Log density of a row with prior weight w (what R's `family$aic` sums).
    func logLikelihood(_ y: Double, _ mu: Double, weight: Double) -> Double
    /// Adds a row's prior·d(y, μ) to `sum`.
    func addDeviance(_ y: Double, _ mu: Double, prior: Double, to sum: inout DevianceSum)
    /// Adds `count` rows' prior·d(y, μ) to `sum` (prior nil: weight 1); `scratch` holds `count` doubles for the
    /// family's use.
    func addDeviances(_ y: UnsafePointer<Double>, _ mu: UnsafePointer<Double>, prior: UnsafePointer<Double>?, count: Int,
                      scratch: UnsafeMutablePointer<Double>, to sum: inout DevianceSum)
    /// The deviance `sum` holds: its terms and, for a family that puts logarithms into its slots, those weighed.
    func deviance(_ sum: DevianceSum) -> Double
}

extension Family {
    /// V(μ), by the kernel's formula.
    @inline(__always) public func variance(_ mu: Double) -> Double { vigil_family_variance(kernel, mu) }
    /// Whether μ is in the family's range, by the kernel's rule.
    @inline(__always) public func isValidMean(_ mu: Double) -> Bool { vigil_family_valid_mean(kernel, mu) }
    public func initialMean(_ y: Double, weight: Double) -> Double { initialMean(y) }
    public func logLikelihood(_ y: Double, _ mu: Double, weight: Double) -> Double { weight * logLikelihood(y, mu) }
    @inline(__always) public func addDeviance(_ y: Double, _ mu: Double, prior: Double, to sum: inout DevianceSum) {
        sum.terms += prior * unitDeviance(y, mu)
    }
    public func deviance(_ sum: DevianceSum) -> Double { sum.terms }
    public func addDeviances(_ y: UnsafePointer<Double>, _ mu: UnsafePointer<Double>, prior: UnsafePointer<Double>?, count: Int,
                             scratch: UnsafeMutablePointer<Double>, to sum: inout DevianceSum) {
        for i in 0..<count { addDeviance(y[i], mu[i], prior: prior?[i] ?? 1, to: &sum) }
    }
}

/// A deviance summed over rows. Most unit deviances are a count's multiple of a logarithm (−2 ln μ for a 0/1
/// outcome; for a count k, 2k·ln(k/μ) and the like): a family puts such logarithms' arguments into the slot of
/// their multiple, which takes one logarithm for them all, and weighs the slots in `Family.deviance(_:)`; other
/// rows' unit deviances are added to `terms` as they are.
public struct DevianceSum: Sendable {
    public var terms = 0.0
    public var logs = InlineArray<64, LogSum>(repeating: LogSum())

    public init() {}

    public static func += (sum: inout DevianceSum, other: DevianceSum) {
        sum.terms += other.terms
        for k in other.logs.indices where !other.logs[k].isEmpty { sum.logs[k] += other.logs[k] }
    }

    /// The slot count y of prior weight 1 goes with when y is a whole number below `limit`; nil otherwise (the row's
    /// unit deviance then goes to `terms`).
    @inline(__always) static func slot(_ y: Double, prior: Double, below limit: Int) -> Int? {
        guard prior == 1, y >= 0, y < Double(limit) else { return nil }
        return Int(exactly: y)
    }

    /// Σ over slots k of weight(k)·(Σ ln of slot k's arguments), slots with nothing in them left out.
    public func weighed(_ weight: (Int) -> Double) -> Double {
        var total = terms
        for k in logs.indices where !logs[k].isEmpty { total += weight(k) * logs[k].value }
        return total
    }
}

@inline(__always) func yLogY(_ y: Double, _ mu: Double) -> Double {
    y > 0 ? y * Foundation.log(y / mu) : 0
}

public struct PoissonFamily: Family {
    public init() {}
    public var name: String { "poisson" }
    public var link: Link { .log }
    public var kernel: vigil_family { vigil_family(link: VIGIL_LINK_LOG, variance: VIGIL_VARIANCE_POISSON, theta: 0) }
    @inline(__always) public func unitDeviance(_ y: Double, _ mu: Double) -> Double {
        2 * (yLogY(y, mu) - (y - mu))
    }
    public func initialMean(_ y: Double) -> Double { y + 0.1 }
    /// A count k below 64 has unit deviance 2k·ln(k/μ) − 2(k − μ): slot k holds k/μ.
    @inline(__always) public func addDeviance(_ y: Double, _ mu: Double, prior: Double, to sum: inout DevianceSum) {
        guard let k = DevianceSum.slot(y, prior: prior, below: 64) else { sum.terms += prior * unitDeviance(y, mu); return }
        if k > 0 { sum.logs[k].add(y / mu) }
        sum.terms -= 2 * (y - mu)
    }
    public func deviance(_ sum: DevianceSum) -> Double { sum.weighed { 2 * Double($0) } }
    public func logLikelihood(_ y: Double, _ mu: Double) -> Double {
        (y > 0 ? y * Foundation.log(mu) : 0) - mu - SpecialFunctions.logGamma(y + 1)
    }
}

/// NB2 with known size θ (MASS's `negative.binomial(theta)`); θ itself is estimated by `NegativeBinomialRegression`.
public struct NegativeBinomialFamily: Family {
    public let theta: Double
    public init(theta: Double) { self.theta = theta }
    public var name: String { "Negative Binomial(\(theta))" }
    public var link: Link { .log }
    public var kernel: vigil_family { vigil_family(link: VIGIL_LINK_LOG, variance: VIGIL_VARIANCE_NEGATIVE_BINOMIAL, theta: theta) }
    @inline(__always) public func unitDeviance(_ y: Double, _ mu: Double) -> Double {
        // For y = 0 the first term is 0 (and most HAI counts are 0): skip its log.
        let first = y > 0 ? y * Foundation.log(max(1, y) / mu) : 0
        return 2 * (first - (y + theta) * Foundation.log((y + theta) / (mu + theta)))
    }
    public func initialMean(_ y: Double) -> Double { y == 0 ? 1.0 / 6 : y }
    /// A count k below 32 has unit deviance 2k·ln(k/μ) − 2(k + θ)·ln((k + θ)/(μ + θ)): slot k holds k/μ, slot
    /// 32 + k holds (k + θ)/(μ + θ).
    @inline(__always) public func addDeviance(_ y: Double, _ mu: Double, prior: Double, to sum: inout DevianceSum) {
        guard let k = DevianceSum.slot(y, prior: prior, below: 32) else { sum.terms += prior * unitDeviance(y, mu); return }
        if k > 0 { sum.logs[k].add(y / mu) }
        sum.logs[32 + k].add((y + theta) / (mu + theta))
    }
    public func deviance(_ sum: DevianceSum) -> Double {
        sum.weighed { $0 < 32 ? 2 * Double($0) : -2 * (Double($0 - 32) + theta) }
    }
    public func logLikelihood(_ y: Double, _ mu: Double) -> Double {
        SpecialFunctions.logGamma(theta + y) - SpecialFunctions.logGamma(theta) - SpecialFunctions.logGamma(y + 1)
            + theta * Foundation.log(theta) + (y > 0 ? y * Foundation.log(mu) : 0)
            - (theta + y) * Foundation.log(theta + mu)
    }
}

/// Binomial proportions with the logit link: Bernoulli outcomes (weight 1), or y/n with weight n (R's
/// `cbind(y, n − y)`).
public struct BinomialFamily: Family {
    public init() {}
    public var name: String { "binomial" }
    public var link: Link { .logit }
    public var kernel: vigil_family { vigil_family(link: VIGIL_LINK_LOGIT, variance: VIGIL_VARIANCE_BINOMIAL, theta: 0) }
    @inline(__always) public func unitDeviance(_ y: Double, _ mu: Double) -> Double {
        2 * (yLogY(y, mu) + yLogY(1 - y, 1 - mu))
    }
    public func initialMean(_ y: Double) -> Double { (y + 0.5) / 2 }
    /// A 0/1 outcome's unit deviance is −2 ln(1 − μ) or −2 ln μ: slot y holds the argument.
    @inline(__always) public func addDeviance(_ y: Double, _ mu: Double, prior: Double, to sum: inout DevianceSum) {
        guard let k = DevianceSum.slot(y, prior: prior, below: 2) else { sum.terms += prior * unitDeviance(y, mu); return }
        sum.logs[k].add(k == 1 ? mu : 1 - mu)
    }
    /// The 0/1 rows of weight 1 put their arguments into slot 0 (a row of another kind puts 1 there, ln 1 = 0),
    /// whose product CKernels' vectorized loop takes a block at a time.
    public func addDeviances(_ y: UnsafePointer<Double>, _ mu: UnsafePointer<Double>, prior: UnsafePointer<Double>?, count: Int,
                             scratch: UnsafeMutablePointer<Double>, to sum: inout DevianceSum) {
        for i in 0..<count {
            let outcome = y[i], weight = prior?[i] ?? 1
            if weight == 1 && (outcome == 0 || outcome == 1) {
                scratch[i] = outcome == 1 ? mu[i] : 1 - mu[i]
            } else {
                scratch[i] = 1
                addDeviance(outcome, mu[i], prior: weight, to: &sum)
            }
        }
        sum.logs[0].add(scratch, count: count)
    }
    public func deviance(_ sum: DevianceSum) -> Double { sum.weighed { _ in -2 } }
    public func logLikelihood(_ y: Double, _ mu: Double) -> Double {
        y > 0.5 ? Foundation.log(mu) : Foundation.log(1 - mu)
    }
    /// R's binomial `initialize`: (w y + ½)/(w + 1).
    public func initialMean(_ y: Double, weight: Double) -> Double { (weight * y + 0.5) / (weight + 1) }
    /// ln of dbinom(w y, w, μ), as R's binomial `aic`.
    public func logLikelihood(_ y: Double, _ mu: Double, weight n: Double) -> Double {
        let events = (n * y).rounded()
        // A 0/1 outcome: the binomial coefficient is 1 (R's dbinom gives the same), and ln Γ costs 3 calls a row.
        if n == 1, events == 0 || events == 1 { return events > 0 ? Foundation.log(mu) : Foundation.log1p(-mu) }
        let choose = SpecialFunctions.logGamma(n + 1) - SpecialFunctions.logGamma(events + 1) - SpecialFunctions.logGamma(n - events + 1)
        return choose + (events > 0 ? events * Foundation.log(mu) : 0) + (n - events > 0 ? (n - events) * Foundation.log1p(-mu) : 0)
    }
}
