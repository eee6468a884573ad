import Foundation
import VigilCore
import VigilDaemon

/// What each fuzz target does with one input: exactly what vigil does with a file or body of that kind,
/// minus the disk and the network. An input may be rejected with messages; it may never crash.
enum FuzzTarget: String, CaseIterable {
    /// A CSV feed through the reader with the default columns and with every bundled column mapping.
    case csv
    /// An NDJSON feed, likewise.
    case ndjson
    /// A table read as `vigil fit` reads its data (`CSVColumns`, its C scanner included): the header's first
    /// three columns asked for as numbers and its fourth as text, the file in one part and in parts of 7 bytes.
    case columns
    /// A model file: parsed, and when it parses, made into an engine (detectors built, thresholds calibrated).
    case model
    /// A daemon config.
    case config
    /// A column mapping; when it parses, a small CSV is read through it.
    case mapping
    /// `POST /v1/records`: the first byte picks the Content-Type, the rest is the body, read as the daemon
    /// reads it and applied to a fresh engine of a model per family (fits included).
    case http

    static let selected: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["VIGIL_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            let names = allCases.map(\.rawValue).joined(separator: ", ")
            FileHandle.standardError.write(Data("set VIGIL_FUZZ_TARGET to one of: \(names)\n".utf8))
            exit(64)
        }
        // The harness's own model texts: one that stopped parsing would leave a family unfuzzed, silently.
        if target == .http && fuzzModels.count != 4 {
            FileHandle.standardError.write(Data("vigil-fuzz: a fuzz model no longer parses (Targets.swift)\n".utf8))
            exit(70)
        }
        return target
    }()

    /// The reproducer says what an input did; libFuzzer runs stay quiet.
    // nonisolated(unsafe): set once by the reproducer's main, on its one thread, before any input runs.
    nonisolated(unsafe) static var verbose = false

    func run(_ bytes: [UInt8]) {
        switch self {
        case .csv: Self.readThroughEveryMapping(bytes, format: .csv)
        case .ndjson: Self.readThroughEveryMapping(bytes, format: .ndjson)
        case .columns: Self.readColumns(bytes)
        case .model:
            if case let .success(model) = ModelConfigParser.parse(data: bytes, file: "fuzz.yaml") {
                _ = Engine(models: [model]).firingAlerts
            }
        case .config:
            _ = DaemonConfigParser.parse(data: bytes, file: "fuzz.yaml")
        case .mapping:
            if case let .success(mapping) = ColumnMappingParser.parse(data: bytes, file: "fuzz.yaml") {
                read(Self.sampleCSV, through: mapping, format: .csv)
            }
        case .http:
            guard let first = bytes.first else { return }
            let contentTypes = ["text/csv", "application/x-ndjson", "text/csv; charset=utf-8", "application/jsonl"]
            guard let format = RecordFormat(contentType: contentTypes[Int(first) % contentTypes.count]) else { return }
            var records: [Record] = []
            RecordReader().read(source: "request", bytes: Array(bytes.dropFirst()), format: format,
                                accept: { records.append($0) }, reject: { _ in })
            let engine = Engine(models: Self.fuzzModels)
            let outcome = engine.apply(records, now: Date(timeIntervalSince1970: 1_800_000_000))
            if Self.verbose {
                let problems = engine.models.compactMap(\.problem)
                print("\(records.count) records, \(outcome.events.count) events; \(problems.isEmpty ? "all fitted" : problems.joined(separator: "; "))")
            }
        }
    }

    /// The table reader takes a path (it reads parts with `pread`): each input is written to this file first.
    private static let columnsFile = FileManager.default.temporaryDirectory
        .appendingPathComponent("vigil-fuzz-columns-\(getpid()).csv").path

    private static func readColumns(_ bytes: [UInt8]) {
        guard FileManager.default.createFile(atPath: columnsFile, contents: Data(bytes)),
              let header = try? CSVColumns(path: columnsFile, columns: [:]).header else { return }
        let kinds = header.prefix(4).enumerated().map { ($1, $0 < 3 ? CSVColumns.Kind.number : .text) }
        let wanted = Dictionary(kinds, uniquingKeysWith: { first, _ in first })
        for partSize in [1 << 21, 7] {
            do {
                let table = try CSVColumns(path: columnsFile, columns: wanted, partSize: partSize)
                if verbose { print("part size \(partSize): \(table.rowCount) rows of \(wanted.keys.sorted())") }
            } catch {
                if verbose { print("part size \(partSize): \(error)") }
            }
        }
    }

    private static func readThroughEveryMapping(_ bytes: [UInt8], format: RecordFormat) {
        read(bytes, through: ColumnMapping(), format: format)
        for mapping in bundledMappings { read(bytes, through: mapping, format: format) }
    }

    private static let sampleCSV = Array("""
        facility_id,measure,period,events,exposure,orgID,summaryYM,infCount,numCLDays
        F1,CLABSI,2024-01,1,1000,F1,2024M01,1,1000
        F2,CLABSI,2024-02,,250,F2,202402,0,250

        """.utf8)

    // The repository's own files, found from this source file (the fuzz binary is a developer's tool).
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    private static func files(_ folder: String) -> [String] {
        let dir = root.appendingPathComponent(folder).path
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted().map { dir + "/" + $0 }
    }

    private static let bundledMappings: [ColumnMapping] = files("Models/columns").compactMap {
        try? ColumnMappingParser.load(path: $0)
    }

    /// One model per family the daemon fits, with a short baseline (a fuzz input can fill it and refit) and
    /// fixed thresholds: the bundled models calibrate per series at every fit, a fraction of a second an input.
    private static let fuzzModels: [ModelConfig] = [
        """
        model: poisson
        measure: CLABSI
        unit: month
        expected: { kind: poisson, covariates: [teaching, bedsize], offset: exposure, baseline: { from: 2022-01, to: 2022-03 } }
        detectors:
          - { id: cusum, type: poisson_cusum, ratio: 2, h: 3 }
          - { id: ewma, type: ewma, lambda: 0.3, L: 2.5 }
        alert: { cooldown: 1 }
        """,
        """
        model: negbin
        measure: CDI
        unit: month
        expected: { kind: negative_binomial, covariates: [teaching], offset: exposure, baseline: { from: 2022-01, to: 2022-03 } }
        detectors: [{ id: cusum, type: negbin_cusum, ratio: 1.5, h: 4 }]
        """,
        """
        model: proportion
        measure: READM_30
        unit: month
        expected: { kind: beta_binomial, covariates: [teaching], baseline: { from: 2023-01, to: 2023-03 } }
        detectors: [{ id: cusum, type: binomial_cusum, odds_ratio: 1.5, h: 3 }]
        """,
        """
        model: patients
        measure: READM_30_PATIENT
        unit: patient
        expected: { kind: logistic, covariates: [age, comorbidity], baseline: { from: 2023-01, to: 2023-03 } }
        detectors: [{ id: racusum, type: bernoulli_cusum, odds_ratio: 2, h: 4 }]
        """,
    ].compactMap { try? ModelConfigParser.parse(data: Array($0.utf8), file: "fuzz-model.yaml").get() }
}

private func read(_ bytes: [UInt8], through mapping: ColumnMapping, format: RecordFormat) {
    RecordReader(mapping: mapping).read(source: "fuzz", bytes: bytes, format: format, accept: { _ in }, reject: { _ in })
}
