import Testing
@testable import VigilStats

/// vigil's weighted-Gram kernel (`LinearAlgebra.accumulateWeightedGram`) against the sums written out, on every
/// shape its tiles of 3 × 4 columns and 4 rows meet. Skipped on a CPU without AVX2/FMA, where IRLS uses BLAS.
@Suite(.enabled(if: LinearAlgebra.hasWeightedGram, "this CPU lacks AVX2/FMA: IRLS uses BLAS"))
struct WeightedGramTests {
    /// A matrix with more rows than used (lda > rows) and values of mixed sign and size.
    static func matrix(rows: Int, columns: Int, seed: UInt64) -> Matrix {
        var state = seed
        var m = Matrix(rows: rows + 3, columns: columns)
        for k in m.elements.indices {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            m.elements[k] = Double(Int64(bitPattern: state >> 11) % 20_000) / 1_000 - 10
        }
        return m
    }

    @Test(arguments: [1, 2, 3, 4, 5, 7, 8, 12, 13, 31, 32])
    func matchesTheSumsWrittenOut(columns n: Int) {
        for rows in [0, 1, 3, 4, 5, 9, 4099] {
            let a = Self.matrix(rows: rows, columns: n, seed: UInt64(n * 10_000 + rows))
            let w = (0..<rows).map { 0.05 + Double($0 % 17) / 8 }
            var c = Matrix(rows: n, columns: n, repeating: 0.5)
            #expect(LinearAlgebra.accumulateWeightedGram(a, rows: rows, weights: w, into: &c))
            for k in 0..<n {
                for j in 0..<n {
                    guard j <= k else {
                        #expect(c[j, k] == 0.5, "lower triangle (\(j), \(k)) untouched")
                        continue
                    }
                    var sum = 0.5, scale = 0.5
                    for i in 0..<rows {
                        sum += w[i] * a[i, j] * a[i, k]
                        scale += abs(w[i] * a[i, j] * a[i, k])
                    }
                    expectClose(c[j, k], sum, relative: 0, absolute: 1e-13 * scale, "n \(n) rows \(rows) (\(j), \(k))")
                }
            }
        }
    }

    /// The tiles past the last column read that column again and drop the sums: a NaN there reaches only the
    /// entries of its own column.
    @Test func aNaNReachesOnlyItsColumn() {
        let n = 5, rows = 10
        var a = Self.matrix(rows: rows, columns: n, seed: 7)
        a[6, n - 1] = .nan
        var c = Matrix(rows: n, columns: n)
        _ = LinearAlgebra.accumulateWeightedGram(a, rows: rows, weights: Array(repeating: 1, count: rows), into: &c)
        for k in 0..<n {
            for j in 0...k { #expect(c[j, k].isNaN == (k == n - 1), "(\(j), \(k))") }
        }
    }

    /// Sizes that do not fit are refused, C left as it was, instead of a trap or a read past A or w.
    @Test func sizesThatDoNotFitAreRefused() {
        let a = Self.matrix(rows: 8, columns: 3, seed: 3)   // 11 rows held
        var c = Matrix(rows: 3, columns: 3, repeating: 0.5)
        #expect(!LinearAlgebra.accumulateWeightedGram(a, rows: 12, weights: Array(repeating: 1, count: 12), into: &c))
        #expect(!LinearAlgebra.accumulateWeightedGram(a, rows: 8, weights: Array(repeating: 1, count: 7), into: &c))
        var wrong = Matrix(rows: 2, columns: 2)
        #expect(!LinearAlgebra.accumulateWeightedGram(a, rows: 8, weights: Array(repeating: 1, count: 8), into: &wrong))
        #expect(c.elements.allSatisfy { $0 == 0.5 } && wrong.elements.allSatisfy { $0 == 0 })
        #expect(LinearAlgebra.accumulateWeightedGram(a, rows: 8, weights: Array(repeating: 1, count: 8), into: &c))
    }
}
