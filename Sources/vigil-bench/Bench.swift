import Foundation
import VigilStats

/// `scripts/build && .build/release/vigil-bench [--data-dir DIR] [--skip-external] [--scale F] [--replay-only] [--calibration-only]
/// [--daemon-only] [--storm [--kills N] [--seed S]] [--outage [--hours H]] [--abuse [--seconds S]]`
///
/// Generates, with fixed seeds, a national panel (6,000 facilities × 6 measures × 120 months of NB2
/// counts = 4.32M rows) and 1,000,000 admissions with 30 risk factors; fits NB2 and logistic GLMs with
/// vigil and, when installed, with R (MASS::glm.nb, glm) and statsmodels on the same files; measures the
/// machine's dgemm ceiling, vigil's XᵀWX accumulation and detector updates. Prints markdown for
/// BENCHMARKS.md.
@main
struct Bench {
    /// The release `vigil` beside this benchmark binary: every benchmark runs it as a user would.
    static var vigilURL: URL {
        URL(fileURLWithPath: Bundle.main.executablePath ?? CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vigil")
    }

    static func main() async throws {
        var dataDir = "bench-data"
        var external = true
        var scale = 1.0
        var replayOnly = false
        var daemonOnly = false
        var calibrationOnly = false
        var fitOnly = false
        var storm: (kills: Int, seed: UInt64)? = nil
        var outageHours: Double? = nil
        var abuseSeconds: Double? = nil
        var arguments = CommandLine.arguments.dropFirst()
        while let a = arguments.popFirst() {
            switch a {
            case "--data-dir": dataDir = arguments.popFirst() ?? dataDir
            case "--skip-external": external = false
            case "--scale": scale = Double(arguments.popFirst() ?? "1") ?? 1
            case "--replay-only": replayOnly = true
            case "--daemon-only": daemonOnly = true
            case "--calibration-only": calibrationOnly = true
            case "--fit-only": fitOnly = true
            case "--abuse": abuseSeconds = abuseSeconds ?? 20
            case "--seconds": abuseSeconds = Double(arguments.popFirst() ?? "") ?? 20
            case "--outage": outageHours = outageHours ?? 1
            case "--hours": outageHours = Double(arguments.popFirst() ?? "") ?? 1
            case "--storm": storm = (storm?.kills ?? 100, storm?.seed ?? 20261201)
            case "--kills": storm = (Int(arguments.popFirst() ?? "") ?? 100, storm?.seed ?? 20261201)
            case "--seed": storm = (storm?.kills ?? 100, UInt64(arguments.popFirst() ?? "") ?? 20261201)
            default:
                FileHandle.standardError.write(Data("usage: vigil-bench [--data-dir DIR] [--skip-external] [--scale F] [--replay-only] [--calibration-only] [--fit-only] [--daemon-only] [--storm [--kills N] [--seed S]] [--outage [--hours H]] [--abuse [--seconds S]]\n".utf8))
                exit(64)
            }
        }
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        print("## Machine\n")
        print(Machine.describe())
        print("")

        if let abuseSeconds {
            try await Abuse.run(dataDir: dataDir, seconds: abuseSeconds)
            return
        }
        if let outageHours {
            try await Outage.run(dataDir: dataDir, hours: outageHours)
            return
        }
        if let storm {
            try await Storm.run(dataDir: dataDir, kills: storm.kills, seed: storm.seed)
            return
        }
        if daemonOnly {
            try await DaemonBench.run(dataDir: dataDir)
            return
        }
        if replayOnly {
            try replaySection(panel: NationalPanel(facilities: max(10, Int(6000 * scale)), months: 120, seed: 20261122),
                              dataDir: dataDir, external: external)
            return
        }
        if fitOnly {
            let disagreements = try FitBench.run(panel: NationalPanel(facilities: max(10, Int(6000 * scale)), months: 120, seed: 20261122),
                                                 admissions: Admissions(count: max(1000, Int(1_000_000 * scale)), seed: 7),
                                                 dataDir: dataDir, external: external)
            if !disagreements.isEmpty { exit(1) }
            return
        }
        if calibrationOnly {
            try calibrationSection(panel: NationalPanel(facilities: max(10, Int(6000 * scale)), months: 120, seed: 20261122),
                                   dataDir: dataDir)
            return
        }

        // 1. Ceilings
        LinearAlgebra.setThreadCount(1)
        let dgemm1 = Kernels.dgemmGFLOPS(n: 1500)
        LinearAlgebra.setThreadCount(ProcessInfo.processInfo.activeProcessorCount)
        let dgemmAll = Kernels.dgemmGFLOPS(n: 2000)
        LinearAlgebra.setThreadCount(1)
        print("## BLAS ceilings\n")
        print("| kernel | GFLOP/s |\n|---|---|")
        print("| dgemm 1500² (1 thread) | \(f(dgemm1, 1)) |")
        print("| dgemm 2000² (\(ProcessInfo.processInfo.activeProcessorCount) threads) | \(f(dgemmAll, 1)) |")
        for p in [7, 11, 31] {
            let g = Kernels.gramGFLOPS(rows: 4096, columns: p)
            print("| XᵀWX block dsyrk 4096 × \(p) (1 thread) | \(f(g, 1)) (\(f(100 * g / dgemm1, 0))% of dgemm) |")
        }
        print("")

        // 2. Data
        let facilities = max(10, Int(6000 * scale))
        let patients = max(1000, Int(1_000_000 * scale))
        var clock = Date()
        let panel = NationalPanel(facilities: facilities, months: 120, seed: 20261122)
        let admissions = Admissions(count: patients, seed: 7)
        let generated = Date().timeIntervalSince(clock)
        let panelPath = "\(dataDir)/panel.csv", admissionsPath = "\(dataDir)/admissions.csv"
        clock = Date()
        try panel.writeCSV(to: panelPath)
        try admissions.writeCSV(to: admissionsPath)
        FileHandle.standardError.write(Data("generated \(panel.count) panel rows and \(admissions.outcome.count) admissions in \(f(generated, 1)) s; CSV written in \(f(Date().timeIntervalSince(clock), 1)) s\n".utf8))

        // 3. vigil's fits
        let baselineRows = panel.baseline(measure: NationalPanel.measures.firstIndex(of: "CLABSI")!, months: 24)
        let jobs: [(String, String, () throws -> GLMProblem, GLMFit.FamilyKind)] = [
            ("nb_baseline", "NB2, one measure × 24 months", { try panel.problem(rows: baselineRows, withMeasure: false) }, .negbin),
            ("nb_full", "NB2, full panel + measure", { try panel.problem(rows: nil, withMeasure: true) }, .negbin),
            ("logit_5", "logistic, 5 covariates", { try admissions.problem(covariates: 5) }, .binomial),
            ("logit_30", "logistic, 30 covariates", { try admissions.problem(covariates: 30) }, .binomial),
        ]
        var vigil: [String: (seconds: Double, fit: GLMFit, rows: Int)] = [:]
        for (name, _, make, family) in jobs {
            let problem = try make()
            var best = Double.infinity
            var fit: GLMFit? = nil
            for _ in 0..<(problem.rowCount > 2_000_000 ? 1 : 3) {
                let start = Date()
                fit = try GLM.fit(problem, family: family)
                best = min(best, Date().timeIntervalSince(start))
            }
            vigil[name] = (best, fit!, problem.rowCount)
            FileHandle.standardError.write(Data("vigil \(name): \(f(best, 3)) s\n".utf8))
        }

        // 4. R and statsmodels on the same files
        var r: [String: ExternalFit] = [:], python: [String: ExternalFit] = [:]
        if external {
            let absolute = { (p: String) in URL(fileURLWithPath: p).standardizedFileURL.path }
            r = External.run("Rscript", script: External.rScript(panel: absolute(panelPath), admissions: absolute(admissionsPath)),
                             scriptPath: "\(dataDir)/bench.R", timeout: 1800) ?? [:]
            python = External.run("python3", script: External.pythonScript(panel: absolute(panelPath), admissions: absolute(admissionsPath)),
                                  scriptPath: "\(dataDir)/bench.py", timeout: 1800) ?? [:]
        }
        print("## GLM fits (fit only; data already in memory; vigil best of 3, 1 for the 4.32M-row fit)\n")
        print("| fit | rows × p | vigil s | R s | R / vigil | statsmodels s | statsmodels / vigil | max rel. Δβ vs R | vs statsmodels |")
        print("|---|---|---|---|---|---|---|---|---|")
        for (name, label, _, _) in jobs {
            guard let v = vigil[name] else { continue }
            let rs = r[name], ps = python[name]
            print("| \(label) | \(v.rows) × \(v.fit.coefficients.count) | \(f(v.seconds, 3)) | \(rs.map { f($0.seconds, 2) } ?? "—") | "
                + "\(rs.map { f($0.seconds / v.seconds, 1) + "×" } ?? "—") | \(ps.map { f($0.seconds, 2) } ?? "—") | "
                + "\(ps.map { f($0.seconds / v.seconds, 1) + "×" } ?? "—") | \(rs.map { e(maxRelative(v.fit.estimates, $0.estimates)) } ?? "—") | "
                + "\(ps.map { e(maxRelative(v.fit.estimates, $0.estimates)) } ?? "—") |")
        }
        print("")
        let disagreements = try FitBench.run(panel: panel, admissions: admissions, dataDir: dataDir, external: external)

        // 5. Detectors
        print("## Detector updates (1 thread)\n")
        print("| detector | updates / s |\n|---|---|")
        for (name, rate) in Kernels.detectorRates(panel: panel) {
            print("| \(name) | \(f(rate / 1e6, 1)) M |")
        }
        print("")

        // 6. Replay of the national panel, and the same computation as a plain R loop
        try replaySection(panel: panel, dataDir: dataDir, external: external)

        // 7. Per-series thresholds and budgets on the same panel
        try calibrationSection(panel: panel, dataDir: dataDir)
        if !disagreements.isEmpty {
            FileHandle.standardError.write(Data("vigil-bench: \(disagreements.joined(separator: "; "))\n".utf8))
            exit(1)
        }
    }

    static func replaySection(panel: NationalPanel, dataDir: String, external: Bool) throws {
        let replay = try ReplayBench.prepare(panel: panel, dataDir: dataDir)
        let tracePath = "\(dataDir)/replay-trace.csv"
        let rScript = ReplayBench.rScript(input: URL(fileURLWithPath: replay.input).standardizedFileURL.path)
        guard let (run, loop) = ReplayBench.medians(external: external, vigil: {
            ReplayBench.runVigil(input: replay.input, models: replay.models, trace: tracePath)
        }, r: { External.run("Rscript", script: rScript, scriptPath: "\(dataDir)/replay.R", timeout: 3600) }, total: "replay_total") else { return }
        FileHandle.standardError.write(Data("vigil replay: \(f(run.seconds, 2)) s\n".utf8))
        print("## Replay of the national panel (4.32M records, 6 NB2 models fitted on 24 months, 2 detectors each, trace written)\n")
        print("`vigil replay --timings` on the file, end to end (process start to exit), the median of \(ReplayBench.repeats) runs "
              + "interleaved with the R loop's:\n")
        print("```\n\(run.output.trimmingCharacters(in: .whitespacesAndNewlines))\nwall: \(f(run.seconds, 2)) s "
              + "(runs: \(run.all.map { f($0, 2) }.joined(separator: ", ")))\n```\n")
        if let total = loop["replay_total"] {
            print("| | vigil | R loop | R / vigil |\n|---|---|---|---|")
            print("| end to end s (median) | \(f(run.seconds, 2)) | \(f(total.seconds, 1)) | \(f(total.seconds / run.seconds, 1))× |")
            for part in ["read", "fit", "loop"] {
                if let t = loop["replay_\(part)"] { print("| R \(part) s | | \(f(t.seconds, 1)) | |") }
            }
            print("")
            let mine = ReplayBench.traceSummary(path: tracePath)
            print("| model/detector | signals vigil | signals R | Σ statistic vigil | Σ statistic R | rel. Δ |\n|---|---|---|---|---|---|")
            for key in mine.keys.sorted() {
                guard let theirs = loop[key], let sum = theirs.estimates.first, let v = mine[key] else { continue }
                print("| \(key) | \(v.signals) | \(Int(theirs.seconds)) | \(f(v.sum, 3)) | \(f(sum, 3)) | \(e(abs(v.sum - sum) / max(abs(sum), 1e-12))) |")
            }
        }
        try alertsSection(input: replay.input, dataDir: dataDir, external: external)
    }

    /// The alerts workload: `vigil replay --alerts` with a Poisson CUSUM and an EWMA per series (≈ 10⁵ alerts,
    /// each written as its JSON object), against the R loop writing the same alerts.
    static func alertsSection(input: String, dataDir: String, external: Bool) throws {
        let models = try ReplayBench.alertsModels(dataDir: dataDir)
        let alertsPath = "\(dataDir)/replay-alerts.jsonl"
        let script = ReplayBench.rAlertsScript(input: URL(fileURLWithPath: input).standardizedFileURL.path,
                                               output: URL(fileURLWithPath: "\(dataDir)/replay-alerts-r.jsonl").standardizedFileURL.path)
        guard let (run, loop) = ReplayBench.medians(external: external, vigil: {
            ReplayBench.runVigil(input: input, models: models, trace: nil, alerts: alertsPath)
        }, r: { External.run("Rscript", script: script, scriptPath: "\(dataDir)/replay-alerts.R", timeout: 3600) }, total: "alerts_total") else { return }
        FileHandle.standardError.write(Data("vigil replay --alerts: \(f(run.seconds, 2)) s\n".utf8))
        print("## Replay writing alerts (the same panel; a poisson_cusum ratio 2 h 4 and an ewma λ 0.2 L 3 per series, --alerts)\n")
        print("The median of \(ReplayBench.repeats) runs, interleaved with the R loop's:\n")
        print("```\n\(run.output.trimmingCharacters(in: .whitespacesAndNewlines))\nwall: \(f(run.seconds, 2)) s "
              + "(runs: \(run.all.map { f($0, 2) }.joined(separator: ", ")))\n```\n")
        guard let total = loop["alerts_total"] else { return }
        print("| | vigil | R loop | R / vigil |\n|---|---|---|---|")
        print("| end to end s (median) | \(f(run.seconds, 2)) | \(f(total.seconds, 1)) | \(f(total.seconds / run.seconds, 1))× |")
        for part in ["read", "fit", "loop", "write"] {
            if let t = loop["alerts_\(part)"] { print("| R \(part) s | | \(f(t.seconds, 1)) | |") }
        }
        print("")
        let mine = ReplayBench.alertCounts(path: alertsPath)
        print("| model/detector | alerts vigil | alerts R |\n|---|---|---|")
        for key in mine.keys.sorted() {
            print("| \(key) | \(mine[key] ?? 0) | \(loop[key].map { String(Int($0.seconds)) } ?? "—") |")
        }
        print("")
    }

    /// `vigil replay` of the national panel (no trace) with one fixed threshold and with per-series and budget
    /// thresholds: the difference is what solving 36,000 series' thresholds costs.
    static func calibrationSection(panel: NationalPanel, dataDir: String) throws {
        let input = "\(dataDir)/replay-panel.csv"
        if !FileManager.default.fileExists(atPath: input) { _ = try ReplayBench.prepare(panel: panel, dataDir: dataDir) }
        print("## Per-series thresholds on the national panel (\(panel.count / 120) series × 120 months, 6 NB2 models, one detector, no trace)\n")
        print("| detectors | wall s | evaluate s | levels of E | solved from scratch | solving s (all workers) | alerts |")
        print("|---|---|---|---|---|---|---|")
        for variant in ReplayBench.calibrationVariants {
            let models = try ReplayBench.calibrationModels(dataDir: dataDir, variant: variant)
            guard let run = ReplayBench.runVigil(input: input, models: models, trace: nil) else { continue }
            let lines = run.output.split(separator: "\n").map(String.init)
            let evaluated = lines.first { $0.hasPrefix("evaluated ") } ?? ""
            let numbers = { (text: String) in
                text.split(whereSeparator: { !"0123456789.".contains($0) }).compactMap { Double($0) }
            }
            let e = numbers(evaluated)   // series, [levels, nodes, solving,] evaluate seconds
            let alerts = lines.first { $0.hasPrefix("alerts: ") }.flatMap { numbers($0).first } ?? .nan
            let solving = e.count >= 5 ? "| \(Int(e[1])) | \(Int(e[2])) | \(f(e[3], 2)) " : "| — | — | — "
            print("| \(variant.label) | \(f(run.seconds, 2)) | \(f(e.last ?? .nan, 2)) \(solving)| \(Int(alerts)) |")
            FileHandle.standardError.write(Data("calibration \(variant.name): \(f(run.seconds, 2)) s\n".utf8))
        }
        print("")
    }

    static func f(_ x: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", x) }
    static func e(_ x: Double) -> String { String(format: "%.1e", x) }

    static func maxRelative(_ a: [Double], _ b: [Double]) -> Double {
        guard a.count == b.count else { return .nan }
        return zip(a, b).map { abs($0 - $1) / max(abs($1), 1e-8) }.max() ?? 0
    }
}

enum Machine {
    static func describe() -> String {
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "unknown"
        let memory = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8))?
            .split(separator: "\n").first?.split(separator: " ").dropFirst().first.flatMap { Double($0) }
            .map { String(format: "%.1f GiB", $0 / 1_048_576) } ?? "unknown"
        return """
        - CPU: \(cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores
        - memory: \(memory)
        - OS: \(ProcessInfo.processInfo.operatingSystemVersionString)
        - BLAS: \(LinearAlgebra.blasConfiguration)
        """
    }
}
