import Foundation

/// Runs R (MASS::glm.nb, glm) and statsmodels on the same CSV files, when they are installed, and reads
/// back their fit times and estimates. Each prints lines `name seconds estimate…` (estimates may be absent).
struct ExternalFit {
    let seconds: Double
    let estimates: [Double]
}

enum External {
    static func rScript(panel: String, admissions: String) -> String {
        """
        suppressMessages(library(MASS))
        timed <- function(name, expr) {
          invisible(gc())
          t <- system.time(fit <- expr)[["elapsed"]]
          cat(name, t, coef(fit), "\\n")
        }
        panel <- read.csv("\(panel)", stringsAsFactors = TRUE)
        base <- panel[panel$measure == "CLABSI" & panel$month <= 24, ]
        timed("nb_baseline", glm.nb(events ~ beds + teaching + icu_share + size + offset(log(exposure)), data = base))
        timed("nb_full", glm.nb(events ~ beds + teaching + icu_share + size + measure + offset(log(exposure)), data = panel))
        rm(panel, base); invisible(gc())
        adm <- read.csv("\(admissions)")
        timed("logit_5", glm(outcome ~ x1 + x2 + x3 + x4 + x5, family = binomial, data = adm))
        timed("logit_30", glm(as.formula(paste("outcome ~", paste0("x", 1:30, collapse = " + "))), family = binomial, data = adm))
        """
    }

    static func pythonScript(panel: String, admissions: String) -> String {
        """
        import time, numpy as np, pandas as pd, statsmodels.api as sm
        from statsmodels.discrete.discrete_model import NegativeBinomial
        def design(df, cats):
            X = df[["beds", "teaching", "icu_share"]].astype(float)
            for c in cats:
                levels = sorted(df[c].unique())
                for l in levels[1:]:
                    X[f"{c}[{l}]"] = (df[c] == l).astype(float)
            return sm.add_constant(X)
        def report(name, t, params):
            print(name, t, " ".join(repr(float(v)) for v in params), flush=True)
        panel = pd.read_csv("\(panel)")
        for name, df, cats in [("nb_baseline", panel[(panel.measure == "CLABSI") & (panel.month <= 24)], ["size"]),
                               ("nb_full", panel, ["size", "measure"])]:
            X = design(df, cats); off = np.log(df.exposure.values)
            t = time.perf_counter()
            fit = NegativeBinomial(df.events.values, X, offset=off, loglike_method="nb2").fit(disp=0, maxiter=100)
            report(name, time.perf_counter() - t, fit.params.values[:-1])
        del panel
        adm = pd.read_csv("\(admissions)")
        for name, k in [("logit_5", 5), ("logit_30", 30)]:
            X = sm.add_constant(adm[[f"x{i}" for i in range(1, k + 1)]])
            t = time.perf_counter()
            fit = sm.GLM(adm.outcome.values, X, family=sm.families.Binomial()).fit()
            report(name, time.perf_counter() - t, fit.params.values)
        """
    }

    /// Runs a program with a script file; nil when it is not installed or fails. Bounded by `timeout`.
    static func run(_ program: String, script: String, scriptPath: String, timeout: TimeInterval) -> [String: ExternalFit]? {
        guard let executable = which(program) else { return nil }
        do { try script.write(toFile: scriptPath, atomically: true, encoding: .utf8) } catch { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [scriptPath]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.standardError
        do { try process.run() } catch { return nil }
        let deadline = Date().addingTimeInterval(timeout)
        var data = Data()
        let reader = out.fileHandleForReading
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        if process.isRunning {
            process.terminate()
            FileHandle.standardError.write(Data("\(program): stopped after \(Int(timeout)) s\n".utf8))
        }
        process.waitUntilExit()
        data = reader.readDataToEndOfFile()
        var fits: [String: ExternalFit] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: " ").map(String.init)
            guard parts.count >= 2, let seconds = Double(parts[1]) else { continue }
            fits[parts[0]] = ExternalFit(seconds: seconds, estimates: parts.dropFirst(2).compactMap(Double.init))
        }
        return fits
    }

    static func which(_ program: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(program)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}
