import Foundation
import Testing
import VigilCore

/// Runs the built `vigil` binary as a user would.
enum VigilBinary {
    static var url: URL {
        let candidates = [Bundle.main.bundleURL.appendingPathComponent("vigil"),
                          Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("vigil")]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }

    struct Result: Sendable {
        let status: Int32
        /// A signal (a trap) ended it.
        let signalled: Bool
        let stdout: String
        let stderr: String
    }

    /// Runs the binary to its end, waited for on a thread of its own: a test waiting for it must not hold
    /// one of the concurrency pool's threads (two on a 2-core machine), which the daemon tests' servers need.
    static func run(_ arguments: [String]) async throws -> Result {
        try await onOwnThread { try runBlocking(arguments) }
    }

    /// Runs the binary to its end on the calling thread (for code already on a thread of its own).
    static func runBlocking(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
                      stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}

/// A temporary CSV file, removed when the test ends.
final class TemporaryCSV {
    let path: String
    init(_ contents: String, name: String = "data.csv") throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        path = dir.appendingPathComponent(name).path
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
    }
    deinit { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
}

struct FitCommandTests {
    /// The bundled example, fitted by `vigil fit --format json`, against MASS::glm.nb on the same rows.
    @Test func jsonMatchesMASSOnTheBundledExample() async throws {
        let data = VigilBinary.repositoryRoot.appendingPathComponent("Examples/facility-months.csv").path
        let result = try await VigilBinary.run(["fit", "--family", "negbin", "--data", data, "--response", "events",
                                          "--offset", "exposure", "--covariates", "beds,teaching,icu_share,size",
                                          "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["family"] as? String == "negbin")
        #expect(object["link"] as? String == "log")
        #expect(object["n"] as? Int == 3000)
        #expect(object["converged"] as? Bool == true)
        let reference = try CSVTable(path: VigilBinary.repositoryRoot
            .appendingPathComponent("Tests/VigilStatsTests/References/glm-panel-negbin-fit.csv").path,
            commentByte: UInt8(ascii: "#"))
        var expected: [String: Double] = [:]
        for i in 0..<reference.rowCount where reference.column("kind")![i] == "estimate" {
            expected[reference.column("name")![i]] = Double(reference.column("value")![i])
        }
        let coefficients = try #require(object["coefficients"] as? [[String: Any]])
        #expect(coefficients.map { $0["name"] as? String } == ["intercept", "beds", "teaching", "icu_share",
                                                               "size[medium]", "size[small]"])
        for c in coefficients {
            let name = c["name"] as! String
            let estimate = try #require(c["estimate"] as? Double)
            let reference = try #require(expected[name])
            #expect(abs(estimate - reference) <= 1e-6 * abs(reference), "\(name)")
            for key in ["std_error", "z", "p"] { #expect(c[key] is Double, "\(name).\(key)") }
        }
        for key in ["deviance", "null_deviance", "aic", "log_likelihood", "theta", "theta_std_error"] {
            #expect(object[key] is Double, "\(key)")
        }
        #expect(object["iterations"] is Int)
    }

    @Test func tableLooksLikeRsSummary() async throws {
        let csv = try TemporaryCSV("y,x,g\n1,0.5,a\n0,1.5,b\n3,2.5,a\n2,3.5,b\n5,4.5,a\n4,5.5,b\n")
        let result = try await VigilBinary.run(["fit", "--family", "poisson", "--data", csv.path, "--response", "y",
                                          "--covariates", "x,g"])
        #expect(result.status == 0, "\(result.stderr)")
        for line in ["Coefficients:", "Estimate Std. Error z value Pr(>|z|)", "intercept", "g[b]",
                     "(Dispersion parameter for poisson family taken to be 1)", "Null deviance:", "AIC:",
                     "Number of Fisher Scoring iterations:"] {
            #expect(result.stdout.contains(line), "missing \(line)")
        }
    }

    struct BadInput: CustomTestStringConvertible, Sendable {
        let label: String
        let csv: String
        let arguments: [String]
        let message: String
        var testDescription: String { label }
    }

    static let badInputs: [BadInput] = [
        BadInput(label: "missing column", csv: "y,x\n1,2\n", arguments: ["--family", "poisson", "--response", "z"],
                 message: "no column \"z\""),
        BadInput(label: "non-numeric response", csv: "y,x\n1,2\nabc,3\n4,5\n",
                 arguments: ["--family", "poisson", "--response", "y", "--covariates", "x"],
                 message: "data.csv:3: y: \"abc\" is not a number"),
        BadInput(label: "negative count", csv: "y,x\n1,2\n-2,3\n4,5\n",
                 arguments: ["--family", "negbin", "--response", "y", "--covariates", "x"],
                 message: "data.csv:3: y: \"-2\" is not a count >= 0"),
        BadInput(label: "non-integer count", csv: "y,x\n1,2\n2,3\n4.5,5\n",
                 arguments: ["--family", "poisson", "--response", "y", "--covariates", "x"],
                 message: "data.csv:4: y: \"4.5\" is not a count >= 0"),
        BadInput(label: "binomial response", csv: "y,x\n1,2\n0,3\n2,5\ntrue,1\n",
                 arguments: ["--family", "binomial", "--response", "y", "--covariates", "x"],
                 message: "data.csv:4: y: \"2\" is not an outcome 0/1 (or true/false)"),
        BadInput(label: "offset <= 0", csv: "y,days\n1,20\n2,0\n3,-4\n",
                 arguments: ["--family", "poisson", "--response", "y", "--offset", "days"],
                 message: "data.csv:3: days: \"0\" is not > 0"),
        BadInput(label: "empty data set", csv: "y,x\n", arguments: ["--family", "poisson", "--response", "y"],
                 message: "the data set is empty"),
        BadInput(label: "single-level covariate", csv: "y,unit\n1,ICU\n2,ICU\n3,ICU\n",
                 arguments: ["--family", "poisson", "--response", "y", "--covariates", "unit"],
                 message: "covariate unit has one level only"),
        BadInput(label: "wrong field count", csv: "y,x\n1,2\n2,3,4\n",
                 arguments: ["--family", "poisson", "--response", "y", "--covariates", "x"],
                 message: "data.csv:3: 3 fields, the header has 2"),
    ]

    @Test(arguments: badInputs)
    func badInputIsAClearError(_ bad: BadInput) async throws {
        let csv = try TemporaryCSV(bad.csv)
        let result = try await VigilBinary.run(["fit", "--data", csv.path] + bad.arguments)
        #expect(result.status == 1)
        #expect(result.stderr.contains(bad.message), "stderr: \(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func missingFile() async throws {
        let result = try await VigilBinary.run(["fit", "--family", "poisson", "--data", "/nonexistent/x.csv", "--response", "y"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("/nonexistent/x.csv: no such file"))
    }

    @Test func usageErrorExits64() async throws {
        let result = try await VigilBinary.run(["fit", "--family", "gamma", "--data", "x.csv", "--response", "y"])
        #expect(result.status == 64)
    }

    /// Every bad row is reported, not only the first.
    @Test func reportsEveryBadRow() async throws {
        let csv = try TemporaryCSV("y,x\n-1,2\n2,3\nx,4\n1.5,5\n")
        let result = try await VigilBinary.run(["fit", "--data", csv.path, "--family", "poisson", "--response", "y"])
        for line in [2, 4, 5] { #expect(result.stderr.contains("data.csv:\(line): y:"), "line \(line)") }
    }
}

struct ARLCommandTests {
    private func object(_ arguments: [String]) async throws -> [String: Any] {
        let result = try await VigilBinary.run(["arl"] + arguments)
        #expect(result.status == 0, "\(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    /// METHODS.md's table (spc 0.6.7): one-sided CUSUM k = 0.5, h = 4: ARL0 335.37, ARL1 8.38 at 1σ.
    @Test func normalCUSUMAgainstMethodsTable() async throws {
        let o = try await object(["--type", "normal_cusum", "--k", "0.5", "--h", "4", "--shift", "1"])
        #expect(abs((o["arl0"] as! Double) - 335.37) < 0.005 * 335.37)
        #expect(abs((o["arl1"] as! Double) - 8.38) < 0.005 * 8.38)
    }

    @Test func ewmaSolvesL() async throws {
        let o = try await object(["--type", "ewma", "--lambda", "0.2", "--arl0", "371.10", "--sided", "two"])
        #expect(abs((o["L"] as! Double) - 2.86) < 0.005)
        #expect(abs((o["arl1"] as! Double) - 9.80) < 0.05)
    }

    @Test func negbinCUSUMSolvesH() async throws {
        let o = try await object(["--type", "negbin_cusum", "--ratio", "1.5", "--theta", "2.5", "--expected", "3", "--arl0", "120"])
        let h = try #require(o["h"] as? Double)
        #expect((o["arl0"] as! Double) >= 120)
        #expect((o["arl1"] as! Double) < 120)
        #expect(h > 0)
    }

    @Test func bernoulliCUSUMWithRiskFile() async throws {
        let csv = try TemporaryCSV("p\n0.02\n0.05\n0.1\n0.2\n")
        let o = try await object(["--type", "bernoulli_cusum", "--odds_ratio", "2", "--h", "3", "--risks", csv.path])
        #expect((o["arl0"] as! Double) > (o["arl1"] as! Double))
    }

    /// A chart watching down has its ARL1 at a mean shifted down: shorter than its ARL0.
    @Test func downwardChartsShiftDown() async throws {
        for type in [["--type", "normal_cusum", "--h", "4"], ["--type", "ewma", "--lambda", "0.2", "--L", "2.5"]] {
            let o = try await object(type + ["--expected", "4", "--direction", "down"])
            #expect((o["arl1"] as! Double) < (o["arl0"] as! Double) / 5, "\(type)")
        }
    }

    /// Keys are the type's own, checked by its rules.
    @Test func keysAreTheTypesOwn() async throws {
        let wrong = try await VigilBinary.run(["arl", "--type", "ewma", "--lambda", "0.2", "--h", "3"])
        #expect(wrong.status == 64 && wrong.stderr.contains("--h is not a key of ewma"))
        let range = try await VigilBinary.run(["arl", "--type", "ewma", "--lambda", "1.5", "--L", "3"])
        #expect(range.status == 64 && range.stderr.contains("--lambda must be a number in (0, 1]"))
    }

    @Test func missingKeysAreUsageErrors() async throws {
        #expect(try await VigilBinary.run(["arl", "--type", "poisson_cusum", "--ratio", "1.5", "--h", "4"]).status == 64)
        #expect(try await VigilBinary.run(["arl", "--type", "nope", "--h", "4"]).status == 64)
        #expect(try await VigilBinary.run(["arl", "--type", "normal_cusum", "--h", "4", "--arl0", "100"]).status == 64)
    }
}

struct ValidateAndReplayCommandTests {
    @Test func validateConfigChecksItsModelsToo() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-validate-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let models = VigilBinary.repositoryRoot.appendingPathComponent("Models").path
        try "0123456789abcdef0123\n".write(toFile: "\(dir)/ingest.token", atomically: true, encoding: .utf8)
        try "models: \(models)\nstate_dir: state\nhttp: { listen: 127.0.0.1:8480, token_file: ingest.token }\n"
            .write(toFile: "\(dir)/vigil.yaml", atomically: true, encoding: .utf8)
        let good = try await VigilBinary.run(["validate", "--config", "\(dir)/vigil.yaml"])
        #expect(good.status == 0)
        #expect(good.stdout.hasPrefix("config valid; ") && good.stdout.hasSuffix(" models valid\n"))

        try "models: \(models)\nstate_dir: state\nhttp: { listen: 127.0.0.1:99999, token_file: ingest.token }\n"
            .write(toFile: "\(dir)/bad.yaml", atomically: true, encoding: .utf8)
        let bad = try await VigilBinary.run(["validate", "--config", "\(dir)/bad.yaml"])
        #expect(bad.status == 1)
        #expect(bad.stderr == "\(dir)/bad.yaml:3:17: http.listen: must be host:port with a port from 1 to 65535 (e.g. 127.0.0.1:8480)\n")

        // A model's alert.sinks must name sinks of the config.
        try FileManager.default.createDirectory(atPath: "\(dir)/models", withIntermediateDirectories: true)
        try """
            model: routed
            measure: CLABSI
            expected: { kind: rate, rate: 0.001 }
            detectors: [{ id: c, type: poisson_cusum, ratio: 2, h: 4 }]
            alert: { sinks: [alerts-file, pager] }

            """.write(toFile: "\(dir)/models/routed.yaml", atomically: true, encoding: .utf8)
        try "models: models\nstate_dir: state\nhttp: { listen: 127.0.0.1:8480, token_file: ingest.token }\n"
            .appending("sinks: [{ name: alerts-file, type: file, path: alerts.jsonl }]\n")
            .write(toFile: "\(dir)/routed.yaml", atomically: true, encoding: .utf8)
        let routed = try await VigilBinary.run(["validate", "--config", "\(dir)/routed.yaml"])
        #expect(routed.status == 1)
        #expect(routed.stderr == "\(dir)/models/routed.yaml:5:17: alert.sinks: no sink \"pager\" in the daemon config (its sinks: alerts-file)\n",
                "\(routed.stderr)")
    }

    @Test func replayWritesTraceReportAndTimings() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-replay-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let root = VigilBinary.repositoryRoot
        let result = try await VigilBinary.run([
            "replay", "--models", root.appendingPathComponent("Models").path,
            "--input", root.appendingPathComponent("Examples/demo/hai-monthly.csv").path,
            "--trace", "\(dir)/trace.csv", "--report", "\(dir)/report.html", "--timings",
            "--truth", root.appendingPathComponent("Examples/demo/truth.csv").path])
        #expect(result.status == 0)
        // The monthly HAI feed holds 9 of the demo's 17 planted changes; the line says how many were found.
        #expect(result.stdout.contains(" of 17 planted changes found"), "\(result.stdout)")
        #expect(result.stdout.contains(" per 100 series-years ("))
        #expect(result.stderr.contains("read and checked ") && result.stderr.contains("peak resident memory: "))
        let trace = try String(contentsOfFile: "\(dir)/trace.csv", encoding: .utf8)
        #expect(trace.hasPrefix("model,detector,facility_id,measure,period,observed,expected,statistic,threshold,signal\n"))
        let rows = trace.split(separator: "\n").count - 1
        #expect(result.stdout.contains("trace: \(rows) rows"))
        #expect(try String(contentsOfFile: "\(dir)/report.html", encoding: .utf8).contains("<h2>Firing alerts (<span id=\"alert-count\">"))
    }

    /// The nursing-home, readmission and VAE models on the demo's feeds of those programs (make-demo.py): every
    /// model fits, every planted change raises an alert at its facility, and the false alerts stay within the
    /// models' budgets (2 a year per model).
    @Test func programAreaModelsOnTheDemoFeeds() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-programs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let root = VigilBinary.repositoryRoot
        let models = ["ltc-cdi", "ltc-uti", "nh-falls", "nh-pressure-ulcers", "readmissions-facility", "readmissions-patient", "vae-acute"]
        for m in models {
            try FileManager.default.copyItem(atPath: root.appendingPathComponent("Models/\(m).yaml").path, toPath: "\(dir)/\(m).yaml")
        }
        let feeds = ["nursing-homes", "readmissions", "readmissions-patients", "vae-monthly"].map {
            root.appendingPathComponent("Examples/demo/\($0).csv").path
        }
        let result = try await VigilBinary.run(["replay", "--models", dir, "--alerts", "\(dir)/alerts.jsonl", "--input"] + feeds
            + ["--truth", root.appendingPathComponent("Examples/demo/truth.csv").path])
        #expect(result.status == 0, "\(result.stderr)")
        let status = try await VigilBinary.run(["validate", dir, "--input"] + feeds)
        #expect(status.status == 0, "\(status.stdout)")
        for m in models { #expect(status.stdout.contains("model \(m): fitted"), "\(status.stdout)") }
        #expect(status.stdout.contains("ρ "), "a beta-binomial fit reports its ρ")
        let alerts = try String(contentsOfFile: "\(dir)/alerts.jsonl", encoding: .utf8)
        for (m, facility) in [("nh-falls", "NH675007"), ("ltc-cdi", "NH675031"), ("readmissions-facility", "330112"),
                              ("readmissions-patient", "330105"), ("vae-acute", "330120")] {
            #expect(alerts.contains("\"model\":\"\(m)\"") && alerts.split(separator: "\n").contains {
                $0.contains("\"model\":\"\(m)\"") && $0.contains("\"facility_id\":\"\(facility)\"")
            }, "no alert of \(m) at \(facility)")
        }
        // "… (A alerts, Y series-years)": the budgets allow 2 false alarms a year per model over the 1.5
        // monitored years, about 21 for the seven; twice that fails.
        let line = try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix("truth: ") })
        let falseAlerts = Int(line.split(separator: "(").last?.split(separator: " ").first ?? "") ?? .max
        #expect(falseAlerts <= 42, "\(line)")
    }
}
