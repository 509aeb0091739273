// swift-tools-version:6.0
import PackageDescription

// Data flows one way: executables -> FaceWGAN -> FaceEngine -> system-library shims. Every target lists
// each module it imports.
// Release builds use SwiftPM's -O, so that an overflow or an index out of range traps instead of
// corrupting memory (issue 15). Only the engine's kernels (FaceEngine) keep -Ounchecked: -O cost 4-10%
// there, and every size that reaches them is checked first (docs/design-changes.md, "Release builds
// use -O, except the engine's kernels").
let kernels: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
let optimize: [SwiftSetting] = []

let package = Package(
    name: "FaceWGAN",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "FaceEngine", targets: ["FaceEngine"]),
        .library(name: "FaceWGAN", targets: ["FaceWGAN"]),
        .executable(name: "preprocess", targets: ["preprocess"]),
        .executable(name: "train", targets: ["train"]),
        .executable(name: "sample", targets: ["sample"]),
        .executable(name: "interpolate", targets: ["interpolate"]),
        .executable(name: "evaluate", targets: ["evaluate"]),
        .executable(name: "facegen", targets: ["facegen"]),
        .executable(name: "facewgan-bench", targets: ["bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // SHA-256 of shards (BoringSSL's assembly: SHA extensions where the CPU has them).
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", pkgConfig: "blas",
                       providers: [.apt(["libblas-dev", "libopenblas0-pthread"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        // libjpeg reports errors by calling exit() unless the caller longjmps out of its handler, which
        // Swift cannot do: this C target wraps libjpeg (and libpng) behind return codes.
        .target(name: "CImageCodec", dependencies: ["CJPEG", "CPNG"],
                cSettings: [.unsafeFlags(["-O2"])],
                linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16")]),

        // oneDNN (libdnnl-dev): the fast convolution and matmul primitives, fp32 and bf16, on x86 CPUs.
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        // Its C API describes tensors with fixed-size C arrays and a dozen calls per primitive; this C
        // target gives the Swift backend create / execute / destroy.
        .target(name: "CDNNLBridge", dependencies: ["CDNNL"], cSettings: [.unsafeFlags(["-O2"])],
                linkerSettings: [.linkedLibrary("dnnl"), .linkedLibrary("gomp")]),

        // MPI (libopenmpi-dev; MPICH's libmpich-dev provides the same pkg-config name `mpi`). Its handles
        // are macros Swift cannot import; this C target exposes the few standard calls training needs.
        .systemLibrary(name: "CMPI", pkgConfig: "mpi", providers: [.apt(["libopenmpi-dev"])]),
        .target(name: "CMPIBridge", dependencies: ["CMPI"], cSettings: [.unsafeFlags(["-O2"])]),

        .target(name: "FaceEngine", dependencies: ["CBLAS", "CDNNLBridge"], swiftSettings: kernels),
        .target(name: "FaceWGAN", dependencies: [
            "FaceEngine", "CJPEG", "CPNG", "CImageCodec", .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: optimize),
        // FaceWGAN's `Collective` over MPI, for `train` under mpirun / srun (the library stays MPI-free).
        .target(name: "FaceWGANMPI", dependencies: ["FaceWGAN", "CMPIBridge"]),
        // What the four tools share on the command line (options, start-up, messages).
        .target(name: "ToolSupport", dependencies: [
            "FaceEngine", "FaceWGAN", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "preprocess", dependencies: [
            "FaceWGAN", "ToolSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "train", dependencies: [
            "FaceEngine", "FaceWGAN", "FaceWGANMPI", "ToolSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "sample", dependencies: [
            "FaceEngine", "FaceWGAN", "ToolSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "interpolate", dependencies: [
            "FaceEngine", "FaceWGAN", "ToolSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // Quality figures (multi-scale SWD, MS-SSIM) of fakes against real shards.
        .executableTarget(name: "evaluate", dependencies: [
            "FaceEngine", "FaceWGAN", "ToolSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // Draws the synthetic sample set in data/ (demo data, not part of the library).
        .executableTarget(name: "facegen", dependencies: [
            "FaceWGAN", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: optimize),
        .executableTarget(name: "bench", dependencies: [
            "FaceEngine", "FaceWGAN", "ToolSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: optimize),

        // Finite-difference helpers shared by the test targets.
        .target(name: "TestSupport", dependencies: ["FaceEngine", "FaceWGAN"], path: "Tests/TestSupport"),
        .testTarget(name: "FaceEngineTests", dependencies: ["FaceEngine", "TestSupport"]),
        .testTarget(name: "FaceWGANTests", dependencies: ["CPNG", "FaceEngine", "FaceWGAN", "TestSupport"]),
        .testTarget(name: "ToolTests", dependencies: ["FaceEngine", "FaceWGAN", "ToolSupport", "TestSupport"]),
        // Run by ToolTests under mpirun: every collective of MPICollective on a real MPI world.
        .executableTarget(name: "collective-check", dependencies: ["FaceWGAN", "FaceWGANMPI"],
                          path: "Tests/CollectiveCheck"),
    ],
    // Strict concurrency checking would force Sendable wrappers around every pointer the kernels share
    // between threads; the engine synchronises through Parallel.forRanges alone.
    swiftLanguageModes: [.v5]
)
