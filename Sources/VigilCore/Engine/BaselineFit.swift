import Foundation
import VigilStats

/// Fits a model's `poisson`, `negative_binomial` or `logistic` expectation on its baseline rows across all
/// facilities, with the statistical core's GLMs, and turns the estimates into a predictor for new records.
enum BaselineFit {
    struct Row {
        let y: Double
        let exposure: Double?
        let covariates: Covariates
        /// Rows with the same group have the same covariates (an interned covariate set), read once.
        var group: Int32? = nil
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func fit(_ spec: ExpectedSpec, family: GLMFit.FamilyKind, rows: [Row], model: String) throws -> Expectation {
        guard !rows.isEmpty else {
            throw Failure(description: "model \(model): no records in the baseline window, nothing to fit")
        }
        let n = rows.count
        let y = rows.map(\.y)
        var offset: [Double]? = nil
        if spec.offset {
            offset = rows.map { Foundation.log($0.exposure ?? 1) }
        }
        // Each distinct covariate set is read once; `distinctOf[i]` is row i's.
        var firstRows: [Int] = []
        var distinctOf = [Int](repeating: 0, count: n)
        var seen: [Int32: Int] = [:]
        for (i, row) in rows.enumerated() {
            if let group = row.group, let d = seen[group] {
                distinctOf[i] = d
                continue
            }
            if let group = row.group { seen[group] = firstRows.count }
            distinctOf[i] = firstRows.count
            firstRows.append(i)
        }
        var covariates: [DesignMatrix.Covariate] = []
        var numeric: [String: Bool] = [:]
        for name in spec.covariates {
            let values = firstRows.map { rows[$0].covariates[name]?.trimmingSpaces ?? "" }
            let numbers = values.map { Double($0) }
            if spec.references[name] == nil, numbers.allSatisfy({ $0?.isFinite == true }) {
                covariates.append(.numeric(name: name, values: distinctOf.map { numbers[$0] ?? 0 }))
                numeric[name] = true
            } else {
                covariates.append(.categorical(name: name, values: distinctOf.map { values[$0] }, reference: spec.references[name]))
                numeric[name] = false
            }
        }
        let design: DesignMatrix
        do {
            design = try DesignMatrix(rowCount: n, covariates: covariates)
        } catch let error as DesignMatrix.BuildError {
            throw Failure(description: "model \(model): baseline fit: \(error.description)")
        }
        let fit: GLMFit
        do {
            fit = try GLM.fit(GLMProblem(response: y, offset: offset, design: design), family: family)
        } catch {
            throw Failure(description: "model \(model): baseline fit failed: \(error)")
        }
        var estimate: [String: Double] = [:]
        for c in fit.coefficients { estimate[c.name] = c.estimate ?? 0 }   // aliased: 0, as R's predict
        var terms: [LinearPredictor.Term] = []
        for name in spec.covariates {
            if numeric[name] == true {
                terms.append(.linear(name, estimate[name] ?? 0))
            } else {
                let prefix = "\(name)["
                var table: [String: Double] = [:]
                for case let .categorical(n, values, _) in covariates where n == name {
                    for level in Set(values) { table[level] = estimate["\(prefix)\(level)]"] ?? 0 }
                }
                terms.append(.levels(name, table))
            }
        }
        let predictor = LinearPredictor(intercept: estimate["intercept"] ?? 0, terms: terms)
        return Expectation(form: .linear(predictor, logit: family == .binomial), offset: spec.offset,
                           theta: family == .negbin ? fit.theta : nil)
    }
}
