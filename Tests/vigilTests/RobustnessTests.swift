import Foundation
import Testing
import VigilStats

/// No feed or model file can crash a command: degenerate data give R's answer or a message, mutated files
/// exit 0, 1 or 64 — never a signal.
struct RobustnessTests {
    static let references = VigilBinary.repositoryRoot.appendingPathComponent("Tests/VigilStatsTests/References")

    /// A directory with an all-zero MRSA baseline (no offset) beside a CLABSI model that alerts.
    final class DegenerateNetwork {
        let dir: URL
        init() throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-degenerate-\(UUID().uuidString.prefix(8))")
            let models = dir.appendingPathComponent("models")
            try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
            try """
                model: mrsa-nb
                measure: MRSA
                expected: { kind: negative_binomial, covariates: [beds], offset: none, baseline: { from: 2023-01, to: 2023-12 } }
                detectors: [{ id: nb, type: negbin_cusum, ratio: 2, arl0: 100 }]

                """.write(to: models.appendingPathComponent("mrsa.yaml"), atomically: true, encoding: .utf8)
            try FileManager.default.copyItem(at: ReplayFiles.models.appendingPathComponent("clabsi-nb.yaml"),
                                             to: models.appendingPathComponent("clabsi-nb.yaml"))
            var mrsa = "facility_id,measure,period,events,beds\n"
            for (f, beds) in [("M1", 120), ("M2", 250), ("M3", 400), ("M4", 90)] {
                for m in 1...12 { mrsa += "\(f),MRSA,2023-\(String(format: "%02d", m)),0,\(beds)\n" }
                for m in 1...6 { mrsa += "\(f),MRSA,2024-\(String(format: "%02d", m)),2,\(beds)\n" }
            }
            try mrsa.write(to: dir.appendingPathComponent("mrsa.csv"), atomically: true, encoding: .utf8)
        }
        deinit { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
    }

    @Test func replayReportsAnUnfittedModelAndGoesOn() async throws {
        let net = try DegenerateNetwork()
        let clabsi = ReplayFiles.root.appendingPathComponent("inputs/1-clabsi.csv").path
        let result = try await VigilBinary.run(["replay", "--models", net.path("models"), "--input", net.path("mrsa.csv"), clabsi,
                                          "--alerts", net.path("alerts.jsonl")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("warning: model mrsa-nb unfitted, its series are not evaluated: the baseline has no events"))
        let alerts = try String(contentsOfFile: net.path("alerts.jsonl"), encoding: .utf8)
        #expect(alerts.contains("\"model\":\"clabsi-nb\"") && !alerts.contains("\"model\":\"mrsa-nb\""))
    }

    @Test func validateWithInputPrintsEachModelsStatus() async throws {
        let net = try DegenerateNetwork()
        let clabsi = ReplayFiles.root.appendingPathComponent("inputs/1-clabsi.csv").path
        let result = try await VigilBinary.run(["validate", net.path("models"), "--input", net.path("mrsa.csv"), clabsi])
        #expect(result.status == 1)
        #expect(result.stdout.contains("model mrsa-nb: unfitted"), "\(result.stdout)")
        #expect(result.stdout.contains("model clabsi-nb: fitted ("), "\(result.stdout)")
        let fine = try await VigilBinary.run(["validate", ReplayFiles.models.appendingPathComponent("clabsi-nb.yaml").path, "--input", clabsi])
        #expect(fine.status == 0, "\(fine.stdout)\(fine.stderr)")
    }

    /// `vigil fit` on data R fits with warnings prints R's estimates and the warnings and exits 0; on data R
    /// cannot fit (glm.nb on all-zero counts: "missing value where TRUE/FALSE needed") it says why and exits 1.
    @Test func fitPrintsWarningsAsRAndFailsWhereRFails() async throws {
        func stripped(_ name: String) throws -> TemporaryCSV {
            let text = try String(contentsOf: Self.references.appendingPathComponent(name), encoding: .utf8)
            return try TemporaryCSV(text.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n") + "\n")
        }
        let poissonLike = try stripped("glm-poissonlike-data.csv")
        let fit = try await VigilBinary.run(["fit", "--family", "negbin", "--data", poissonLike.path, "--response", "events",
                                       "--covariates", "x", "--format", "json"])
        #expect(fit.status == 0, "\(fit.stderr)")
        #expect(fit.stdout.contains("alternation limit reached"))
        let table = try await VigilBinary.run(["fit", "--family", "negbin", "--data", poissonLike.path, "--response", "events",
                                         "--covariates", "x"])
        #expect(table.status == 0 && table.stdout.contains("Warning: alternation limit reached"))
        let allZero = try stripped("glm-allzero-data.csv")
        let zero = try await VigilBinary.run(["fit", "--family", "negbin", "--data", allZero.path, "--response", "events",
                                        "--covariates", "beds"])
        #expect(zero.status == 1)
        #expect(zero.stderr.contains("non-finite"), "\(zero.stderr)")
    }

    /// Seeded mutations of real record, model and mapping files and of feeds in their published layouts
    /// (field values swapped for hostile ones, bytes flipped, lines cut or repeated): every `replay`,
    /// `validate` and `fit` exits 0, 1 or 64 with no signal.
    /// `VIGIL_MUTATION_SEED` and `VIGIL_MUTATION_RUNS` run a longer search.
    @Test func mutatedFilesNeverCrashACommand() async throws {
        // Hundreds of processes waited for: on a thread of its own, not one of Swift's cooperative threads
        // (two on a 2-core machine), which other suites' servers need.
        let failures = try await onOwnThread { try Self.mutate() }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n\n"))")
    }

    /// The failures (signal or an exit status other than 0, 1, 64) of the seeded runs.
    static func mutate() throws -> [String] {
        let environment = ProcessInfo.processInfo.environment
        var random = SplitMix64(seed: environment["VIGIL_MUTATION_SEED"].flatMap(UInt64.init) ?? 20261130)
        let runs = environment["VIGIL_MUTATION_RUNS"].flatMap(Int.init) ?? 60
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-mutate-\(UUID().uuidString.prefix(8))")
        var failures: [String] = []
        defer { if failures.isEmpty { try? FileManager.default.removeItem(at: dir) } }
        let models = dir.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        let sources: [(name: String, text: String)] = try ["1-clabsi.csv", "1-ssi.csv"].map {
            ($0, try String(contentsOf: ReplayFiles.root.appendingPathComponent("inputs/\($0)"), encoding: .utf8))
        }
        let modelTexts: [(name: String, text: String)] = try ["clabsi-nb.yaml", "ssi-logit.yaml"].map {
            ($0, try String(contentsOf: ReplayFiles.models.appendingPathComponent($0), encoding: .utf8))
        }
        // Feeds as published, read through the shipped mappings into models whose E the feed supplies.
        let root = VigilBinary.repositoryRoot
        let mapped: [(mapping: String, feed: String)] = try ["nhsn-clabsi-monthly", "cms-hai-hospital", "cms-hrrp"].map {
            (try String(contentsOf: root.appendingPathComponent("Models/columns/\($0).yaml"), encoding: .utf8),
             try String(contentsOf: root.appendingPathComponent("Tests/VigilCoreTests/Feeds/\($0).csv"), encoding: .utf8))
        }
        let mappedModels = dir.appendingPathComponent("mapped-models")
        try FileManager.default.createDirectory(at: mappedModels, withIntermediateDirectories: true)
        for (measure, column) in [("CLABSI", "numPred"), ("CDI", "predicted"), ("READM-30-HF-HRRP", "expected_readmissions")] {
            try """
                model: \(measure.lowercased())
                measure: \(measure)
                unit: month
                expected: { kind: supplied, column: \(column) }
                detectors: [{ id: c, type: poisson_cusum, ratio: 2, h: 2 }]

                """.write(to: mappedModels.appendingPathComponent("\(measure.lowercased()).yaml"), atomically: true, encoding: .utf8)
        }
        for run in 0..<runs {
            for model in modelTexts {
                let text = run % 3 == 0 ? Mutator.mutate(model.text, random: &random, yaml: true) : model.text
                try text.write(to: models.appendingPathComponent(model.name), atomically: true, encoding: .utf8)
            }
            var inputs: [String] = []
            for source in sources {
                let path = dir.appendingPathComponent("\(run)-\(source.name)").path
                try Mutator.mutate(source.text, random: &random, yaml: false).write(toFile: path, atomically: true, encoding: .utf8)
                inputs.append(path)
            }
            let feed = mapped[run % mapped.count]
            let mappingPath = dir.appendingPathComponent("mapping.yaml").path, feedPath = dir.appendingPathComponent("\(run)-feed.csv").path
            try (run % 2 == 0 ? Mutator.mutate(feed.mapping, random: &random, yaml: true) : feed.mapping)
                .write(toFile: mappingPath, atomically: true, encoding: .utf8)
            try Mutator.mutate(feed.feed, random: &random, yaml: false).write(toFile: feedPath, atomically: true, encoding: .utf8)
            let commands: [[String]] = [
                ["replay", "--models", mappedModels.path, "--columns", mappingPath, "--input", feedPath],
                ["validate", mappedModels.path, "--columns", mappingPath, "--input", feedPath],
                ["replay", "--models", models.path, "--input"] + inputs + ["--trace", dir.appendingPathComponent("trace.csv").path,
                                                                           "--alerts", dir.appendingPathComponent("alerts.jsonl").path],
                ["validate", models.path, "--input"] + inputs,
                ["fit", "--family", run % 2 == 0 ? "negbin" : "poisson", "--data", inputs[0], "--response", "events",
                 "--offset", "exposure", "--covariates", "bedsize,icu_share"],
            ]
            for arguments in commands {
                let result = try VigilBinary.runBlocking(arguments)
                if result.signalled || ![0, 1, 64].contains(result.status) {
                    // The files stay in `dir` for a look; the message says where and why.
                    let crash = result.stderr.split(separator: "\n").first { $0.contains("Fatal error") || $0.contains("Crash") } ?? ""
                    failures.append("run \(run) \(arguments.joined(separator: " ")): \(result.signalled ? "signal" : "exit") \(result.status): \(crash)")
                    try? FileManager.default.copyItem(at: models, to: dir.appendingPathComponent("models-\(run)"))
                }
            }
        }
        return failures
    }
}

/// Seeded mutations of a text file, field-aware for CSV and YAML.
enum Mutator {
    static let hostile = ["", "-1", "-0", "0", "1e308", "-1e308", "1e-320", "NaN", "nan", "inf", "-inf", "Infinity",
                          "99999999999999999999", "9223372036854775807", "9223372036854775808", "999999999999",
                          "4.5", "0x1F", "１２", "\"", "\"\"", ",", "2024-13", "2024-W54", "2024-Q5", "0000-01", "9999-12",
                          "2024-02-30", "1900-01-01T25:61:00Z", String(repeating: "9", count: 400), "true", "[]", "{}", "~",
                          "null", ".inf", "-.inf", "0.0000001", "1e-300", String(repeating: "é", count: 100)]

    static func mutate(_ text: String, random: inout SplitMix64, yaml: Bool) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let edits = 1 + Int(random.next() % 4)
        for _ in 0..<edits {
            guard !lines.isEmpty else { break }
            let i = Int(random.next() % UInt64(lines.count))
            switch random.next() % 6 {
            case 0, 1, 2:
                // A value replaced by a hostile one.
                let separator: Character = yaml ? " " : ","
                var parts = lines[i].split(separator: separator, omittingEmptySubsequences: false).map(String.init)
                guard !parts.isEmpty else { continue }
                let j = Int(random.next() % UInt64(parts.count))
                let value = hostile[Int(random.next() % UInt64(hostile.count))]
                if yaml, parts[j].hasSuffix(",") || parts[j].hasSuffix("}") {
                    parts[j] = value + String(parts[j].last!)
                } else {
                    parts[j] = value
                }
                lines[i] = parts.joined(separator: String(separator))
            case 3:
                // A byte flipped.
                var bytes = Array(lines[i].utf8)
                guard !bytes.isEmpty else { continue }
                let j = Int(random.next() % UInt64(bytes.count))
                bytes[j] ^= UInt8(1 << (random.next() % 7))
                lines[i] = String(decoding: bytes, as: UTF8.self)
            case 4:
                lines.remove(at: i)
            default:
                lines.insert(lines[i], at: i)
            }
        }
        return lines.joined(separator: "\n")
    }
}


/// Runs blocking work (processes waited for) on a thread of its own and awaits it.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.stackSize = 8 << 20
        thread.start()
    }
}

