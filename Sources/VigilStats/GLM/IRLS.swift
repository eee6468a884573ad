import CKernels
import Foundation
import VigilThreads

/// Settings of the IRLS loop; the defaults are R's `glm.control()`.
public struct GLMControl: Sendable {
    public var epsilon: Double = 1e-8
    public var maxIterations: Int = 25
    /// Rows per block when accumulating XᵀWX.
    public var blockSize: Int = 4096
    public var aliasingTolerance: Double = AliasingCholesky.defaultTolerance
    /// Solve every iteration by the QR (tests compare the two routes).
    var alwaysQR = false
    /// Skip accumulating the problem of a pass that likely ends the fit (tests compare with and without).
    var skipsLikelyLastProblem = true
    /// Accumulate XᵀWX and XᵀWz by vigil's weighted-Gram kernel where the CPU has it, else by BLAS on the
    /// √w-scaled block (tests compare the two).
    var usesWeightedGram = true
    /// Whether to fit the null model for the null deviance; a caller that reports no deviance (a baseline fit)
    /// skips it, and the fit's `nullDeviance` is NaN.
    public var fitsNullModel = true
    /// Told the seconds each step of a fit took ("IRLS", "theta"), for `vigil fit --timings`.
    public var timings: (@Sendable (String, Double) -> Void)? = nil
    public init() {}

    /// Runs `body`, telling `timings` how long it took under `step`.
    func timed<T>(_ step: String, _ body: () throws -> T) rethrows -> T {
        guard let timings else { return try body() }
        let clock = Stopwatch()
        defer { timings(step, clock.elapsed) }
        return try body()
    }
}

/// Response, offset (already on the linear-predictor scale, e.g. log exposure), prior weights and design.
/// Grouped binomial rows (R's `cbind(y, n − y)`) are the proportion y/n with weight n.
public struct GLMProblem: Sendable {
    public let response: [Double]
    public let offset: [Double]?
    public let weights: [Double]?
    public let design: DesignMatrix

    public init(response: [Double], offset: [Double]? = nil, weights: [Double]? = nil, design: DesignMatrix) {
        precondition(response.count == design.rowCount, "response and design must have the same rows")
        precondition(offset == nil || offset?.count == response.count, "offset must have one value per row")
        // Callers build weights from the same rows as the response (GLMDataSet, BaselineFit): no data reaches this.
        precondition(weights == nil || weights?.count == response.count, "weights must have one value per row")
        self.response = response
        self.offset = offset
        self.weights = weights
        self.design = design
    }

    /// The prior weight of row i (1 without weights).
    @inline(__always) public func weight(_ i: Int) -> Double { weights?[i] ?? 1 }

    public var rowCount: Int { response.count }
}

public enum GLMError: Error, Equatable, CustomStringConvertible {
    case emptyData
    case noValidCoefficients
    case allColumnsAliased
    case numerical(String)
    /// The fit ended with values that are not finite numbers (named), so it estimates nothing.
    case notFinite(String)

    public var description: String {
        switch self {
        case .emptyData: return "the data set has no rows"
        case .noValidCoefficients:
            return "no valid set of coefficients was found: the starting values give invalid fitted means"
        case .allColumnsAliased: return "every column of the design is zero or aliased: nothing can be estimated"
        case let .numerical(message): return "numerical failure: \(message)"
        case let .notFinite(what): return "the fit gave non-finite \(what): nothing can be estimated from these data"
        }
    }
}

/// The kept columns of a weighted least-squares solve and the upper triangular R of their weighted design
/// (RᵀR = XₖᵀWXₖ), by whichever route found them.
struct LeastSquaresFactor: Sendable {
    let kept: [Int]
    let factor: Matrix
    /// (XₖᵀWXₖ)⁻¹ in `kept` order.
    func inverse() throws -> Matrix { try LinearAlgebra.inverseFromCholesky(factor) }
}

/// The result of one IRLS run (R's `glm.fit`).
struct IRLSResult: Sendable {
    var coefficients: [Double]          // aliased entries are 0
    var factorization: LeastSquaresFactor // with the weights of the final iteration
    var deviance: Double
    var fitted: SegmentedVector
    var iterations: Int
    var converged: Bool
    var boundary: Bool
}

/// Iteratively reweighted least squares, written once for every `Family` (McCullagh & Nelder 1989 §2.5;
/// the loop, step halving and convergence test are those of R's `glm.fit`).
///
/// Each pass over the data computes the deviance at the current coefficients and accumulates the next
/// weighted least-squares problem block by block with BLAS, so one pass both tests convergence and prepares
/// the next solve. Passes run over fixed row segments on all cores. The problem is accumulated as XᵀWX and
/// XᵀWz (dsyrk, dgemv) while the Gram matrix gives R's answer (`AliasingCholesky.isReliable`); once it does
/// not — a column aliased or nearly so, a badly conditioned design — as the QR factor of [√W·X | √W·z],
/// whose rank and solution are R's (`LimitedPivotingQR`).
struct IRLS<F: Family>: Sendable {
    let problem: GLMProblem
    let family: F
    let control: GLMControl

    private enum Route { case gram, qr }

    private struct Pass: Sendable {
        var devianceSum = DevianceSum()
        /// The family's deviance of `devianceSum`, once the segments' sums are added up.
        var deviance = Double.nan
        var valid = true
        var gram: Matrix
        var rhs: [Double]
        var qr: TallSkinnyQR?
        /// False when the weighted-Gram kernel refused a block: the pass's XᵀWX is incomplete.
        var gramAccumulated = true
        var fitted: [[Double]] = []
    }

    func run(start: [Double]? = nil) throws -> IRLSResult {
        let n = problem.rowCount
        guard n > 0 else { throw GLMError.emptyData }
        let segments = RowSegments(count: n)
        var route = control.alwaysQR ? Route.qr : Route.gram

        var current = try pass(coefficients: start, segments, route)
        var currentCoefficients = start
        guard current.valid, current.deviance.isFinite else { throw GLMError.noValidCoefficients }
        var devianceOld = current.deviance
        var coefficientsOld: [Double]? = nil
        var boundary = false

        var coefficients = [Double](repeating: 0, count: problem.design.columnCount)
        var factorization: LeastSquaresFactor
        var deviance = devianceOld
        var fitted = current.fitted
        var iterations = 0
        var converged = false
        var change = Double.infinity, previousChange = Double.infinity
        repeat {
            iterations += 1
            var solved: (LeastSquaresFactor, [Double])? = nil
            if route == .gram {
                let cholesky = try AliasingCholesky(gram: current.gram, tolerance: control.aliasingTolerance)
                if cholesky.isReliable {
                    solved = (LeastSquaresFactor(kept: cholesky.kept, factor: cholesky.factor), try cholesky.solve(current.rhs))
                } else {
                    route = .qr
                    current = try pass(coefficients: currentCoefficients, segments, route)
                }
            }
            (factorization, coefficients) = try solved ?? solveByQR(current)
            guard !factorization.kept.isEmpty else { throw GLMError.allColumnsAliased }
            // The pass that ends the fit has its problem never solved: skip it when the next change will likely
            // be below ε — the changes shrink at least as fast as their last ratio (Fisher scoring converges
            // linearly or better) — and accumulate it by one more pass if the fit goes on after all.
            let likelyLast = iterations == control.maxIterations
                || (previousChange.isFinite && change * (change / previousChange) < control.epsilon)
            let accumulate = !(control.skipsLikelyLastProblem && likelyLast)
            var next = try pass(coefficients: coefficients, segments, route, accumulate: accumulate)
            // Step halving when the deviance is not finite or the means leave the family's range.
            var halvings = 0
            while !(next.valid && next.deviance.isFinite) {
                guard let old = coefficientsOld, halvings < control.maxIterations else {
                    throw GLMError.noValidCoefficients
                }
                halvings += 1
                boundary = true
                coefficients = zip(coefficients, old).map { ($0 + $1) / 2 }
                next = try pass(coefficients: coefficients, segments, route, accumulate: accumulate)
            }
            deviance = next.deviance
            fitted = next.fitted
            previousChange = change
            change = abs(deviance - devianceOld) / (abs(deviance) + 0.1)
            if change < control.epsilon {
                converged = true
                break
            }
            if !accumulate && iterations < control.maxIterations {
                next = try pass(coefficients: coefficients, segments, route)
            }
            devianceOld = deviance
            coefficientsOld = coefficients
            current = next
            currentCoefficients = coefficients
        } while iterations < control.maxIterations

        return IRLSResult(coefficients: coefficients, factorization: factorization, deviance: deviance,
                          fitted: SegmentedVector(parts: fitted), iterations: iterations, converged: converged,
                          boundary: boundary)
    }

    /// The weighted least-squares solution of a QR pass (R's rank and estimates) and its factor.
    private func solveByQR(_ pass: Pass) throws -> (LeastSquaresFactor, [Double]) {
        guard let t = pass.qr else { throw GLMError.numerical("no QR factor was accumulated") }
        let qr = LimitedPivotingQR(augmented: t.factor, columns: problem.design.columnCount,
                                   tolerance: LimitedPivotingQR.tolerance(epsilon: control.epsilon))
        return (LeastSquaresFactor(kept: qr.kept, factor: qr.factor), qr.coefficients)
    }

    /// One pass: fitted means and deviance at `coefficients` (or at the family's starting means when nil),
    /// and the working weights' least-squares problem by `route`, summed over segments in order.
    private func pass(coefficients: [Double]?, _ segments: RowSegments, _ route: Route, accumulate: Bool = true) throws -> Pass {
        let parts = segments.map { _, rows in self.pass(coefficients: coefficients, rows: rows, route, accumulate: accumulate) }
        guard parts.allSatisfy(\.gramAccumulated) else { throw GLMError.numerical("the weighted Gram matrix could not be accumulated") }
        var total = Pass(devianceSum: parts[0].devianceSum, gram: parts[0].gram, rhs: parts[0].rhs, qr: parts[0].qr)
        total.valid = parts[0].valid
        for part in parts.dropFirst() {
            total.devianceSum += part.devianceSum
            total.valid = total.valid && part.valid
            guard accumulate else { continue }
            switch route {
            case .gram:
                for k in total.gram.elements.indices { total.gram.elements[k] += part.gram.elements[k] }
                for k in total.rhs.indices { total.rhs[k] += part.rhs[k] }
            case .qr:
                guard let other = part.qr else { throw GLMError.numerical("a segment's QR factor failed") }
                try total.qr?.add(other)
            }
        }
        total.fitted = parts.map { $0.fitted[0] }
        total.deviance = family.deviance(total.devianceSum)
        return total
    }

    private func pass(coefficients: [Double]?, rows: Range<Int>, _ route: Route, accumulate: Bool) -> Pass {
        let design = problem.design
        let p = design.columnCount
        let blockSize = min(control.blockSize, rows.count)
        let link = family.link
        // The kernel accumulates the Gram matrix of [X | z] under w: XᵀWX, and XᵀWz in its last column.
        let kernel = route == .gram && control.usesWeightedGram && LinearAlgebra.hasWeightedGram
        // In the QR route the block carries √w·z as its last column.
        var block = Matrix(rows: blockSize, columns: route == .qr ? p + 1 : p)
        var augmented = Matrix(rows: kernel ? p + 1 : 0, columns: kernel ? p + 1 : 0)
        // A block's η, w, z, √w (for BLAS and the QR) and the family's deviance scratch; never empty arrays.
        var eta = [Double](repeating: 0, count: blockSize)
        var weight = [Double](repeating: 0, count: blockSize)
        var working = [Double](repeating: 0, count: blockSize)
        var rootWeight = [Double](repeating: 0, count: blockSize)
        var devianceArguments = [Double](repeating: 0, count: blockSize)
        var fitted = [Double](repeating: 0, count: rows.count)
        var devianceSum = DevianceSum()
        var valid = true
        var result = Pass(gram: Matrix(rows: route == .gram ? p : 0, columns: route == .gram ? p : 0),
                          rhs: [Double](repeating: 0, count: route == .gram ? p : 0),
                          qr: route == .qr ? TallSkinnyQR(columns: p + 1, blockRows: blockSize) : nil)

        Self.withRows(problem.response, problem.weights, problem.offset) { response, weights, offsets in
            fitted.withUnsafeMutableBufferPointer { fittedRows in
                // The kernel reads the design's numeric columns in place; the block holds the other columns.
                design.withStoredColumns { stored in
                    var start = rows.lowerBound
                    while start < rows.upperBound {
                        let end = min(rows.upperBound, start + blockSize)
                        let count = end - start
                        let y = response.baseAddress.map { $0 + start }, prior = weights.map { $0 + start }
                        let offset = offsets.map { $0 + start }
                        let mu = fittedRows.baseAddress.map { $0 + start - rows.lowerBound }
                        if let coefficients {
                            design.linearPredictor(rows: start..<end, coefficients: coefficients, into: &eta, stored: stored)
                            if let offset {
                                for i in 0..<count { eta[i] += offset[i] }
                            }
                        } else {
                            for i in 0..<count { eta[i] = link.eta(family.initialMean(response[start + i], weight: prior?[i] ?? 1)) }
                        }
                        valid = (accumulate
                            ? vigil_irls_rows(family.kernel, count, eta, y, prior, offset, mu, &weight, &working)
                            : vigil_irls_rows(family.kernel, count, eta, y, prior, offset, mu, nil, nil)) && valid
                        if let y, let mu {
                            family.addDeviances(y, mu, prior: prior, count: count, scratch: &devianceArguments, to: &devianceSum)
                        }
                        if accumulate, kernel {
                            design.fill(&block, rows: start..<end, except: stored)
                            let accumulated = block.elements.withUnsafeBufferPointer { b in
                                working.withUnsafeBufferPointer { z in
                                    guard let b = b.baseAddress, let z = z.baseAddress else { return false }
                                    let columns = (0..<p).map { j in stored[j].map { $0 + start } ?? b + j * blockSize } + [z]
                                    let aheadRows = min(rows.upperBound, end + blockSize) - end
                                    let ahead = aheadRows > 0 ? stored.compactMap { $0.map { $0 + end } } : []
                                    return LinearAlgebra.accumulateWeightedGram(columns: columns, rows: count, weights: weight,
                                                                                into: &augmented, ahead: ahead, aheadRows: aheadRows)
                                }
                            }
                            if !accumulated { result.gramAccumulated = false }
                        } else if accumulate {
                            // BLAS and the QR take √W·X and √W·z.
                            for i in 0..<count {
                                rootWeight[i] = weight[i].squareRoot()
                                working[i] *= rootWeight[i]
                            }
                            design.fill(&block, rows: start..<end, scaledBy: rootWeight)
                            switch route {
                            case .gram:
                                LinearAlgebra.accumulateGram(block, rows: count, into: &result.gram)
                                LinearAlgebra.accumulateTransposedProduct(block, rows: count, with: working, into: &result.rhs)
                            case .qr:
                                for i in 0..<count { block.elements[p * blockSize + i] = working[i] }
                                do { try result.qr?.add(block, rows: count) } catch { result.qr = nil }
                            }
                        }
                        start = end
                    }
                }
            }
        }
        result.devianceSum = devianceSum
        result.valid = valid
        if kernel {
            // XᵀWX is the upper p × p of the augmented Gram matrix, XᵀWz its last column.
            for k in 0..<p {
                for j in 0...k { result.gram.elements[j + k * p] = augmented.elements[j + k * (p + 1)] }
                result.rhs[k] = augmented.elements[k + p * (p + 1)]
            }
        }
        result.fitted = [fitted]
        return result
    }

    /// The response, prior weights and offset as pointers for one pass (nil where the problem has none).
    private static func withRows<R>(_ response: [Double], _ weights: [Double]?, _ offset: [Double]?,
                                    _ body: (UnsafeBufferPointer<Double>, UnsafePointer<Double>?, UnsafePointer<Double>?) -> R) -> R {
        func optional(_ values: [Double]?, _ body: (UnsafePointer<Double>?) -> R) -> R {
            guard let values else { return body(nil) }
            return values.withUnsafeBufferPointer { body($0.baseAddress) }
        }
        return response.withUnsafeBufferPointer { y in optional(weights) { prior in optional(offset) { body(y, prior, $0) } } }
    }
}
