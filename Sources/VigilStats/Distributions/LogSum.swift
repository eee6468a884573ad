import CKernels
import Foundation

/// Σ ln xᵢ by one logarithm at the end: the arguments' binary exponents are summed apart and their significands
/// multiplied, so the product neither overflows nor underflows. Each factor rounds the product once (relative
/// error n·u over n factors, an absolute error in the sum no larger than that of adding n rounded logarithms),
/// and an argument costs a multiply, not a logarithm.
public struct LogSum: Sendable {
    private var significand = 1.0
    private var exponent = 0
    /// ln of the arguments that are no positive normal number (0, subnormal, ∞, NaN), as `log` gives them.
    private var others = 0.0

    public init() {}

    @inline(__always) public mutating func add(_ x: Double) {
        let bits = x.bitPattern
        guard vigil_positive_normal(bits) else { others += Foundation.log(x); return }
        exponent += Int(vigil_unbiased_exponent(bits))
        significand *= vigil_significand(bits)
        // Factors in [1, 2): the product reaches 2⁵¹² after 512 of them at the earliest. Renormalizing only then
        // leaves one multiply per argument on the chain of dependent operations.
        if significand >= 0x1p512 { renormalize() }
    }

    /// Two arguments at once: their significands are multiplied first, off the chain of dependent multiplies
    /// (a loop adding one argument a row waits on that chain).
    @inline(__always) public mutating func add(_ a: Double, _ b: Double) {
        let x = a.bitPattern, y = b.bitPattern
        guard vigil_positive_normal(x) && vigil_positive_normal(y) else { add(a); add(b); return }
        exponent += Int(vigil_unbiased_exponent(x) + vigil_unbiased_exponent(y))
        significand *= vigil_significand(x) * vigil_significand(y)
        if significand >= 0x1p512 { renormalize() }
    }

    /// Adds the `count` arguments at x: the product of their positive normal numbers by CKernels' vectorized loop,
    /// the logarithms of the others one by one.
    public mutating func add(_ x: UnsafePointer<Double>, count: Int) {
        var product = 1.0, productExponent = 0
        let abnormal = vigil_log_product(count, x, &product, &productExponent)
        add(product)
        exponent += productExponent
        guard abnormal > 0 else { return }
        for i in 0..<count where !vigil_positive_normal(x[i].bitPattern) { others += Foundation.log(x[i]) }
    }

    private mutating func renormalize() {
        let bits = significand.bitPattern
        exponent += Int(vigil_unbiased_exponent(bits))
        significand = vigil_significand(bits)
    }

    /// Σ ln xᵢ of the arguments added.
    public var value: Double {
        var sum = self
        sum.renormalize()
        // ln 2 in two parts (fdlibm's): the exponent times the first is exact for |exponent| < 2²⁰.
        let e = Double(sum.exponent)
        return e * 6.93147180369123816490e-01 + (e * 1.90821492927058770002e-10 + Foundation.log(sum.significand)) + others
    }

    /// Whether the sum is 0 with no logarithm to take (nothing added, or only ones).
    public var isEmpty: Bool { significand == 1 && exponent == 0 && others == 0 }

    public static func += (sum: inout LogSum, other: LogSum) {
        sum.add(other.significand)
        sum.exponent += other.exponent
        sum.others += other.others
    }
}
