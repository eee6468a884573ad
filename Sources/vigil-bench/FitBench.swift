import Foundation

/// `vigil fit` whole-process, CSV to answer, against R (`data.table::fread` + `glm` / `MASS::glm.nb`) and
/// statsmodels (`pandas.read_csv` + `NegativeBinomial` / `Logit`) run as their users run them: one process
/// per fit, timed from start to exit, median of three, on the same files in the same run.
enum FitBench {
    struct Workload {
        let name: String
        let label: String
        let file: String
        let vigil: [String]
        let r: String
        let python: String
    }

    struct Timed {
        var seconds: [Double] = []
        var estimates: [Double] = []
        var median: Double { seconds.isEmpty ? .nan : seconds.sorted()[seconds.count / 2] }
    }

    /// The estimates must agree with R's to this relative difference (issue 14's "same estimates").
    static let agreement = 1e-6

    /// Prints the table; returns the fits whose estimates disagree with R's beyond `agreement` (or that vigil
    /// did not finish), for the caller to fail on — a ratio for a wrong answer is no result.
    @discardableResult
    static func run(panel: NationalPanel, admissions: Admissions, dataDir: String, external: Bool, repeats: Int = 3) throws -> [String] {
        let absolute = { (p: String) in URL(fileURLWithPath: p).standardizedFileURL.path }
        let nbPath = absolute("\(dataDir)/fit-nb.csv"), logit5 = absolute("\(dataDir)/fit-logit-5.csv")
        let logit30 = absolute("\(dataDir)/fit-logit-30.csv")
        let baseline = panel.baseline(measure: NationalPanel.measures.firstIndex(of: "CLABSI") ?? 0, months: 24)
        try panel.writeCSV(to: nbPath, rows: baseline)
        try admissions.writeCSV(to: logit5, covariates: 5)
        try admissions.writeCSV(to: logit30, covariates: 30)
        let nbCovariates = ["beds", "teaching", "icu_share", "size"]
        let workloads = [
            Workload(name: "nb", label: "NB2, one measure × 24 months", file: nbPath,
                     vigil: ["fit", "--data", nbPath, "--family", "negbin", "--response", "events", "--offset", "exposure",
                             "--covariates", nbCovariates.joined(separator: ","), "--format", "json"],
                     r: rScript(nbPath, "MASS::glm.nb(events ~ beds + teaching + icu_share + size + offset(log(exposure)), data = d)"),
                     python: pythonNB(nbPath)),
            Workload(name: "logit_5", label: "logistic, 5 covariates", file: logit5,
                     vigil: ["fit", "--data", logit5, "--family", "binomial", "--response", "outcome",
                             "--covariates", (1...5).map { "x\($0)" }.joined(separator: ","), "--format", "json"],
                     r: rScript(logit5, "glm(outcome ~ ., family = binomial, data = d)"),
                     python: pythonLogit(logit5)),
            Workload(name: "logit_30", label: "logistic, 30 covariates", file: logit30,
                     vigil: ["fit", "--data", logit30, "--family", "binomial", "--response", "outcome",
                             "--covariates", (1...30).map { "x\($0)" }.joined(separator: ","), "--format", "json"],
                     r: rScript(logit30, "glm(outcome ~ ., family = binomial, data = d)"),
                     python: pythonLogit(logit30)),
        ]
        let vigilBinary = Bench.vigilURL.path
        let rscript = external ? External.which("Rscript") : nil
        let python = external ? External.which("python3") : nil
        if external, let rscript {
            let setup = Spawn.run(rscript, ["-e", Self.rSetup])?.output ?? ""
            print("R set-up:\n\n```\n\(setup.trimmingCharacters(in: .whitespacesAndNewlines))\n```\n")
        }
        print("## `vigil fit`, whole process (CSV to answer; median of \(repeats) runs, each its own process)\n")
        print("| fit | file | vigil s | R s | R / vigil | statsmodels s | statsmodels / vigil | max rel. Δβ vs R | vs statsmodels |")
        print("|---|---|---|---|---|---|---|---|---|")
        var disagreements: [String] = []
        for w in workloads {
            var mine = Timed(), theirs = Timed(), snake = Timed()
            let rPath = "\(dataDir)/fit-\(w.name).R", pyPath = "\(dataDir)/fit-\(w.name).py"
            try w.r.write(toFile: rPath, atomically: true, encoding: .utf8)
            try w.python.write(toFile: pyPath, atomically: true, encoding: .utf8)
            // Interleaved, so that a slower minute of the host weighs on all three alike.
            for _ in 0..<repeats {
                if let v = Spawn.run(vigilBinary, w.vigil), v.status == 0 {
                    mine.seconds.append(v.seconds)
                    mine.estimates = vigilEstimates(v.output)
                }
                if let rscript, let r = Spawn.run(rscript, [rPath]), r.status == 0 {
                    theirs.seconds.append(r.seconds)
                    theirs.estimates = numbers(r.output)
                }
                if let python, let p = Spawn.run(python, [pyPath]), p.status == 0 {
                    snake.seconds.append(p.seconds)
                    snake.estimates = numbers(p.output)
                }
            }
            let size = ((try? FileManager.default.attributesOfItem(atPath: w.file)[.size] as? Int) ?? 0)
            let rows = max(0, (try? lineCount(w.file)) ?? 1) - 1
            let ratio = { (t: Timed) in t.seconds.isEmpty ? "—" : Bench.f(t.median / mine.median, 1) + "×" }
            let seconds = { (t: Timed) in t.seconds.isEmpty ? "—" : Bench.f(t.median, 2) }
            let delta = { (t: Timed) in t.estimates.isEmpty ? "—" : Bench.e(Bench.maxRelative(mine.estimates, t.estimates)) }
            if mine.seconds.count < repeats {
                disagreements.append("\(w.name): vigil failed in \(repeats - mine.seconds.count) of \(repeats) runs")
            } else if !theirs.estimates.isEmpty, !(Bench.maxRelative(mine.estimates, theirs.estimates) <= agreement) {
                disagreements.append("\(w.name): estimates differ from R's by \(delta(theirs)) (relative), more than \(agreement)")
            }
            print("| \(w.label) | \(rows) rows × \(mine.estimates.count), \(Bench.f(Double(size) / 1e6, 1)) MB | \(Bench.f(mine.median, 3)) | "
                + "\(seconds(theirs)) | \(ratio(theirs)) | \(seconds(snake)) | \(ratio(snake)) | \(delta(theirs)) | \(delta(snake)) |")
            FileHandle.standardError.write(Data("fit \(w.name): vigil \(mine.seconds), R \(theirs.seconds), statsmodels \(snake.seconds)\n".utf8))
        }
        print("")
        for d in disagreements { print("**Not a result:** \(d).\n") }
        return disagreements
    }

    static let rSetup = """
        suppressMessages({ library(data.table); library(MASS) })
        cat(R.version.string, "\\n")
        cat("MASS", format(packageVersion("MASS")), "data.table", format(packageVersion("data.table")),
            "threads", getDTthreads(), "\\n")
        si <- sessionInfo(); cat("BLAS:", si$BLAS, "\\nLAPACK:", si$LAPACK, "\\n")
        """

    /// One fit as an R user runs it: read with fread (all threads), fit, print the coefficients.
    static func rScript(_ path: String, _ call: String) -> String {
        """
        suppressMessages({ library(data.table); library(MASS) })
        d <- fread("\(path)")
        fit <- \(call)
        cat(format(coef(fit), digits = 17), "\\n")
        """
    }

    static func pythonNB(_ path: String) -> String {
        """
        import numpy as np, pandas as pd, statsmodels.api as sm
        from statsmodels.discrete.discrete_model import NegativeBinomial
        d = pd.read_csv("\(path)")
        X = d[["beds", "teaching", "icu_share"]].astype(float)
        for level in sorted(d["size"].unique())[1:]:
            X[f"size{level}"] = (d["size"] == level).astype(float)
        X = sm.add_constant(X)
        fit = NegativeBinomial(d.events.values, X, offset=np.log(d.exposure.values), loglike_method="nb2").fit(disp=0, maxiter=100)
        print(" ".join(repr(float(v)) for v in fit.params.values[:-1]))
        """
    }

    static func pythonLogit(_ path: String) -> String {
        """
        import pandas as pd, statsmodels.api as sm
        d = pd.read_csv("\(path)")
        X = sm.add_constant(d.drop(columns=["outcome"]))
        fit = sm.Logit(d.outcome.values, X).fit(disp=0)
        print(" ".join(repr(float(v)) for v in fit.params.values))
        """
    }

    static func vigilEstimates(_ json: String) -> [Double] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              let coefficients = object["coefficients"] as? [[String: Any]] else { return [] }
        return coefficients.map { ($0["estimate"] as? Double) ?? .nan }
    }

    static func numbers(_ text: String) -> [Double] {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Double($0) }
    }

    static func lineCount(_ path: String) throws -> Int {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return data.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
    }
}
