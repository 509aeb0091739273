import ArgumentParser
import FaceEngine
import FaceWGAN
import Foundation

/// Options every tool takes (DESIGN.md, "Behaviour every tool shares").
public struct CommonOptions: ParsableArguments {
    @Option(help: "Threads for our loops and for BLAS (default: all cores).")
    public var threads: Int?

    @Flag(name: .shortAndLong, help: "Print nothing on stderr but errors.")
    public var quiet = false

    public init() {}

    /// More worker threads than any CPU has cores (OpenMP runtimes crash creating 100,000).
    public static let maximumThreads = 1024

    public func validate() throws {
        if let threads, !(1...Self.maximumThreads).contains(threads) {
            throw ValidationError("--threads must be in 1...\(Self.maximumThreads) (got \(threads))")
        }
    }

    /// Start-up shared by the tools that compute: OpenBLAS's kernels (may re-execute the process once),
    /// then the signals' ending (`SignalEnding`, unless the tool stops on signals itself, as `train`
    /// does) and the thread count.
    public func prepareEngine(endingOnSignals: Bool = true) {
        BLASRuntime.ensureFastKernels()
        if endingOnSignals { SignalEnding.install() }
        Parallel.setThreadCount(threads ?? System.coreCount)
    }

    /// A progress or status line on stderr, unless --quiet.
    public func message(_ text: String) {
        guard !quiet else { return }
        writeToStandardError(text + "\n")
    }
}

/// `--seed`, for the tools whose output is random (DESIGN.md: deterministic given `--seed`).
public struct SeedOption: ParsableArguments {
    @Option(help: "Random seed: the same seed and inputs give the same output, byte for byte.")
    public var seed: UInt64 = 0

    public init() {}
}

/// What `--backend` asks for: a backend, or `auto`.
public enum BackendChoice: String, CaseIterable, ExpressibleByArgument, Sendable {
    /// oneDNN when it loads, else BLAS (fp32 only).
    case auto
    case blas
    case onednn
}

/// Options that pick the compute backend (`--backend`, `--precision`).
public struct BackendOptions: ParsableArguments {
    @Option(help: "Kernel backend (auto: onednn when it loads, else blas).")
    public var backend = BackendChoice.auto

    @Option(help: "Precision of convolution and matmul operands (bf16: onednn on a CPU with AVX512-BF16 or AMX).")
    public var precision = ComputePrecision.fp32

    @Option(help: ArgumentHelp(
        "Kernel plan of the onednn backend.",
        discussion: "on: the first time a layer shape needs a pass, time every kernel that can run it and keep the "
            + "fastest, remembered in $XDG_CACHE_HOME/facewgan/kernel-plans.json (else ~/.cache/facewgan) so that "
            + "later runs start at once; off: the fixed default kernel everywhere."))
    public var tune = KernelTuner.Mode.on

    public init() {}

    public func validate() throws {
        if backend == .blas && precision == .bf16 {
            throw ValidationError("--precision bf16 needs the onednn backend (--backend onednn or auto)")
        }
    }

    /// The backend asked for. `auto` falls back to BLAS only in fp32 when oneDNN cannot start; an
    /// explicit `onednn` or bf16 that cannot run is an error, never a silent substitute.
    public func makeBackend() throws -> ComputeBackend {
        switch backend {
        case .blas: return BLASBackend()
        case .onednn: return try OneDNNBackend(precision: precision, tuner: makeTuner())
        case .auto:
            if precision == .bf16 { return try OneDNNBackend(precision: precision, tuner: makeTuner()) }
            return (try? OneDNNBackend(precision: precision, tuner: makeTuner())) ?? BLASBackend()
        }
    }

    /// The tuner `--tune` asks for, with the plan cache when there is a place for it. A cache that
    /// cannot be read is ignored with a warning (and rewritten); one that cannot be written is no error.
    public func makeTuner() -> KernelTuner {
        guard tune == .on else { return KernelTuner(mode: .off) }
        let cache = TuningCache.defaultURL().map { TuningCache(url: $0, machine: OneDNNBackend.machineIdentity) }
        if let cache, let problem = cache.problem {
            writeToStandardError("warning: ignoring the kernel plan cache \(cache.url.path): \(problem)\n")
        }
        return KernelTuner(mode: .on, memory: cache?.memory)
    }
}

/// "onednn fp32 (avx512_core_bf16)": what a run computes with, for messages and reports.
public func describe(_ backend: ComputeBackend) -> String {
    let isa = backend.instructionSet.map { " (\($0))" } ?? ""
    return "\(backend.name) \(backend.precision.rawValue)\(isa)"
}

// The library's option enums, as command-line values: `--help` lists their cases, and a value that is
// none of them is a usage error that names the choices.
extension ComputePrecision: ExpressibleByArgument {}
extension KernelTuner.Mode: ExpressibleByArgument {}
extension ConvolutionKernel: ExpressibleByArgument {}
extension ModelConfiguration.CriticNorm: ExpressibleByArgument {}
extension ResamplingFilter: ExpressibleByArgument {}
extension InterpolationMethod: ExpressibleByArgument {}
