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
    ],
    targets: [
        // BLAS (OpenBLAS) and LAPACKE: apt-get install libopenblas-dev liblapacke-dev
        .systemLibrary(name: "CLAPACK", path: "Sources/CLAPACK"),
        // Pure numerics: no I/O. Only LinearAlgebra/ touches CLAPACK's pointers.
        .target(name: "VigilStats", dependencies: ["CLAPACK"]),
        // Domain: records and their readers, model configs, the engine, alerts.
        .target(name: "VigilCore", dependencies: [
            "VigilStats",
            .product(name: "Yams", package: "Yams"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .executableTarget(
            name: "vigil",
            dependencies: [
                "VigilStats", "VigilCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(name: "vigil-bench", dependencies: ["VigilStats", "VigilCore"]),
        .testTarget(name: "VigilStatsTests", dependencies: ["VigilStats", "VigilCore"],
                    resources: [.copy("References")]),
        .testTarget(name: "VigilCoreTests", dependencies: ["VigilCore"], resources: [.copy("Replay")]),
        .testTarget(name: "vigilTests", dependencies: ["vigil", "VigilCore"]),
    ]
)
