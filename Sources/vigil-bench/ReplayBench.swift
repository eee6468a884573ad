import Foundation

/// The replay benchmark of the national panel: `vigil replay` (the release binary, as a user runs it) over
/// the 4.32M records with six one-measure NB2 models fitted on the first 24 months and two detectors each,
/// writing the trace; and the same computation as a plain R loop over the series (MASS::glm.nb for the
/// fits), whose signal counts and statistic sums must agree with vigil's trace.
enum ReplayBench {
    static let detectors = ["nb", "ewma"]

    struct VigilRun {
        let seconds: Double
        let output: String
        /// Every run's seconds, when this is the median of several.
        var all: [Double] = []
    }

    /// Runs of each side, interleaved so that a slower minute of the host weighs on both alike.
    static let repeats = 3

    /// The median vigil run and the R loop's run with the median `total` (empty without R), of `repeats`
    /// interleaved runs; nil when vigil failed.
    static func medians(external: Bool, vigil: () -> VigilRun?, r: () -> [String: ExternalFit]?,
                        total: String) -> (VigilRun, [String: ExternalFit])? {
        var runs: [VigilRun] = [], loops: [[String: ExternalFit]] = []
        for _ in 0..<repeats {
            guard let run = vigil() else { return nil }
            runs.append(run)
            if external, let loop = r(), loop[total] != nil { loops.append(loop) }
        }
        runs.sort { $0.seconds < $1.seconds }
        loops.sort { ($0[total]?.seconds ?? 0) < ($1[total]?.seconds ?? 0) }
        var median = runs[runs.count / 2]
        median.all = runs.map(\.seconds)
        return (median, loops.isEmpty ? [:] : loops[loops.count / 2])
    }

    /// Writes the panel as SPEC §1 records (periods `YYYY-MM` from 2016-01) and the six model files.
    static func prepare(panel: NationalPanel, dataDir: String) throws -> (input: String, models: String) {
        let input = "\(dataDir)/replay-panel.csv"
        var out = "facility_id,measure,period,beds,teaching,icu_share,size,exposure,events\n"
        out.reserveCapacity(panel.count * 48)
        for i in 0..<panel.count {
            let m = Int(panel.month[i])
            let period = "\(2016 + m / 12)-\(m % 12 < 9 ? "0" : "")\(m % 12 + 1)"
            out += "F\(panel.facility[i]),\(NationalPanel.measures[Int(panel.measure[i])]),\(period),\(Int(panel.beds[i])),"
            out += "\(Int(panel.teaching[i])),\(panel.icuShare[i]),\(NationalPanel.sizeLevels[Int(panel.size[i])]),"
            out += "\(Int(panel.exposure[i])),\(Int(panel.events[i]))\n"
        }
        try out.write(toFile: input, atomically: false, encoding: .utf8)
        let models = try writeModels(directory: "\(dataDir)/replay-models", detectors: """
              - { id: nb, type: negbin_cusum, ratio: 2, h: 4 }
              - { id: ewma, type: ewma, lambda: 0.2, L: 3 }
            """)
        return (input, models)
    }

    /// Detectors of the calibration benchmark: one fixed threshold (the baseline), and the per-series and
    /// budget thresholds whose solving it measures.
    static let calibrationVariants: [(name: String, label: String, detectors: String, alert: String)] = [
        ("fixed", "negbin_cusum h 4 (one threshold)", "  - { id: nb, type: negbin_cusum, ratio: 2, h: 4 }", ""),
        ("nb_series", "negbin_cusum, per_series, arl0 1200", "  - { id: nb, type: negbin_cusum, ratio: 2, arl0: 1200, per_series: true }", ""),
        ("nb_budget", "negbin_cusum, false_alarms_per_year 50", "  - { id: nb, type: negbin_cusum, ratio: 2, per_series: true }",
         "alert: { false_alarms_per_year: 50 }\n"),
        ("normal_series", "normal_cusum k 0.5, per_series, arl0 1200", "  - { id: z, type: normal_cusum, k: 0.5, arl0: 1200, per_series: true }", ""),
        ("ewma_series", "ewma λ 0.2, per_series, arl0 1200", "  - { id: ewma, type: ewma, lambda: 0.2, arl0: 1200, per_series: true }", ""),
    ]

    /// The six models of the replay benchmark with a variant's detectors instead of theirs.
    static func calibrationModels(dataDir: String, variant: (name: String, label: String, detectors: String, alert: String)) throws -> String {
        try writeModels(directory: "\(dataDir)/calibration-\(variant.name)", detectors: variant.detectors, alert: variant.alert)
    }

    /// One model file per measure (NB2 on the panel's covariates, baseline 2016–2017) with these detector lines.
    static func writeModels(directory models: String, detectors: String, alert: String = "") throws -> String {
        try? FileManager.default.removeItem(atPath: models)
        try FileManager.default.createDirectory(atPath: models, withIntermediateDirectories: true)
        for measure in NationalPanel.measures {
            let name = measure.lowercased()
            try """
            model: \(name)
            measure: \(measure)
            unit: month
            expected:
              kind: negative_binomial
              covariates: [beds, teaching, icu_share, size]
              baseline: { from: 2016-01, to: 2017-12 }
            detectors:
            \(detectors)
            \(alert)
            """.write(toFile: "\(models)/\(name).yaml", atomically: true, encoding: .utf8)
        }
        return models
    }

    /// The alerts workload: the same six models with a Poisson CUSUM (on NB2 counts it alarms often: ≈ 10⁵
    /// alerts) beside the EWMA, every alert written as its JSON object.
    static func alertsModels(dataDir: String) throws -> String {
        try writeModels(directory: "\(dataDir)/alerts-models", detectors: """
              - { id: pois, type: poisson_cusum, ratio: 2, h: 4 }
              - { id: ewma, type: ewma, lambda: 0.2, L: 3 }
            """)
    }

    /// Alerts per "model/detector" in an alerts JSON Lines file.
    static func alertCounts(path: String) -> [String: Int] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        var out: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let model = object["model"] as? String, let detector = object["detector"] as? String else { continue }
            out["\(model)/\(detector)", default: 0] += 1
        }
        return out
    }

    /// Runs the `vigil` binary built next to this one; nil when it is not there.
    static func runVigil(input: String, models: String, trace: String?, alerts: String? = nil) -> VigilRun? {
        let binary = Bench.vigilURL.path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            FileHandle.standardError.write(Data("replay: no vigil binary at \(binary); run `scripts/build` first\n".utf8))
            return nil
        }
        let arguments = ["replay", "--timings", "--models", models, "--input", input] + (trace.map { ["--trace", $0] } ?? [])
            + (alerts.map { ["--alerts", $0] } ?? [])
        guard let run = Spawn.run(binary, arguments, mergeErrors: true), run.status == 0 else { return nil }
        return VigilRun(seconds: run.seconds, output: run.output)
    }

    /// Signals and the sum of the statistic per "model/detector" in a trace CSV.
    static func traceSummary(path: String) -> [String: (signals: Int, sum: Double)] {
        var out: [String: (signals: Int, sum: Double)] = [:]
        guard let handle = FileHandle(forReadingAtPath: path) else { return out }
        var pending: [UInt8] = []
        var header = true
        func line(_ bytes: ArraySlice<UInt8>) {
            if header { header = false; return }
            let fields = bytes.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
            guard fields.count == 10, let statistic = Double(String(decoding: fields[7], as: UTF8.self)) else { return }
            let key = String(decoding: fields[0], as: UTF8.self) + "/" + String(decoding: fields[1], as: UTF8.self)
            var entry = out[key] ?? (0, 0)
            entry.sum += statistic
            if fields[9].first == UInt8(ascii: "1") { entry.signals += 1 }
            out[key] = entry
        }
        while let chunk = try? handle.read(upToCount: 1 << 22), !chunk.isEmpty {
            pending.append(contentsOf: chunk)
            var start = 0
            while let end = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                line(pending[start..<end])
                start = end + 1
            }
            pending.removeFirst(start)
        }
        return out
    }

    /// The R loops' start: MASS, and the panel read (`t0`, `panel`).
    static func rReadPanel(_ input: String) -> String {
        """
        suppressMessages(library(MASS))
        t0 <- proc.time()[["elapsed"]]
        panel <- read.csv("\(input)", stringsAsFactors = FALSE)
        """
    }

    /// Inside the R loops' `for (m in measures)`: measure m's NB2 fit on 2016–2017 (`theta`), its monitored months
    /// with E (`mon`, by facility and period), the fit's time added to `t_fit`; `t2` ends it.
    static let rFitMeasure = """
          t1 <- proc.time()[["elapsed"]]
          d <- panel[panel$measure == m, ]
          d$size <- factor(d$size, levels = levels)
          base <- d[d$period <= "2017-12", ]
          fit <- glm.nb(events ~ beds + teaching + icu_share + size + offset(log(exposure)), data = base,
                        control = glm.control(epsilon = 1e-8, maxit = 25))
          theta <- fit$theta
          mon <- d[d$period > "2017-12", ]
          mon$e <- predict(fit, newdata = mon, type = "response")
          mon <- mon[order(mon$facility_id, mon$period, method = "radix"), ]
          t2 <- proc.time()[["elapsed"]]; t_fit <- t_fit + t2 - t1
        """

    /// The R loop. Prints `replay_total seconds`, `replay_read`, `replay_fit`, `replay_loop`, and per model and
    /// detector `model/detector signals sum` (read back through `External.run`'s `name number numbers…` lines).
    static func rScript(input: String) -> String {
        """
        \(rReadPanel(input))
        t_read <- proc.time()[["elapsed"]] - t0; t_fit <- 0; t_loop <- 0
        levels <- sort(unique(panel$size), method = "radix")
        for (m in sort(unique(panel$measure), method = "radix")) {
        \(rFitMeasure)
          nbSignals <- 0; nbSum <- 0; ewSignals <- 0; ewSum <- 0
          lambda <- 0.2; L <- 3; h <- 4; r <- 2
          for (s in split(seq_len(nrow(mon)), mon$facility_id)) {
            o <- mon$events[s]; e <- mon$e[s]; v <- e + e^2 / theta
            st <- 0
            for (i in seq_along(o)) {
              st <- max(0, st + o[i] * log(r) + (o[i] + theta) * log((theta + e[i]) / (theta + r * e[i])))
              nbSum <- nbSum + st
              if (st > h) { nbSignals <- nbSignals + 1; st <- 0 }
            }
            z <- 0; t <- 0
            for (i in seq_along(o)) {
              t <- t + 1
              z <- lambda * (o[i] - e[i]) / sqrt(v[i]) + (1 - lambda) * z
              ewSum <- ewSum + z
              if (z > L * sqrt(lambda / (2 - lambda) * (1 - (1 - lambda)^(2 * t)))) { ewSignals <- ewSignals + 1; z <- 0; t <- 0 }
            }
          }
          t_loop <- t_loop + proc.time()[["elapsed"]] - t2
          name <- tolower(m)
          cat(paste0(name, "/nb"), nbSignals, sprintf("%.17g", nbSum), "\\n")
          cat(paste0(name, "/ewma"), ewSignals, sprintf("%.17g", ewSum), "\\n")
        }
        cat("replay_read", t_read, "\\n"); cat("replay_fit", t_fit, "\\n"); cat("replay_loop", t_loop, "\\n")
        cat("replay_total", proc.time()[["elapsed"]] - t0, "\\n")
        """
    }

    /// The alerts workload as a plain R loop: the same fits and detectors, and each signal written as an alert
    /// line (model, detector, facility, period, O, E, SIR and NHSN's mid-P interval when E ≥ 1, statistic,
    /// threshold; the interval's limits solved once per O, as vigil does). Prints `alerts_total seconds`,
    /// `alerts_read`, `alerts_fit`, `alerts_loop`, `alerts_write` and per model and detector `model/detector count`.
    static func rAlertsScript(input: String, output: String) -> String {
        """
        \(rReadPanel(input))
        t_read <- proc.time()[["elapsed"]] - t0; t_fit <- 0; t_loop <- 0; t_write <- 0
        limits <- new.env()
        midp <- function(o) {
          key <- as.character(o)
          if (!is.null(limits[[key]])) return(limits[[key]])
          up <- uniroot(function(l) ppois(o - 1, l) + 0.5 * dpois(o, l) - 0.025, c(1e-12, 10 * o + 20), tol = 1e-12)$root
          lo <- if (o == 0) 0 else uniroot(function(l) ppois(o, l, lower.tail = FALSE) + 0.5 * dpois(o, l) - 0.025,
                                           c(1e-12, 10 * o + 20), tol = 1e-12)$root
          limits[[key]] <- c(lo, up)
          c(lo, up)
        }
        alert <- function(model, detector, facility, period, o, e, stat, threshold) {
          sir <- if (e >= 1) sprintf("%.17g", o / e) else "null"
          ci <- if (e >= 1) { l <- midp(o) / e; sprintf("[%.17g,%.17g]", l[1], l[2]) } else "null"
          sprintf('{"model":"%s","detector":"%s","facility_id":"%s","period":"%s","observed":%d,"expected":%.17g,"sir":%s,"sir_ci95":%s,"statistic":%.17g,"threshold":%.17g}',
                  model, detector, facility, period, as.integer(o), e, sir, ci, stat, threshold)
        }
        out <- file("\(output)", "w")
        levels <- sort(unique(panel$size), method = "radix")
        for (m in sort(unique(panel$measure), method = "radix")) {
        \(rFitMeasure)
          name <- tolower(m)
          lines <- vector("list", 0); nPois <- 0; nEwma <- 0
          lambda <- 0.2; L <- 3; h <- 4; r <- 2
          for (s in split(seq_len(nrow(mon)), mon$facility_id)) {
            o <- mon$events[s]; e <- mon$e[s]; v <- e + e^2 / theta; f <- mon$facility_id[s[1]]; p <- mon$period[s]
            st <- 0
            for (i in seq_along(o)) {
              st <- max(0, st + o[i] * log(r) - (r - 1) * e[i])
              if (st > h) { nPois <- nPois + 1; lines[[length(lines) + 1]] <- alert(name, "pois", f, p[i], o[i], e[i], st, h); st <- 0 }
            }
            z <- 0; t <- 0
            for (i in seq_along(o)) {
              t <- t + 1
              z <- lambda * (o[i] - e[i]) / sqrt(v[i]) + (1 - lambda) * z
              limit <- L * sqrt(lambda / (2 - lambda) * (1 - (1 - lambda)^(2 * t)))
              if (z > limit) { nEwma <- nEwma + 1; lines[[length(lines) + 1]] <- alert(name, "ewma", f, p[i], o[i], e[i], z, limit); z <- 0; t <- 0 }
            }
          }
          t3 <- proc.time()[["elapsed"]]; t_loop <- t_loop + t3 - t2
          writeLines(unlist(lines), out)
          t_write <- t_write + proc.time()[["elapsed"]] - t3
          cat(paste0(name, "/pois"), nPois, "\\n")
          cat(paste0(name, "/ewma"), nEwma, "\\n")
        }
        close(out)
        cat("alerts_read", t_read, "\\n"); cat("alerts_fit", t_fit, "\\n"); cat("alerts_loop", t_loop, "\\n")
        cat("alerts_write", t_write, "\\n"); cat("alerts_total", proc.time()[["elapsed"]] - t0, "\\n")
        """
    }
}
