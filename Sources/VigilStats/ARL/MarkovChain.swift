/// Average run length of a chart whose statistic is approximated by a Markov chain on its transient
/// (no-signal) states (Brook & Evans 1972): a solves (I − Q) a = 1 (LAPACK dgesv), ARL = a[start].
public enum MarkovChain {
    public static func averageRunLength(transitions q: Matrix, start: Int) throws -> Double {
        guard start >= 0 && start < q.rows else { throw ARL.Failure.invalid("the chart's start state is outside its chain") }
        return try expectedSteps(transitions: q)[start]
    }

    /// The expected number of steps to absorption from every transient state.
    public static func expectedSteps(transitions q: Matrix) throws -> [Double] {
        guard q.rows == q.columns else { throw ARL.Failure.invalid("a transition matrix must be square") }
        var system = q
        for i in 0..<system.elements.count { system.elements[i] = -system.elements[i] }
        for i in 0..<q.rows { system[i, i] += 1 }
        return try LinearAlgebra.solve(system, [Double](repeating: 1, count: q.rows))
    }

    /// ARL from `start` of the chains on the leading states 0…j of `q`, for every j (nan below `start`), from
    /// one factorization: (I − Q)ᵀ is column diagonally dominant (Q's rows sum to ≤ 1), so it factors as L̃Ũ
    /// without interchanges, the leading blocks factor the leading chains, and
    /// ARL_j = e_sᵀ(I − Q_j)⁻¹1 = Σ_{i≤j} (L̃⁻¹e_s)_i (Ũ⁻ᵀ1)_i. nil when LAPACK pivoted after all (rounding).
    public static func averageRunLengths(transitions q: Matrix, start: Int) throws -> [Double]? {
        guard q.rows == q.columns, start >= 0, start < q.rows else { throw ARL.Failure.invalid("the chart's start state is outside its chain") }
        let n = q.rows
        var system = Matrix(rows: n, columns: n)
        for j in 0..<n { for i in 0..<n { system[i, j] = (i == j ? 1 : 0) - q[j, i] } }
        guard let lu = try LinearAlgebra.unpivotedLU(system) else { return nil }
        var unit = [Double](repeating: 0, count: n)
        unit[start] = 1
        let w = LinearAlgebra.solveTriangular(lu, unit, lower: true, transposed: false)
        let y = LinearAlgebra.solveTriangular(lu, [Double](repeating: 1, count: n), lower: false, transposed: true)
        var arl = [Double](repeating: .nan, count: n)
        var sum = 0.0
        for i in 0..<n {
            sum += w[i] * y[i]
            if i >= start { arl[i] = sum }
        }
        return arl
    }

    /// Runs `arl(m)` for m, 2m, 4m, … until doubling moves it by less than `tolerance` (relative), then
    /// returns the Richardson extrapolation of the last two values for an O(1/m²) discretization.
    static func refine(startingStates m0: Int, maxStates: Int, tolerance: Double = 1e-3,
                       extrapolate: Bool, _ arl: (Int) throws -> Double) throws -> Double {
        var m = m0
        var previous = try arl(m)
        while m * 2 <= maxStates {
            m *= 2
            let current = try arl(m)
            let change = abs(current - previous) / abs(current)
            let estimate = extrapolate ? current + (current - previous) / 3 : current
            if change < tolerance { return estimate }
            previous = current
        }
        return previous
    }
}
