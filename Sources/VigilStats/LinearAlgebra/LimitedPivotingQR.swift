import Foundation

/// Householder QR with R's limited column pivoting (LINPACK `dqrdc2` as R modified it; `glm.fit` reaches it
/// through `Cdqrls`): a column whose norm, once the kept columns before it are projected out, falls below
/// `tolerance` × its original norm is aliased and moved to the end; the kept columns keep their order.
///
/// It runs on the triangular factor T of the weighted, augmented design [√W·X | √W·z] (`TallSkinnyQR`), not
/// on the n rows themselves: TᵀT is the rows' cross product, and the column and residual norms the rank
/// test compares are invariant under the orthogonal transformations that made T.
struct LimitedPivotingQR: Sendable {
    /// R's `glm.fit` tolerance at the default `epsilon = 1e-8`: min(1e-7, epsilon / 1000).
    static func tolerance(epsilon: Double) -> Double { min(1e-7, epsilon / 1000) }

    let kept: [Int]
    /// Least-squares coefficients of the last column on the first `columns`, 0 for aliased columns.
    let coefficients: [Double]
    /// Upper triangular R of the kept columns (kept order), rows signed so its diagonal is positive.
    let factor: Matrix

    init(augmented t: Matrix, columns p: Int, tolerance: Double) {
        var x = t
        let n = x.rows
        var order = Array(0..<p)
        func norm(_ j: Int, from start: Int) -> Double {
            var s = 0.0
            for i in start..<n { s += x[i, j] * x[i, j] }
            return s.squareRoot()
        }
        var residualNorm = (0..<p).map { norm($0, from: 0) }
        var originalNorm = residualNorm.map { $0 == 0 ? 1 : $0 }
        var limit = p        // columns at or after `limit` are aliased
        var l = 0
        while l < min(n, p) {
            // Cycle negligible columns to the end, left to right, until column l has a non-negligible norm.
            while l < limit && residualNorm[l] < originalNorm[l] * tolerance {
                let column = (0..<n).map { x[$0, l] }
                for j in (l + 1)..<p { for i in 0..<n { x[i, j - 1] = x[i, j] } }
                for i in 0..<n { x[i, p - 1] = column[i] }
                order.append(order.remove(at: l))
                residualNorm.append(residualNorm.remove(at: l))
                originalNorm.append(originalNorm.remove(at: l))
                limit -= 1
            }
            guard l < limit, l < n - 1 else { break }
            var length = norm(l, from: l)
            if length != 0 {
                if x[l, l] != 0 { length = x[l, l] < 0 ? -abs(length) : abs(length) }
                for i in l..<n { x[i, l] /= length }
                x[l, l] += 1
                // The reflection applied to the later columns and to the response column p.
                for j in (l + 1)...p {
                    var dot = 0.0
                    for i in l..<n { dot += x[i, l] * x[i, j] }
                    let t = -dot / x[l, l]
                    for i in l..<n { x[i, j] += t * x[i, l] }
                    guard j < p, residualNorm[j] != 0 else { continue }
                    let shrink = max(0, 1 - (abs(x[l, j]) / residualNorm[j]) * (abs(x[l, j]) / residualNorm[j]))
                    // A large reduction loses the downdated norm's accuracy: recompute it (R's 1e-6 rule).
                    residualNorm[j] = abs(shrink) < 1e-6 ? norm(j, from: l + 1) : residualNorm[j] * shrink.squareRoot()
                }
                x[l, l] = -length
            }
            l += 1
        }
        let rank = min(limit, n)
        // Back substitution R b = (Qᵀz)[0..<rank].
        var b = [Double](repeating: 0, count: rank)
        for i in stride(from: rank - 1, through: 0, by: -1) {
            var s = x[i, p]
            for j in (i + 1)..<rank { s -= x[i, j] * b[j] }
            b[i] = s / x[i, i]
        }
        var coefficients = [Double](repeating: 0, count: p)
        for (a, j) in order.prefix(rank).enumerated() { coefficients[j] = b[a] }
        var r = Matrix(rows: rank, columns: rank)
        for i in 0..<rank {
            let sign: Double = x[i, i] < 0 ? -1 : 1
            for j in i..<rank { r[i, j] = sign * x[i, j] }
        }
        self.kept = Array(order.prefix(rank))
        self.coefficients = coefficients
        self.factor = r
    }
}

/// The triangular factor T of a tall matrix given a block of rows at a time (TᵀT = AᵀA), by LAPACK's
/// Householder QR of [T; block]: as accurate as a QR of the whole matrix, in memory of one block.
struct TallSkinnyQR: Sendable {
    private(set) var factor: Matrix
    private var stack: Matrix

    init(columns: Int, blockRows: Int) {
        factor = Matrix(rows: columns, columns: columns)
        stack = Matrix(rows: columns + blockRows, columns: columns)
    }

    /// Folds in the first `rows` rows of `block` (which has `factor.columns` columns).
    mutating func add(_ block: Matrix, rows: Int) throws {
        let c = factor.columns
        if stack.rows < c + rows { stack = Matrix(rows: c + rows, columns: c) }
        let ld = stack.rows
        for j in 0..<c {
            for i in 0..<c { stack.elements[i + j * ld] = factor[i, j] }
            for i in 0..<rows { stack.elements[c + i + j * ld] = block.elements[i + j * block.rows] }
            for i in (c + rows)..<ld { stack.elements[i + j * ld] = 0 }
        }
        try LinearAlgebra.householderQR(&stack)
        for j in 0..<c { for i in 0..<c { factor[i, j] = i <= j ? stack.elements[i + j * ld] : 0 } }
    }

    /// Folds in another factor (of other rows).
    mutating func add(_ other: TallSkinnyQR) throws {
        try add(other.factor, rows: other.factor.rows)
    }
}
