import ArgumentParser
import FaceEngine
import FaceWGAN
import Foundation
import ToolSupport

/// `make bench`: times the engine's WGAN-GP steps and prints one JSON line per configuration.
@main
struct Bench: FaceWGANTool {
    static let configuration = CommandConfiguration(
        commandName: "facewgan-bench",
        abstract: "Time the WGAN-GP critic and generator steps (one JSON line per configuration).",
        discussion: """
        One configuration per run (make bench runs size 64 and 32, critic norm none and layer), random data.
        peak_fraction divides the useful GFLOP/s by --peak-gflops (this machine's measured AVX-512 FMA
        peak at 2 threads, ../shared/bench/README.md: 348).
        --backend auto runs onednn when it loads, else blas, and the JSON line names the one that ran. The
        benchmark measures afresh: --tune on ignores the kernel plan cache.
        """)

    @OptionGroup var common: CommonOptions
    @Option(help: "Image size (32, 64, 128).") var size = 64
    @Option(help: "Critic variant.") var criticNorm = ModelConfiguration.CriticNorm.none
    @Option(help: "Generator width.") var width = 64
    @Option(help: "Batch size.") var batch = 64
    @Option(help: "Timed generator iterations (each 5 critic + 1 generator step).") var iterations = 3
    @Option(help: "fp32 peak GFLOP/s used for peak_fraction.") var peakGflops = 348.0
    @OptionGroup var backendOptions: BackendOptions
    @Option(help: "Pin one kernel wherever it applies.")
    var kernel: ConvolutionKernel?
    @Flag(help: "Skip the per-pass matmul reference (faster; the passes' matmul_gflops are then absent).")
    var noMatmulReference = false

    func run() throws {
        common.prepareEngine()
        let precision = backendOptions.precision
        let engine: ComputeBackend
        switch resolvedBackend() {
        case .onednn:
            if precision == .bf16 && !OneDNNBackend.supportsBF16 {
                // A line rather than a failure, so that `make bench` runs on every CPU.
                print("{\"backend\": \"onednn\", \"precision\": \"bf16\", \"size\": \(size), \"critic_norm\": \"\(criticNorm.rawValue)\", "
                      + "\"skipped\": \"no bf16 on this CPU (oneDNN ISA \(OneDNNBackend.instructionSet))\"}")
                return
            }
            // The benchmark measures afresh (no cache): its plan is this sitting's.
            let tuner = kernel.map { KernelTuner(pinning: $0) } ?? KernelTuner(mode: backendOptions.tune)
            engine = try OneDNNBackend(precision: precision, tuner: tuner)
        default:
            engine = BLASBackend()
        }
        // One configuration per process, so that peak_rss_mib is this configuration's own.
        print(try measure(ModelConfiguration(imageSize: size, width: width, latentDimension: 128, criticNorm: criticNorm),
                      engine: engine, precision: precision))
    }

    /// blas or onednn: `auto` is onednn when it loads (always for bf16, which only onednn computes), as
    /// `BackendOptions.makeBackend` decides, so that the JSON line names the backend that ran.
    func resolvedBackend() -> BackendChoice {
        switch backendOptions.backend {
        case .auto:
            if backendOptions.precision == .bf16 { return .onednn }
            return (try? OneDNNBackend(precision: .fp32, tuner: KernelTuner(mode: .off))) != nil ? .onednn : .blas
        case let choice: return choice
        }
    }

    func measure(_ model: ModelConfiguration, engine: ComputeBackend, precision: ComputePrecision) throws -> String {
        var hyper = TrainingHyperparameters()
        hyper.batchSize = batch
        let trainer = WGANGPTrainer(configuration: model, hyperparameters: hyper, backend: engine, seed: 1)
        var random = RandomGenerator(seed: 2)
        let pool = (0..<4).map { _ -> Tensor in
            let real = Tensor(shape: [batch, 3, model.imageSize, model.imageSize])
            random.fillUniform(real.buffer, low: -1, high: 1)
            return real
        }
        var criticTimes = [Double](), generatorTimes = [Double](), iterationTimes = [Double]()
        let onednn = engine as? OneDNNBackend
        for iteration in 0..<(iterations + 1) {
            if iteration == 1 {
                // The first iteration plans the kernels and creates the primitives; only later ones count.
                onednn?.tuner.resetTotals()
                _ = onednn?.takeReorderSeconds()
            }
            let iterationStart = Date()
            for step in 0..<hyper.criticIterations {
                let start = Date()
                try trainer.criticStep(real: pool[(iteration * hyper.criticIterations + step) % pool.count].pointer)
                if iteration > 0 { criticTimes.append(Date().timeIntervalSince(start)) }
            }
            let start = Date()
            try trainer.generatorStep()
            if iteration > 0 {
                generatorTimes.append(Date().timeIntervalSince(start))
                iterationTimes.append(Date().timeIntervalSince(iterationStart))
            }
        }
        func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(values.count) }
        let iteration = mean(iterationTimes)
        // Useful work, counted as ../shared/bench counts it (794 GFLOP per iteration at 64x64): per critic
        // step 11 passes of B samples through the critic (forward 3B, the interpolates' input gradient,
        // the penalty's second-order pass 2B, data and weight gradients 2B + 3B); per generator step the
        // generator forward and backward (3) and the critic forward and data gradient (2). The engine
        // skips one of those critic passes (see Critic.dualBackward), so this is work done by the peers.
        let criticMACs = Double(trainer.critic.multiplyAddsPerSample)
        let generatorMACs = Double(trainer.generator.multiplyAddsPerSample)
        let b = Double(batch)
        let criticStepMACs = criticMACs * b * (3 + 1 + 1 + 3 + 3)
        let generatorStepMACs = generatorMACs * b * 3 + criticMACs * b * 2
        let gflop = 2 * (criticStepMACs * Double(hyper.criticIterations) + generatorStepMACs) / 1e9
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        let fields: [(String, String)] = [
            ("backend", "\"\(engine.name)\""), ("precision", "\"\(precision.rawValue)\""),
            ("size", "\(model.imageSize)"), ("width", "\(model.width)"), ("batch", "\(batch)"),
            ("critic_norm", "\"\(model.criticNorm.rawValue)\""), ("threads", "\(Parallel.threadCount)"),
            ("blas_core", "\"\(BLASRuntime.coreName ?? "unknown")\""),
            ("onednn_isa", "\"\(OneDNNBackend.instructionSet)\""),
            ("critic_step_s", format(mean(criticTimes))), ("generator_step_s", format(mean(generatorTimes))),
            ("generator_iteration_s", format(iteration)),
            ("images_per_s", format(b * Double(hyper.criticIterations) / iteration)),
            ("gflop_per_iteration", format(gflop)),
            ("gflops", format(gflop / iteration)), ("peak_fraction", format(gflop / iteration / peakGflops)),
            ("peak_rss_mib", format(Double(usage.ru_maxrss) / 1024)),
            ("onednn_kernels", "[" + engine.implementations.map { "\"\($0)\"" }
                .joined(separator: ", ") + "]"),
        ]
        var extra: [(String, String)] = []
        if let onednn {
            let reorders = onednn.takeReorderSeconds() / Double(iterations)
            extra.append(("tune", "\"\(onednn.tuner.mode.rawValue)\""))
            extra.append(("tuning_s", format(onednn.tuner.tuningSeconds)))
            extra.append(("reorder_s_per_iteration", format(reorders)))
            extra.append(("reorder_fraction", format(reorders / iteration)))
            let passes = try passReport(onednn, iterations: iterations)
            extra.append(("passes", "[" + passes.map { "{" + $0.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}" }
                .joined(separator: ", ") + "]"))
        }
        return "{" + (fields + extra).map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
    }

    /// One object per planned pass: its kernel, how it was chosen, its share of an iteration, its GFLOP/s
    /// and oneDNN's matmul rate at the GEMM of the same size (measured now, same precision and threads).
    /// The same table goes to stderr for reading.
    func passReport(_ backend: OneDNNBackend, iterations: Int) throws -> [[(String, String)]] {
        let reference = try OneDNNBackend(precision: backend.precision)
        var rows: [[(String, String)]] = []
        var table = ["pass | kernel (source) | ms/iteration | GFLOP/s | matmul GFLOP/s | ratio | candidates (ms)"]
        for entry in backend.tuner.plan where entry.calls > 0 {
            let flop = 2 * Double(entry.key.multiplyAdds)
            let rate = flop * Double(entry.calls) / entry.seconds / 1e9
            var row: [(String, String)] = [
                ("key", "\"\(entry.key)\""), ("kernel", "\"\(entry.kernel.rawValue)\""),
                ("source", "\"\(entry.source.rawValue)\""), ("calls_per_iteration", format(Double(entry.calls) / Double(iterations))),
                ("s_per_iteration", format(entry.seconds / Double(iterations))), ("gflops", format(rate)),
            ]
            var matmulText = "-", ratioText = "-"
            if !noMatmulReference {
                let matmulRate = try matmulGflops(reference, entry.key.equivalentGEMM)
                row.append(("matmul_gflops", format(matmulRate)))
                row.append(("fraction_of_matmul", format(rate / matmulRate)))
                matmulText = String(format: "%.0f", matmulRate)
                ratioText = String(format: "%.2f", rate / matmulRate)
            }
            row.append(("candidates", "{" + entry.candidates.map { "\"\($0.kernel.rawValue)\": \(format($0.seconds))" }
                .joined(separator: ", ") + "}"))
            rows.append(row)
            let candidates = entry.candidates.map { "\($0.kernel.rawValue) \(String(format: "%.1f", 1000 * $0.seconds))" }
                .joined(separator: ", ")
            table.append("\(entry.key) | \(entry.kernel.rawValue) (\(entry.source.rawValue)) | "
                         + String(format: "%.1f | %.0f | ", 1000 * entry.seconds / Double(iterations), rate)
                         + "\(matmulText) | \(ratioText) | \(candidates)")
        }
        writeToStandardError(table.joined(separator: "\n") + "\n")
        return rows
    }

    /// oneDNN's matmul C[m, n] = A[m, k] B[k, n] on random operands: the best of three timed runs.
    func matmulGflops(_ backend: OneDNNBackend, _ gemm: (m: Int, n: Int, k: Int)) throws -> Double {
        var random = RandomGenerator(seed: 3)
        let a = Tensor(shape: [gemm.m * gemm.k]), b = Tensor(shape: [gemm.k * gemm.n]), c = Tensor(shape: [gemm.m * gemm.n])
        random.fillUniform(a.buffer, low: -1, high: 1)
        random.fillUniform(b.buffer, low: -1, high: 1)
        var best = Double.infinity
        for run in 0..<4 {
            let start = Date()
            try backend.matmul(transposeA: false, transposeB: false, m: gemm.m, n: gemm.n, k: gemm.k, alpha: 1,
                               a: a.pointer, lda: gemm.k, b: b.pointer, ldb: gemm.n, beta: 0, c: c.pointer, ldc: gemm.n)
            if run > 0 { best = min(best, Date().timeIntervalSince(start)) }
        }
        return 2 * Double(gemm.m) * Double(gemm.n) * Double(gemm.k) / best / 1e9
    }

    func format(_ value: Double) -> String { String(format: "%.4g", value) }
}
