import ArgumentParser
import FaceEngine
import FaceWGAN
import Foundation

/// `make bench`: times the engine's WGAN-GP steps and prints one JSON line per configuration.
@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "facewgan-bench",
        abstract: "Time the WGAN-GP critic and generator steps (one JSON line per configuration).",
        discussion: """
        One configuration per run (make bench runs size 64 and 32, critic norm none and layer), random data.
        peak_fraction divides the useful GFLOP/s by --peak-gflops (this machine's measured AVX-512 FMA
        peak at 2 threads, ../shared/bench/README.md: 348).
        """)

    @Option(help: "Threads for our loops and BLAS.") var threads = System.coreCount
    @Option(help: "Image size (32, 64, 128).") var size = 64
    @Option(help: "Critic variant (layer, none).") var criticNorm = "none"
    @Option(help: "Generator width.") var width = 64
    @Option(help: "Batch size.") var batch = 64
    @Option(help: "Timed generator iterations (each 5 critic + 1 generator step).") var iterations = 3
    @Option(help: "fp32 peak GFLOP/s used for peak_fraction.") var peakGflops = 348.0
    @Option(help: "Kernel backend: blas or onednn.") var backend = "blas"
    @Option(help: "Precision of the heavy kernels: fp32 or bf16 (bf16 needs onednn).") var precision = "fp32"

    func run() throws {
        BLASRuntime.ensureFastKernels()
        Parallel.setThreadCount(threads)
        guard let norm = ModelConfiguration.CriticNorm(rawValue: criticNorm) else {
            throw ValidationError("unknown critic norm '\(criticNorm)' (use layer or none)")
        }
        guard let precisionValue = ComputePrecision(rawValue: precision) else {
            throw ValidationError("unknown precision '\(precision)' (use fp32 or bf16)")
        }
        let engine: ComputeBackend
        switch backend {
        case "blas":
            guard precisionValue == .fp32 else { throw ValidationError("--precision bf16 needs --backend onednn") }
            engine = BLASBackend()
        case "onednn":
            if precisionValue == .bf16 && !OneDNNBackend.supportsBF16 {
                // A line rather than a failure, so that `make bench` runs on every CPU.
                print("{\"backend\": \"onednn\", \"precision\": \"bf16\", \"size\": \(size), \"critic_norm\": \"\(criticNorm)\", "
                      + "\"skipped\": \"no bf16 on this CPU (oneDNN ISA \(OneDNNBackend.instructionSet))\"}")
                return
            }
            engine = try OneDNNBackend(precision: precisionValue)
        default: throw ValidationError("unknown backend '\(backend)' (use blas or onednn)")
        }
        // One configuration per process, so that peak_rss_mib is this configuration's own.
        print(try measure(ModelConfiguration(imageSize: size, width: width, latentDimension: 128, criticNorm: norm),
                      engine: engine, precision: precisionValue))
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
        for iteration in 0..<(iterations + 1) {
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
            ("backend", "\"\(backend)\""), ("precision", "\"\(precision.rawValue)\""),
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
        return "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
    }

    func format(_ value: Double) -> String { String(format: "%.4g", value) }
}
