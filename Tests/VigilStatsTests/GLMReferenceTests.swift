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
        /// The column of n for events out of n (grouped binomial).
        var trials: String? = nil
        var testDescription: String { fit }
    }

    /// A separated logistic baseline (R stops after 25 iterations, estimates in the thousands).
    static let separated = Case(data: "glm-separated-data.csv", fit: "glm-separated-binomial-fit.csv", family: .binomial,
                                response: "ssi", offset: nil, covariates: ["age", "risk"])

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
        // Degenerate baselines (make-degenerate.R): uncentred yr + yr² (XᵀWX too ill-conditioned for the
        // Gram route), a level without events, Poisson counts given to glm.nb.
        Case(data: "glm-yr2-data.csv", fit: "glm-yr2-poisson-fit.csv", family: .poisson, response: "events",
             offset: "exposure", covariates: ["yr", "yr2"]),
        Case(data: "glm-yr2-data.csv", fit: "glm-yr2-negbin-fit.csv", family: .negbin, response: "events",
             offset: "exposure", covariates: ["yr", "yr2"]),
        Case(data: "glm-emptylevel-data.csv", fit: "glm-emptylevel-poisson-fit.csv", family: .poisson, response: "events",
             offset: "exposure", covariates: ["unit"]),
        Case(data: "glm-poissonlike-data.csv", fit: "glm-poissonlike-negbin-fit.csv", family: .negbin, response: "events",
             offset: nil, covariates: ["x"]),
        // Events out of trials (make-proportions.R): glm(cbind(falls, residents − falls) ~ …, binomial).
        Case(data: "proportions-data.csv", fit: "proportions-binomial-fit.csv", family: .binomial, response: "falls",
             offset: nil, covariates: ["size", "short_stay"], trials: "residents"),
    ]

    static func fit(_ c: Case, control: GLMControl = GLMControl()) throws -> GLMFit {
        let problem = try GLMDataSet.load(path: Reference.path(c.data), family: c.family, response: c.response,
                                          offset: c.offset, trials: c.trials, covariates: c.covariates,
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
    /// A covariate written in words from its first cell and one whose words come later are both categorical,
    /// with the same levels as their cells; a numeric covariate stays numeric.
    @Test func categoricalCovariatesWhereverTheirWordsStart() throws {
        var text = "y,grade,mixed,x\n"
        for i in 0..<40 {
            text += "\(i % 3),\(["b", "a", "c"][i % 3]),\(i < 30 ? "\(i % 2)" : "none"),\(Double(i) / 7)\n"
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-kinds-\(UUID().uuidString).csv").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let problem = try GLMDataSet.load(path: path, family: .poisson, response: "y", covariates: ["grade", "mixed", "x"])
        #expect(problem.design.names == ["intercept", "grade[b]", "grade[c]", "mixed[1]", "mixed[none]", "x"])
    }

    /// A pipe is refused with a reason (the data set is read more than once), not read as an empty file. A
    /// directory first: were the check gone, it fails at once, where opening the pipe would wait for a writer.
    @Test func aDataSetThatIsNotARegularFileIsRefused() throws {
        func refusal(_ path: String) -> String? {
            do {
                _ = try GLMDataSet.load(path: path, family: .poisson, response: "y", covariates: ["x"])
            } catch let error as DataSetError where error.description.contains("not a regular file") {
                return error.description
            } catch {}
            return nil
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        guard refusal(directory.path) != nil else {
            Issue.record("a directory was not refused as not a regular file")
            return
        }
        let fifo = directory.appendingPathComponent("data.csv").path
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(refusal(fifo) != nil)
    }

    @Test func blockSizeDoesNotChangeTheFit() throws {
        var small = GLMControl()
        small.blockSize = 7
        let a = try Self.fit(Self.cases[2], control: small)
        let b = try Self.fit(Self.cases[2])
        for (x, y) in zip(a.estimates, b.estimates) { expectClose(x, y, relative: 1e-10, absolute: 1e-12, "estimate") }
        expectClose(a.theta!, b.theta!, relative: 1e-10, "theta")
    }

    /// Skipping the least-squares problem of a pass that likely ends the fit changes no bit of any fit,
    /// whether the guess holds (most fits) or misses (the separated fit converges slowly, 25 iterations).
    @Test func skippingTheLastProblemChangesNothing() throws {
        var accumulateAll = GLMControl()
        accumulateAll.skipsLikelyLastProblem = false
        for c in Self.cases + [Self.separated] {
            let a = try Self.fit(c), b = try Self.fit(c, control: accumulateAll)
            #expect(a.estimates == b.estimates, "\(c.fit)")
            #expect(a.deviance == b.deviance && a.nullDeviance == b.nullDeviance, "\(c.fit)")
            #expect(a.iterations == b.iterations && a.theta == b.theta, "\(c.fit)")
        }
    }

    /// The weighted-Gram kernel and BLAS on the √w-scaled block accumulate the same problems: the same fits to
    /// rounding, in the same number of iterations, down to the route each design takes.
    @Test(.enabled(if: LinearAlgebra.hasWeightedGram, "this CPU lacks AVX2/FMA: every fit takes the BLAS route"))
    func theGramKernelFitsAsBLASDoes() throws {
        var blas = GLMControl()
        blas.usesWeightedGram = false
        for c in Self.cases + [Self.separated] {
            let a = try Self.fit(c), b = try Self.fit(c, control: blas)
            #expect(a.iterations == b.iterations && a.aliasedNames == b.aliasedNames, "\(c.fit)")
            expectClose(a.deviance, b.deviance, relative: 1e-9, absolute: 1e-12, "\(c.fit) deviance")
            for (x, y) in zip(a.coefficients, b.coefficients) {
                expectClose(x.estimate ?? 0, y.estimate ?? 0, relative: 1e-9, absolute: 1e-12, "\(c.fit) \(x.name)")
                expectClose(x.standardError ?? 0, y.standardError ?? 0, relative: 1e-8, "\(c.fit) \(x.name) SE")
            }
        }
    }

    /// A baseline fit skips the null model: the same estimates, no null deviance.
    @Test func withoutTheNullModelTheEstimatesAreTheSame() throws {
        var noNull = GLMControl()
        noNull.fitsNullModel = false
        for c in Self.cases {
            let a = try Self.fit(c), b = try Self.fit(c, control: noNull)
            #expect(a.estimates == b.estimates && a.deviance == b.deviance && a.theta == b.theta, "\(c.fit)")
            #expect(a.nullDeviance.isFinite && b.nullDeviance.isNaN, "\(c.fit)")
        }
    }

    @Test func aliasedColumnIsNamedAndWarned() throws {
        let fit = try Self.fit(Self.cases[6])
        #expect(fit.aliasedNames == ["x3"])
        #expect(fit.warnings.contains { $0.contains("x3") })
        #expect(fit.coefficients.allSatisfy { $0.estimate.map(\.isFinite) ?? true })
    }

    /// R's warnings on degenerate data are vigil's warnings (in words, with R's phrase).
    @Test func poissonCountsGivenToNegativeBinomialWarnAsR() throws {
        let fit = try Self.fit(Self.cases[10])
        let r = try String(contentsOfFile: Reference.path("glm-poissonlike-negbin-warnings.txt"), encoding: .utf8)
        #expect(r.contains("alternation limit reached"))
        #expect(fit.warnings.contains { $0.hasPrefix("alternation limit reached") }, "\(fit.warnings)")
    }

    /// A separated logistic baseline: R stops after 25 iterations with two warnings and estimates in the
    /// thousands; vigil takes the same path and says the same.
    @Test func separatedLogisticFollowsR() throws {
        let c = Self.separated
        let fit = try Self.fit(c)
        let table = try Reference.table(c.fit)
        let names = table.column("name")!, values = table.column("value")!, kinds = table.column("kind")!
        for i in 0..<table.rowCount where kinds[i] == "estimate" {
            let estimate = try #require(fit.coefficients.first { $0.name == names[i] }?.estimate)
            expectClose(estimate, Double(values[i])!, relative: 1e-3, "\(names[i])")
        }
        #expect(!fit.converged)
        #expect(fit.warnings.contains { $0.contains("did not converge") })
        #expect(fit.warnings.contains { $0.contains("fitted probabilities numerically 0 or 1") })
    }

    /// An uncentred yr + yr² design is too ill-conditioned for the Gram route (it goes through the QR, whose
    /// estimates `matchesR` checks); on well-conditioned designs both routes give the same fit.
    @Test func illConditionedDesignsTakeTheQRRoute() throws {
        let yr: [Double] = [2011, 2015, 2024, 2019]
        let design = try DesignMatrix(rowCount: 4, covariates: [.numeric(name: "yr", values: yr),
                                                                 .numeric(name: "yr2", values: yr.map { $0 * $0 })])
        var gram = Matrix(rows: 3, columns: 3)
        var block = Matrix(rows: 4, columns: 3)
        design.fill(&block, rows: 0..<4)
        LinearAlgebra.accumulateGram(block, rows: 4, into: &gram)
        #expect(!(try AliasingCholesky(gram: gram)).isReliable)
        var qr = GLMControl()
        qr.alwaysQR = true
        for c in [Self.cases[0], Self.cases[2], Self.cases[4], Self.cases[6]] {
            let a = try Self.fit(c, control: qr)
            let b = try Self.fit(c)
            #expect(a.aliasedNames == b.aliasedNames)
            for (x, y) in zip(a.coefficients, b.coefficients) {
                expectClose(x.estimate ?? 0, y.estimate ?? 0, relative: 1e-9, absolute: 1e-12, "\(c.fit) \(x.name)")
                expectClose(x.standardError ?? 0, y.standardError ?? 0, relative: 1e-8, "\(c.fit) \(x.name) SE")
            }
        }
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

    /// `VGAM::vglm(cbind(falls, residents − falls) ~ size + short_stay, betabinomial)` (make-proportions.R):
    /// estimates, ρ and the log-likelihood to 1e-6; standard errors from the expected information, as VGAM's.
    @Test func betaBinomialMatchesVGAM() throws {
        let problem = try GLMDataSet.load(path: Reference.path("proportions-data.csv"), family: .betaBinomial, response: "falls",
                                          trials: "residents", covariates: ["size", "short_stay"],
                                          commentByte: UInt8(ascii: "#"))
        let fit = try GLM.fit(problem, family: .betaBinomial)
        let table = try Reference.table("proportions-betabinomial-fit.csv")
        let kinds = table.column("kind")!, names = table.column("name")!, values = table.column("value")!.map { Double($0)! }
        let rho = try #require(fit.rho)
        for i in 0..<table.rowCount {
            switch (kinds[i], names[i]) {
            case ("estimate", "logit_rho"):
                expectClose(log(rho / (1 - rho)), values[i], relative: 1e-6, "logit rho")
            case ("std_error", "logit_rho"):
                expectClose(try #require(fit.logitRhoStandardError), values[i], relative: 1e-4, "logit rho SE")
            case ("estimate", let name):
                let estimate = try #require(fit.coefficients.first { $0.name == name }?.estimate, "no \(name)")
                expectClose(estimate, values[i], relative: 1e-6, absolute: 1e-9, "\(name)")
            case ("std_error", let name):
                let se = try #require(fit.coefficients.first { $0.name == name }?.standardError)
                expectClose(se, values[i], relative: 1e-4, "\(name) SE")
            case (_, "log_likelihood"): expectClose(fit.logLikelihood, values[i], relative: 1e-9, "log-likelihood")
            case (_, "aic"): expectClose(fit.aic, values[i], relative: 1e-9, "AIC")
            case (_, "rho"): expectClose(rho, values[i], relative: 1e-6, "rho")
            default: Issue.record("unknown reference row \(kinds[i]) \(names[i])")
            }
        }
        #expect(fit.converged)
    }
}

extension CSVTable {
    func rowCount(kind: String) -> Int { (column("kind") ?? []).filter { $0 == kind }.count }
}
