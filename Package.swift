// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "vigil",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "vigil", targets: ["vigil"]),
        .library(name: "VigilStats", targets: ["VigilStats"]),
        .library(name: "VigilCore", targets: ["VigilCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // BLAS (OpenBLAS) and LAPACKE: apt-get install libopenblas-dev liblapacke-dev
        .systemLibrary(name: "CLAPACK", path: "Sources/CLAPACK"),
        // Kernels in C: what BLAS lacks (the weighted Gram matrix of IRLS), IRLS's per-row formulas, for the
        // CPU's vector instructions, and the number cells of plain CSV.
        .target(name: "CKernels"),
        // Every thread and parallel map (@Sendable closures in, values out), the lock shared values live behind,
        // and the stopwatch that times them.
        .target(name: "VigilThreads"),
        // Pure numerics: no I/O. Only LinearAlgebra/ and IRLS touch CLAPACK's and CKernels' pointers.
        .target(name: "VigilStats", dependencies: ["CLAPACK", "CKernels", "VigilThreads"]),
        // Domain: records and their readers, model configs, the engine, alerts.
        .target(name: "VigilCore", dependencies: [
            "VigilStats", "VigilThreads", "CKernels",
            .product(name: "Yams", package: "Yams"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // The daemon (SPEC §4): SQLite state, spool and HTTP ingest, the outbox and its sinks, systemd.
        .target(name: "VigilDaemon", dependencies: [
            "VigilCore", "VigilStats", "VigilThreads",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "GRDBSQLite", package: "GRDB.swift"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .executableTarget(
            name: "vigil",
            dependencies: [
                "VigilStats", "VigilCore", "VigilDaemon", "VigilThreads",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(name: "vigil-bench", dependencies: [
            "VigilStats", "VigilCore", "VigilThreads",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Hummingbird", package: "hummingbird"),
        ]),
        // libFuzzer targets over the readers and parsers (scripts/fuzz); without -DFUZZING it replays inputs.
        .executableTarget(name: "vigil-fuzz", dependencies: ["VigilCore", "VigilDaemon"]),
        .testTarget(name: "VigilStatsTests", dependencies: ["VigilStats", "VigilCore", "CKernels"],
                    resources: [.copy("References")]),
        .testTarget(name: "VigilCoreTests", dependencies: ["VigilCore", "VigilThreads"], resources: [.copy("Replay")]),
        .testTarget(name: "vigilTests", dependencies: ["vigil", "VigilCore", "VigilDaemon",
                                                     .product(name: "Hummingbird", package: "hummingbird"),
                                                     .product(name: "GRDB", package: "GRDB.swift"),
                                                     .product(name: "Crypto", package: "swift-crypto")]),
    ]
)
