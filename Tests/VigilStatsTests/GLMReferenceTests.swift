import Foundation
import Testing
import VigilCore
@testable import VigilStats

/// GLM fits against R (`glm`, `MASS::glm.nb`) on R's data sets and seeded synthetic data.
struct GLMReferenceTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let data: String
        let fit: String
        let family: GLMFit.FamilyKind
        let response: String
        let offset: String?
        let covariates: [String]
        var testDescription: String { fit }
    }

    static let cases: [Case] = [
        Case(data: "glm-quine-data.csv", fit: "glm-quine-negbin-fit.csv", family: .negbin, response: "Days",
             offset: nil, covariates: ["Eth", "Sex", "Age", "Lrn"]),
        Case(data: "glm-quine-data.csv", fit: "glm-quine-poisson-fit.csv", family: .poisson, response: "Days",
             offset: nil, covariates: ["Eth", "Sex", "Age", "Lrn"]),
        Case(data: "glm-panel-data.csv", fit: "glm-panel-negbin-fit.csv", family: .negbin, response: "events",
             offset: "exposure", covariates: ["beds", "teaching", "icu_share", "size"]),
        Case(data: "glm-panel-data.csv", fit: "glm-panel-poisson-fit.csv", family: .poisson, response: "events",
             offset: "exposure", covariates: ["beds", "teaching", "icu_share", "size"]),
        Case(data: "glm-birthwt-data.csv", fit: "glm-birthwt-binomial-fit.csv", family: .binomial, response: "low",
             offset: nil, covariates: ["age", "lwt", "race", "smoke", "ptl", "ht", "ui", "ftv"]),
        Case(data: "glm-patients-data.csv", fit: "glm-patients-binomial-fit.csv", family: .binomial,
             response: "ssi", offset: nil, covariates: ["age", "asa", "female", "bmi", "duration"]),
        Case(data: "glm-aliased-data.csv", fit: "glm-aliased-poisson-fit.csv", family: .poisson, response: "events",
             offset: nil, covariates: ["x1", "x2", "x3", "unit"]),
    ]

    static func fit(_ c: Case, control: GLMControl = GLMControl()) throws -> GLMFit {
        let problem = try GLMDataSet.load(path: Reference.path(c.data), family: c.family, response: c.response,
                                          offset: c.offset, covariates: c.covariates,
                                          commentByte: UInt8(ascii: "#"))
        return try GLM.fit(problem, family: c.family, control: control)
    }

    @Test(arguments: cases)
    func matchesR(_ c: Case) throws {
        let fit = try Self.fit(c)
        let table = try Reference.table(c.fit)
        let kinds = table.column("kind")!, names = table.column("name")!, values = table.column("value")!
        var scalars: [String: Double] = [:]
        for i in 0..<table.rowCount {
            let value = Double(values[i])
            switch kinds[i] {
            case "estimate":
                let coefficient = try #require(fit.coefficients.first { $0.name == names[i] }, "no coefficient \(names[i])")
                if let value {
                    let estimate = try #require(coefficient.estimate, "\(names[i]) reported aliased")
                    expectClose(estimate, value, relative: 1e-6, absolute: 1e-9, "\(c.fit) \(names[i]) estimate")
                } else {
                    #expect(coefficient.isAliased, "\(names[i]) should be aliased (NA in R)")
                }
            case "std_error":
                let coefficient = try #require(fit.coefficients.first { $0.name == names[i] })
                if let value {
                    let se = try #require(coefficient.standardError)
                    expectClose(se, value, relative: 1e-4, "\(c.fit) \(names[i]) std. error")
                } else {
                    #expect(coefficient.standardError == nil)
                }
            default:
                scalars[names[i]] = value
            }
        }
        #expect(fit.coefficients.count == table.rowCount(kind: "estimate"))
        expectClose(fit.deviance, scalars["deviance"]!, relative: 1e-6, "deviance")
        expectClose(fit.nullDeviance, scalars["null_deviance"]!, relative: 1e-6, "null deviance")
        expectClose(fit.aic, scalars["aic"]!, relative: 1e-6, "AIC")
        expectClose(fit.logLikelihood, scalars["log_likelihood"]!, relative: 1e-6, "log-likelihood")
        #expect(fit.rank == Int(scalars["rank"]!))
        #expect(fit.residualDegreesOfFreedom == Int(scalars["df_residual"]!))
        #expect(fit.nullDegreesOfFreedom == Int(scalars["df_null"]!))
        #expect(fit.converged)
        #expect(abs(fit.iterations - Int(scalars["iterations"]!)) <= 1, "iterations \(fit.iterations)")
        if c.family == .negbin {
            expectClose(try #require(fit.theta), scalars["theta"]!, relative: 1e-5, "theta")
            expectClose(try #require(fit.thetaStandardError), scalars["theta_std_error"]!, relative: 1e-4, "theta SE")
        }
    }

    /// The blocked accumulation must not depend on the block size.
    @Test func blockSizeDoesNotChangeTheFit() throws {
        var small = GLMControl()
        small.blockSize = 7
        let a = try Self.fit(Self.cases[2], control: small)
        let b = try Self.fit(Self.cases[2])
        for (x, y) in zip(a.estimates, b.estimates) { expectClose(x, y, relative: 1e-10, absolute: 1e-12, "estimate") }
        expectClose(a.theta!, b.theta!, relative: 1e-10, "theta")
    }

    @Test func aliasedColumnIsNamedAndWarned() throws {
        let fit = try Self.fit(Self.cases[6])
        #expect(fit.aliasedNames == ["x3"])
        #expect(fit.warnings.contains { $0.contains("x3") })
        #expect(fit.coefficients.allSatisfy { $0.estimate.map(\.isFinite) ?? true })
    }

    /// Complete separation: R warns "fitted probabilities numerically 0 or 1 occurred"; vigil says so in words
    /// and prints no NaN.
    @Test func separationIsReportedInWords() throws {
        let x = (0..<40).map { Double($0) }
        let y = x.map { $0 < 20 ? 0.0 : 1.0 }
        let design = try DesignMatrix(rowCount: 40, covariates: [.numeric(name: "x", values: x)])
        let fit = try GLM.fit(GLMProblem(response: y, design: design), family: .binomial)
        #expect(fit.warnings.contains { $0.contains("separat") })
        #expect(fit.coefficients.allSatisfy { ($0.estimate ?? 0).isFinite && ($0.standardError ?? 0).isFinite })
    }
}

extension CSVTable {
    func rowCount(kind: String) -> Int { (column("kind") ?? []).filter { $0 == kind }.count }
}
