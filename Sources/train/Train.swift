import ArgumentParser
import FaceEngine
import FaceWGAN
import FaceWGANMPI
import Foundation
import ToolSupport

/// `train` trains (`Fit`, the default subcommand, so `train --data D --out R` needs no subcommand name);
/// `train probe` evaluates the gradient probe.
@main
struct Train: FaceWGANTool {
    static let configuration = CommandConfiguration(
        abstract: "Train a WGAN-GP face generator on a shard directory, or run the gradient probe.",
        subcommands: [Fit.self, Probe.self], defaultSubcommand: Fit.self,
        // `train --help` falls through to the default subcommand, whose help lists the training options.
        helpNames: [])
}

extension Train {
    struct Fit: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fit",
            abstract: "Train a WGAN-GP face generator on a shard directory.",
            usage: "train --data <data> --out <out> [<options>]",
            discussion: """
            Algorithm 1 of Gulrajani et al. (2017) with its defaults: lambda 10, 5 critic steps per generator \
            step, Adam(1e-4, 0, 0.9), batch 64. The image size comes from the shards. RUN/ receives \
            checkpoint.safetensors (every --checkpoint-every steps, at the end and on SIGINT/SIGTERM), \
            metrics.jsonl, samples/step-NNNNNN.png, config.json and report.html. --resume continues exactly where the \
            checkpoint left off. --eval-every N appends SWD and MS-SSIM of --eval-count EMA samples against a \
            fixed real subset to metrics.jsonl (the floor goes to quality.json), as `evaluate --checkpoint RUN \
            --real DATA --count N --seed S --floor` computes them. `train probe --help` describes the gradient probe.

            Examples:
              train --data shards/celeba64 --out runs/celeba64 --steps 6000
              train --data shards/celeba64 --out runs/celeba64 --steps 8000 --resume
              train probe --input probe.safetensors --output gradients.safetensors
            """,
            helpNames: [.short, .long])

        @Option(help: "Shard directory written by preprocess.") var data: String
        @Option(help: "Run directory (checkpoint, samples, metrics, config).") var out: String
        @Option(help: "Generator steps in total (a resumed run continues up to this count).") var steps = 10_000
        @Option(help: "Batch size.") var batch = 64
        @Option(name: .customLong("n-critic"), help: "Critic steps per generator step.") var criticIterations = 5
        @Option(name: .customLong("lambda"), help: "Gradient penalty weight.") var penaltyWeight: Float = 10
        @Option(help: "Adam learning rate (both networks).") var lr: Float = 1e-4
        @Option(help: "Adam beta1.") var beta1: Float = 0
        @Option(help: "Adam beta2.") var beta2: Float = 0.9
        @Option(name: .customLong("z-dim"), help: "Latent dimension (default 128, or the checkpoint's on --resume).")
        var latentDimension: Int?
        @Option(help: "Network width (default 64, or the checkpoint's on --resume).") var width: Int?
        @Option(help: "Critic normalization (default layer, or the checkpoint's on --resume).")
        var criticNorm: ModelConfiguration.CriticNorm?
        @Option(help: "Decay of the generator's exponential moving average.") var emaDecay: Float = 0.999
        @Flag(help: "Mirror real images left-right at random.") var flip = false
        @Option(help: "Write the checkpoint every N steps.") var checkpointEvery = 500
        @Option(help: "Write a sample grid every N steps.") var sampleEvery = 500
        @Option(help: "Append a metrics line every N steps.") var logEvery = 50
        @Flag(help: "Continue the run in --out from its checkpoint.") var resume = false
        @Option(help: "Append SWD and MS-SSIM of EMA samples to metrics.jsonl every N steps (default: 500 when --steps is at least 2000, else off; 0: off).")
        var evalEvery: Int?
        @Option(help: "Images per quality evaluation: real subset and EMA samples (default 2048, at most the data set's size).")
        var evalCount: Int?
        @OptionGroup var seed: SeedOption
        @OptionGroup var common: CommonOptions
        @OptionGroup var backendOptions: BackendOptions

        var options: TrainingOptions {
            var options = TrainingOptions(data: data, out: out)
            options.steps = steps
            options.hyperparameters.batchSize = batch
            options.hyperparameters.criticIterations = criticIterations
            options.hyperparameters.lambda = penaltyWeight
            options.hyperparameters.learningRate = lr
            options.hyperparameters.beta1 = beta1
            options.hyperparameters.beta2 = beta2
            options.latentDimension = latentDimension
            options.width = width
            options.criticNorm = criticNorm
            options.emaDecay = emaDecay
            options.flip = flip
            options.seed = seed.seed
            options.checkpointEvery = checkpointEvery
            options.sampleEvery = sampleEvery
            options.logEvery = logEvery
            options.resume = resume
            options.evalEvery = evalEvery
            options.evalCount = evalCount
            return options
        }

        func validate() throws {
            do {
                try options.validate()
            } catch let error as TrainingOptions.InvalidField {
                throw ValidationError("\(Self.flag(for: error.field)) \(error.requirement)")
            }
        }

        /// The option that sets a field of `TrainingOptions`.
        static func flag(for field: TrainingOptions.Field) -> String {
            switch field {
            case .steps: return "--steps"
            case .batchSize: return "--batch"
            case .criticIterations: return "--n-critic"
            case .lambda: return "--lambda"
            case .learningRate: return "--lr"
            case .beta1: return "--beta1"
            case .beta2: return "--beta2"
            case .emaDecay: return "--ema-decay"
            case .checkpointEvery: return "--checkpoint-every"
            case .sampleEvery: return "--sample-every"
            case .logEvery: return "--log-every"
            case .width: return "--width"
            case .latentDimension: return "--z-dim"
            case .evalEvery: return "--eval-every"
            case .evalCount: return "--eval-count"
            }
        }

        func run() throws {
            // Before MPI starts: the engine's start-up may re-execute the process (BLASRuntime).
            common.prepareEngine()
            guard let launch = LaunchEnvironment.detect(ProcessInfo.processInfo.environment) else {
                return try train(in: SingleProcess())
            }
            let world = try MPICollective()
            defer { world.finish() }
            try launch.check(mpiWorldSize: world.size)
            if common.threads == nil, let local = launch.localRanks, local > 1 {
                Parallel.setThreadCount(max(1, System.coreCount / local))
            }
            do {
                try train(in: world)
            } catch let exit as ExitCode {
                throw exit
            } catch {
                // The other ranks would wait for this one at the next collective: end the whole job.
                writeToStandardError("train: \(world.size > 1 ? "rank \(world.rank): " : "")\(error)\n")
                world.abort(status: 1)
            }
        }

        /// "world: 4 ranks on 2 hosts (node1: 2, node2: 2), 1 thread per rank" on rank 0.
        func describeWorld(_ world: Collective) -> String {
            let hosts = world.gather(MPICollective.hostName)
            var counts = [(String, Int)]()
            for host in hosts {
                if let index = counts.firstIndex(where: { $0.0 == host }) { counts[index].1 += 1 } else { counts.append((host, 1)) }
            }
            let threads = Parallel.threadCount
            return "world: \(world.size) ranks on \(counts.count) host\(counts.count == 1 ? "" : "s") ("
                + counts.map { "\($0.0): \($0.1)" }.joined(separator: ", ")
                + "), \(threads) thread\(threads == 1 ? "" : "s") per rank, batch \(batch / world.size) per rank"
        }

        func train(in world: Collective) throws {
            let speaks = world.isRoot && !common.quiet
            func message(_ text: String) { if speaks { common.message(text) } }
            if world.size > 1 {
                let summary = describeWorld(world)
                message(summary)
            }
            let terminal = isatty(STDERR_FILENO) == 1 && speaks
            let backend = try backendOptions.makeBackend()
            message("kernels: \(describe(backend)), \(Parallel.threadCount) threads")
            var status: ProgressReporter?
            let run = try TrainingRun(options: options, backend: backend, collective: world,
                                      report: { text in
                                          guard speaks else { return }
                                          if let status { status.message(text) } else { common.message(text) }
                                      },
                                      progress: terminal ? { status?.update(done: $0.step, total: $0.total, detail: $0.detail) } : nil)
            status = ProgressReporter(label: "train", unit: "steps", quiet: !terminal, startingAt: run.step)
            let outcome = try run.run()
            status?.finish()
            switch outcome {
            case .finished:
                message("done: \(run.step) steps; checkpoint \(run.checkpointPath)")
            case .interrupted(let signal):
                if world.isRoot { writeToStandardError(run.interruptionMessage(signal: signal) + "\n") }
                throw ExitCode(128 + signal)
            }
        }
    }
}

extension TrainingProgress {
    /// The losses and throughput after the step count on the status line.
    var detail: String {
        String(format: "W %.3f, penalty %.3f, %.1f img/s", wasserstein, penalty, imagesPerSecond)
    }
}

extension Train {
    struct Probe: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "probe",
            abstract: "Evaluate one critic and one generator loss with all parameter gradients.",
            discussion: """
            The input safetensors file holds generator.<name> and critic.<name> weights (PyTorch names \
            and layouts), real [B,3,S,S] in [-1,1], z [B,Z] and t [B], with the string metadata \
            image_size, z_dim, width, lambda and critic_norm (layer or none). The generator runs once \
            on z in training mode. The output holds loss.critic, loss.wasserstein, loss.penalty, \
            loss.generator and grad.critic.<name>, grad.generator.<name>.

            Example:
              train probe --input probe.safetensors --output gradients.safetensors
            """,
            helpNames: [.short, .long])

        @Option(help: "Probe input (safetensors).") var input: String
        @Option(help: "Where to write the losses and gradients (safetensors).") var output: String
        @OptionGroup var common: CommonOptions
        @OptionGroup var backendOptions: BackendOptions

        func run() throws {
            common.prepareEngine()
            let probe = try Safetensors.read(path: input)
            let result = try GradientProbe.evaluate(probe, path: input, backend: backendOptions.makeBackend())
            try result.write(path: output)
            common.message("wrote \(output)")
        }
    }
}
