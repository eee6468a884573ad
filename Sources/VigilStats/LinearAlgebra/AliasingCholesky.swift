/// Cholesky factorization of a Gram matrix XᵀWX that skips the columns which are (numerically) linear
/// combinations of earlier ones, in design-matrix order — the columns R's `glm` reports as aliased (NA).
///
/// Column j is kept when the squared norm of its residual on the kept earlier columns, `d_j`, exceeds
/// `tolerance × G_jj`. The Gram matrix squares the design's condition number, so this test cannot decide
/// R's QR rank (residual norm below 1e-11 of the column's): `isReliable` says when its answer is the QR's.
public struct AliasingCholesky: Sendable {
    /// Indices of the kept columns, increasing.
    public let kept: [Int]
    /// Indices of the aliased columns, increasing.
    public let aliased: [Int]
    /// Upper Cholesky factor of G restricted to `kept`.
    public let factor: Matrix

    public static let defaultTolerance = 1e-10
    /// Reciprocal condition estimate of the kept columns scaled to unit norm (1 when all are orthogonal).
    public let scaledReciprocalCondition: Double

    /// Whether solving through the Gram matrix gives what R's QR gives: no column aliased (R's tolerance is
    /// finer than this test can see) and a condition number κ of the scaled kept columns with κ²·ε ≲ 1e-8,
    /// the accuracy the normal equations lose against a QR.
    public var isReliable: Bool { aliased.isEmpty && scaledReciprocalCondition > 1e-4 }

    /// `gram` needs its upper triangle only.
    public init(gram: Matrix, tolerance: Double = AliasingCholesky.defaultTolerance) throws {
        let p = gram.rows
        var r = Matrix(rows: p, columns: p)
        var kept: [Int] = []
        var aliased: [Int] = []
        for j in 0..<p {
            let gjj = gram[j, j]
            guard gjj > 0, gjj.isFinite else {
                aliased.append(j)
                continue
            }
            let g = kept.map { gram[$0, j] }
            let v = try LinearAlgebra.solveTransposedTriangular(r, order: kept.count, g)
            let d = gjj - v.reduce(0) { $0 + $1 * $1 }
            if d > tolerance * gjj {
                let k = kept.count
                for i in 0..<k { r[i, k] = v[i] }
                r[k, k] = d.squareRoot()
                kept.append(j)
            } else {
                aliased.append(j)
            }
        }
        self.kept = kept
        self.aliased = aliased
        var f = Matrix(rows: kept.count, columns: kept.count)
        var scaled = f
        for j in 0..<kept.count {
            let norm = gram[kept[j], kept[j]].squareRoot()
            for i in 0...j { f[i, j] = r[i, j]; scaled[i, j] = r[i, j] / norm }
        }
        self.factor = f
        self.scaledReciprocalCondition = (try? LinearAlgebra.reciprocalCondition(upperTriangular: scaled)) ?? 0
    }

    /// Solves G β = b on the kept columns; aliased coefficients are 0 (R's `glm.fit` during iteration).
    public func solve(_ b: [Double]) throws -> [Double] {
        let sub = try LinearAlgebra.solveCholesky(factor, kept.map { b[$0] })
        var beta = [Double](repeating: 0, count: b.count)
        for (a, j) in kept.enumerated() { beta[j] = sub[a] }
        return beta
    }

    /// `G⁻¹` on the kept columns, in `kept` order.
    public func inverse() throws -> Matrix {
        try LinearAlgebra.inverseFromCholesky(factor)
    }
}
