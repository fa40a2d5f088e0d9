// swift-tools-version: 6.0
import PackageDescription

// AVX2 + FMA on x86-64 hosts only, so the package still builds on other CPUs.
// Without it Swift targets baseline SSE2 and `addingProduct` becomes a libm call per element.
#if arch(x86_64)
let cpuSwift: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-march=x86-64-v3"])]
let cpuC: [CSetting] = [.unsafeFlags(["-march=x86-64-v3"])]
/// The convolution kernels pick their instruction set at run time (per-function target
/// attributes), so the target itself is built for the baseline; -O3 in every configuration
/// because debug tests run them on real shapes, and 512-bit vectors for the AVX-512 variants.
let kernelC: [CSetting] = [.unsafeFlags(["-O3", "-mprefer-vector-width=512", "-Wno-psabi"])]
#else
let cpuSwift: [SwiftSetting] = []
let cpuC: [CSetting] = []
let kernelC: [CSetting] = [.unsafeFlags(["-O3"])]
#endif

/// Kernels are 10-300x slower at -Onone; compile the numeric targets with -O even in debug
/// builds so `swift test` checks gradients at full speed (the later -O wins over SwiftPM's -Onone).
let fastInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "cyclex",
    products: [
        .executable(name: "cyclex", targets: ["cyclex"]),
        .executable(name: "cyclex-bench", targets: ["cyclex-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .target(
            name: "CImageCodecs", cSettings: cpuC,
            linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg"), .linkedLibrary("z")]),
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "CConvKernels", cSettings: kernelC),
        // The process's one worker pool (spin, then futex), behind `Parallel` and the split products.
        .target(name: "CWorkerPool", cSettings: [.unsafeFlags(["-O2"])]),
        // The inference forward's matrix-product kernels (AVX-512 float32, AVX512_BF16) and Winograd
        // transforms: AVX-512 code behind a run-time CPUID check; the file builds for x86-64-v3.
        .target(name: "CBFloat16Kernels", cSettings: cpuC + [.unsafeFlags(["-O3"])]),
        .target(name: "CyclexEngine", dependencies: ["CBLAS", "CConvKernels", "CWorkerPool", "CBFloat16Kernels"], swiftSettings: cpuSwift + fastInDebug),
        .target(name: "CyclexInterop", dependencies: ["CZlib"], swiftSettings: cpuSwift + fastInDebug),
        .target(
            name: "CyclexMetrics", dependencies: ["CBLAS", "CyclexEngine", "CyclexImaging", "CyclexInterop"],
            swiftSettings: cpuSwift + fastInDebug),
        .target(name: "CyclexNN", dependencies: ["CyclexEngine"], swiftSettings: cpuSwift + fastInDebug),
        .target(name: "CyclexModels", dependencies: ["CyclexNN", "CBFloat16Kernels"], swiftSettings: cpuSwift + fastInDebug),
        .target(
            name: "CyclexImaging", dependencies: ["CImageCodecs", "CyclexEngine"],
            swiftSettings: cpuSwift + fastInDebug),
        .target(
            name: "CyclexInference", dependencies: ["CBFloat16Kernels", "CyclexModels", "CyclexImaging", "CyclexInterop"],
            swiftSettings: cpuSwift + fastInDebug),
        .target(
            name: "CyclexTraining", dependencies: ["CyclexInference", "CyclexMetrics"],
            swiftSettings: cpuSwift + fastInDebug),
        // Data-parallel training over MPI; libmpi is opened at run time (dlopen), so nothing here
        // needs MPI to build (docs/distributed.md).
        .target(name: "CyclexDistributed", dependencies: ["CyclexTraining"], swiftSettings: cpuSwift + fastInDebug),
        .executableTarget(
            name: "cyclex",
            dependencies: [
                "CyclexDistributed", "CyclexInference", "CyclexMetrics", "CyclexTraining",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: cpuSwift),
        .executableTarget(
            name: "cyclex-bench", dependencies: ["CyclexInference", "CyclexTraining"], swiftSettings: cpuSwift),
        .target(name: "CyclexTestSupport", dependencies: ["CyclexEngine"], swiftSettings: cpuSwift),
        .testTarget(
            name: "CyclexEngineTests", dependencies: ["CyclexEngine", "CyclexTestSupport"],
            swiftSettings: cpuSwift),
        .testTarget(
            name: "CyclexMetricsTests", dependencies: ["CyclexMetrics", "CyclexTestSupport"], swiftSettings: cpuSwift),
        .testTarget(
            name: "CyclexInteropTests", dependencies: ["CyclexInterop", "CyclexTestSupport"],
            swiftSettings: cpuSwift),
        .testTarget(
            name: "CyclexNNTests", dependencies: ["CyclexNN", "CyclexModels", "CyclexTestSupport"],
            swiftSettings: cpuSwift),
        .testTarget(
            name: "CyclexModelsTests", dependencies: ["CyclexModels", "CyclexTestSupport"],
            swiftSettings: cpuSwift),
        .testTarget(
            name: "CyclexTrainingTests",
            dependencies: ["CBFloat16Kernels", "CyclexInference", "CyclexTraining", "CyclexTestSupport"],
            swiftSettings: cpuSwift),
        .testTarget(
            name: "CyclexImagingTests", dependencies: ["CyclexImaging", "CyclexTestSupport"],
            swiftSettings: cpuSwift),
    ]
)
