import Foundation

/// Settings of the IRLS loop; the defaults are R's `glm.control()`.
public struct GLMControl: Sendable {
    public var epsilon: Double = 1e-8
    public var maxIterations: Int = 25
    /// Rows per block when accumulating XᵀWX.
    public var blockSize: Int = 4096
    public var aliasingTolerance: Double = AliasingCholesky.defaultTolerance
    public init() {}
}

/// Response, offset (already on the linear-predictor scale, e.g. log exposure) and design.
public struct GLMProblem: Sendable {
    public let response: [Double]
    public let offset: [Double]?
    public let design: DesignMatrix

    public init(response: [Double], offset: [Double]? = nil, design: DesignMatrix) {
        precondition(response.count == design.rowCount, "response and design must have the same rows")
        precondition(offset == nil || offset?.count == response.count, "offset must have one value per row")
        self.response = response
        self.offset = offset
        self.design = design
    }

    public var rowCount: Int { response.count }
}

public enum GLMError: Error, Equatable, CustomStringConvertible {
    case emptyData
    case noValidCoefficients
    case allColumnsAliased
    case numerical(String)

    public var description: String {
        switch self {
        case .emptyData: return "the data set has no rows"
        case .noValidCoefficients:
            return "no valid set of coefficients was found: the starting values give invalid fitted means"
        case .allColumnsAliased: return "every column of the design is zero or aliased: nothing can be estimated"
        case let .numerical(message): return "numerical failure: \(message)"
        }
    }
}

/// The result of one IRLS run (R's `glm.fit`).
struct IRLSResult: Sendable {
    var coefficients: [Double]          // aliased entries are 0
    var factorization: AliasingCholesky // of XᵀWX with the weights of the final iteration
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
/// XᵀWX and XᵀWz block by block with BLAS (dsyrk, dgemv), so one pass both tests convergence and
/// prepares the next solve. Passes run over fixed row segments on all cores.
struct IRLS<F: Family>: Sendable {
    let problem: GLMProblem
    let family: F
    let control: GLMControl

    private struct Pass: Sendable {
        var deviance = 0.0
        var valid = true
        var gram: Matrix
        var rhs: [Double]
        var fitted: [[Double]] = []
    }

    func run(start: [Double]? = nil) throws -> IRLSResult {
        let n = problem.rowCount
        guard n > 0 else { throw GLMError.emptyData }
        let segments = RowSegments(count: n)

        var current = pass(coefficients: start, segments)
        guard current.valid, current.deviance.isFinite else { throw GLMError.noValidCoefficients }
        var devianceOld = current.deviance
        var coefficientsOld: [Double]? = nil
        var boundary = false

        var coefficients = [Double](repeating: 0, count: problem.design.columnCount)
        var factorization: AliasingCholesky
        var deviance = devianceOld
        var fitted = current.fitted
        var iterations = 0
        var converged = false
        repeat {
            iterations += 1
            factorization = try AliasingCholesky(gram: current.gram, tolerance: control.aliasingTolerance)
            guard !factorization.kept.isEmpty else { throw GLMError.allColumnsAliased }
            coefficients = try factorization.solve(current.rhs)
            var next = pass(coefficients: coefficients, segments)
            // Step halving when the deviance is not finite or the means leave the family's range.
            var halvings = 0
            while !(next.valid && next.deviance.isFinite) {
                guard let old = coefficientsOld, halvings < control.maxIterations else {
                    throw GLMError.noValidCoefficients
                }
                halvings += 1
                boundary = true
                coefficients = zip(coefficients, old).map { ($0 + $1) / 2 }
                next = pass(coefficients: coefficients, segments)
            }
            deviance = next.deviance
            fitted = next.fitted
            if abs(deviance - devianceOld) / (abs(deviance) + 0.1) < control.epsilon {
                converged = true
                break
            }
            devianceOld = deviance
            coefficientsOld = coefficients
            current = next
        } while iterations < control.maxIterations

        return IRLSResult(coefficients: coefficients, factorization: factorization, deviance: deviance,
                          fitted: SegmentedVector(parts: fitted), iterations: iterations, converged: converged,
                          boundary: boundary)
    }

    /// One pass: fitted means and deviance at `coefficients` (or at the family's starting means when nil),
    /// and the working weights' XᵀWX, XᵀWz, summed over segments in order.
    private func pass(coefficients: [Double]?, _ segments: RowSegments) -> Pass {
        let parts = segments.map { _, rows in self.pass(coefficients: coefficients, rows: rows) }
        var total = Pass(gram: parts[0].gram, rhs: parts[0].rhs)
        total.deviance = parts[0].deviance
        total.valid = parts[0].valid
        for part in parts.dropFirst() {
            total.deviance += part.deviance
            total.valid = total.valid && part.valid
            for k in total.gram.elements.indices { total.gram.elements[k] += part.gram.elements[k] }
            for k in total.rhs.indices { total.rhs[k] += part.rhs[k] }
        }
        total.fitted = parts.map { $0.fitted[0] }
        return total
    }

    private func pass(coefficients: [Double]?, rows: Range<Int>) -> Pass {
        let design = problem.design
        let p = design.columnCount
        let blockSize = min(control.blockSize, rows.count)
        let link = family.link
        let response = problem.response
        let offset = problem.offset
        var block = Matrix(rows: blockSize, columns: p)
        var eta = [Double](repeating: 0, count: blockSize)
        var scaledResponse = [Double](repeating: 0, count: blockSize)
        var rootWeight = [Double](repeating: 0, count: blockSize)
        var fitted = [Double](repeating: 0, count: rows.count)
        var result = Pass(gram: Matrix(rows: p, columns: p), rhs: [Double](repeating: 0, count: p))

        var start = rows.lowerBound
        while start < rows.upperBound {
            let end = min(rows.upperBound, start + blockSize)
            let count = end - start
            design.fill(&block, rows: start..<end)
            if let coefficients {
                LinearAlgebra.multiply(block, rows: count, by: coefficients, into: &eta)
                if let offset {
                    for i in 0..<count { eta[i] += offset[start + i] }
                }
            } else {
                for i in 0..<count { eta[i] = link.eta(family.initialMean(response[start + i])) }
            }
            var deviance = 0.0
            var valid = true
            for i in 0..<count {
                let y = response[start + i]
                let e = eta[i]
                let (mu, d) = link.meanAndDerivative(e)
                fitted[start - rows.lowerBound + i] = mu
                valid = valid && family.isValidMean(mu)
                deviance += family.unitDeviance(y, mu)
                let w = d * d / family.variance(mu)
                let off = offset?[start + i] ?? 0
                let sw = w.squareRoot()
                rootWeight[i] = sw
                scaledResponse[i] = (e - off + (y - mu) / d) * sw
            }
            result.deviance += deviance
            result.valid = result.valid && valid
            for j in 0..<p {
                let base = j * blockSize
                for i in 0..<count { block.elements[base + i] *= rootWeight[i] }
            }
            LinearAlgebra.accumulateGram(block, rows: count, into: &result.gram)
            LinearAlgebra.accumulateTransposedProduct(block, rows: count, with: scaledResponse, into: &result.rhs)
            start = end
        }
        result.fitted = [fitted]
        return result
    }
}
