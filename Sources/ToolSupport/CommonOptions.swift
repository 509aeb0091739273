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

    public func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1 (got \(threads))") }
    }

    /// Start-up shared by the tools that compute: OpenBLAS's kernels (may re-execute the process once)
    /// and the thread count.
    public func prepareEngine() {
        BLASRuntime.ensureFastKernels()
        Parallel.setThreadCount(threads ?? System.coreCount)
    }

    /// A progress or status line on stderr, unless --quiet.
    public func message(_ text: String) {
        guard !quiet else { return }
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}

/// Options that pick the compute backend (`--backend`, `--precision`); only the BLAS backend and fp32
/// exist so far, and asking for another is a clear error rather than a silent fallback.
public struct BackendOptions: ParsableArguments {
    @Option(help: "Kernel backend: auto or blas.")
    public var backend = "auto"

    @Option(help: "Precision of the heavy kernels: fp32.")
    public var precision = "fp32"

    public init() {}

    public func validate() throws {
        guard ["auto", "blas"].contains(backend) else {
            throw ValidationError("--backend '\(backend)' is not available in this build (use auto or blas)")
        }
        guard precision == "fp32" else {
            throw ValidationError("--precision '\(precision)' is not available in this build (use fp32)")
        }
    }

    public func makeBackend() -> ComputeBackend { BLASBackend() }
}
