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
            checkpoint left off, with the run's settings (flags given override them); an --out that holds \
            a checkpoint is refused without --resume or --force. --eval-every N appends SWD and MS-SSIM of \
            --eval-count EMA samples against a fixed real subset to metrics.jsonl (the floor goes to \
            quality.json), as `evaluate --checkpoint RUN --real DATA --count N --seed S --floor` computes them. \
            `train probe --help` describes the gradient probe.

            Examples:
              train --data shards/celeba64 --out runs/celeba64 --steps 6000
              train --data shards/celeba64 --out runs/celeba64 --steps 8000 --resume
              train --data shards/celeba64 --out runs/celeba64 --steps 6000 --lr 2e-4 --force
              train probe --input probe.safetensors --output gradients.safetensors
            """,
            helpNames: [.short, .long])

        // Settings are optional (nil: not given) so that --resume can tell a flag from a default: a new
        // run takes the default in the help, a resumed run its own setting unless the flag is given.
        @Option(help: "Shard directory written by preprocess (on --resume: the run's, from its config.json).")
        var data: String?
        // Optional only so that a missing --data is reported before a missing --out, as the usage reads.
        @Option(help: "Run directory (checkpoint, samples, metrics, config).") var out: String?
        @Option(help: "Generator steps in total; a resumed run continues up to this count (default: 10000).")
        var steps: Int?
        @Option(help: "Batch size (default: 64).") var batch: Int?
        @Option(name: .customLong("n-critic"), help: "Critic steps per generator step (default: 5).") var criticIterations: Int?
        @Option(name: .customLong("lambda"), help: "Gradient penalty weight (default: 10).") var penaltyWeight: Float?
        @Option(help: "Adam learning rate, both networks (default: 0.0001).") var lr: Float?
        @Option(help: "Adam beta1 (default: 0).") var beta1: Float?
        @Option(help: "Adam beta2 (default: 0.9).") var beta2: Float?
        @Option(name: .customLong("z-dim"), help: "Latent dimension (default: 128).")
        var latentDimension: Int?
        @Option(help: "Network width (default: 64).") var width: Int?
        @Option(help: "Critic normalization (default: layer).")
        var criticNorm: ModelConfiguration.CriticNorm?
        @Option(help: "Decay of the generator's exponential moving average (default: 0.999).") var emaDecay: Float?
        @Flag(inversion: .prefixedNo, help: "Mirror real images left-right at random (default: no).") var flip: Bool?
        @Option(help: "Write the checkpoint every N steps (default: 500).") var checkpointEvery: Int?
        @Option(help: "Write a sample grid every N steps (default: 500).") var sampleEvery: Int?
        @Option(help: "Append a metrics line every N steps (default: 50).") var logEvery: Int?
        @Flag(help: """
            Continue the run in --out from its checkpoint, with every setting of the run (data, seed, \
            hyperparameters) restored; a flag given overrides its setting, and the change is logged.
            """) var resume = false
        @Flag(help: "Start over in an --out that holds the checkpoint of an earlier run (replaces it, its metrics and samples).")
        var force = false
        @Option(help: "Append SWD and MS-SSIM of EMA samples to metrics.jsonl every N steps (default: 500 when --steps is at least 2000, else off; 0: off).")
        var evalEvery: Int?
        @Option(help: "Images per quality evaluation: real subset and EMA samples (default 2048, at most the data set's size).")
        var evalCount: Int?
        @Option(help: "Random seed: the same seed and inputs give the same output, byte for byte (default: 0).")
        var seed: UInt64?
        @OptionGroup var common: CommonOptions
        @OptionGroup var backendOptions: BackendOptions

        var request: TrainingRequest {
            var request = TrainingRequest(data: data, out: out ?? "")
            request.steps = steps
            request.batchSize = batch
            request.criticIterations = criticIterations
            request.lambda = penaltyWeight
            request.learningRate = lr
            request.beta1 = beta1
            request.beta2 = beta2
            request.latentDimension = latentDimension
            request.width = width
            request.criticNorm = criticNorm
            request.emaDecay = emaDecay
            request.flip = flip
            request.seed = seed
            request.checkpointEvery = checkpointEvery
            request.sampleEvery = sampleEvery
            request.logEvery = logEvery
            request.resume = resume
            request.force = force
            request.evalEvery = evalEvery
            request.evalCount = evalCount
            return request
        }

        func validate() throws {
            guard data != nil || resume else { throw ValidationError("Missing expected argument '--data <data>'") }
            guard out != nil else { throw ValidationError("Missing expected argument '--out <out>'") }
            guard !(resume && force) else { throw ValidationError("--resume continues the run and --force starts it over: give one") }
            let options = request.defaulted
            do {
                try options.validate()
            } catch let error as TrainingOptions.InvalidField {
                throw ValidationError("\(Self.flag(for: error.field)) \(error.requirement)")
            }
            // Sizes no machine could train, at the smallest image size (the shards' is not known yet);
            // what does not fit this machine is checked once the data is open.
            let smallest = ModelConfiguration(imageSize: ModelConfiguration.supportedImageSizes[0],
                                              width: width ?? 1, latentDimension: latentDimension ?? 1)
            do {
                try MemoryBudget.require(smallest.trainingBytesEstimate(batch: batch ?? 1), for: "")
            } catch let error as SizeError where error.kind == .impossible {
                let flags = [("--batch", batch), ("--width", width), ("--z-dim", latentDimension)]
                    .compactMap { flag, value in value.map { "\(flag) \(String($0))" } }.joined(separator: ", ")
                throw ValidationError("\(flags): training would need more memory than any machine addresses "
                    + "(\(MemoryBudget.format(smallest.trainingBytesEstimate(batch: batch ?? 1))) at image size 32)")
            } catch is SizeError {}
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
            // Before MPI starts: the engine's start-up may re-execute the process (BLASRuntime). Signals
            // then stop the run at a step boundary (SignalWatcher), not through SignalEnding.
            common.prepareEngine(endingOnSignals: false)
            let signals = SignalWatcher(signals: [SIGINT, SIGTERM])
            guard let launch = LaunchEnvironment.detect(ProcessInfo.processInfo.environment) else {
                return try train(in: SingleProcess(), signals: signals)
            }
            let world = try MPICollective()
            defer { world.finish() }
            try launch.check(mpiWorldSize: world.size)
            if common.threads == nil, let local = launch.localRanks, local > 1 {
                Parallel.setThreadCount(max(1, System.coreCount / local))
            }
            do {
                try train(in: world, signals: signals)
            } catch let exit as ExitCode {
                throw exit
            } catch {
                // The other ranks would wait for this one at the next collective: end the whole job.
                writeToStandardError("train: \(world.size > 1 ? "rank \(world.rank): " : "")\(error)\n")
                world.abort(status: 1)
            }
        }

        /// "world: 4 ranks on 2 hosts (node1: 2, node2: 2), 1 thread per rank" on rank 0.
        func describeWorld(_ world: Collective, batch: Int) -> String {
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

        func train(in world: Collective, signals: SignalWatcher) throws {
            let speaks = world.isRoot && !common.quiet
            func message(_ text: String) { if speaks { common.message(text) } }
            let terminal = isatty(STDERR_FILENO) == 1 && speaks
            let backend = try backendOptions.makeBackend()
            message("kernels: \(describe(backend)), \(Parallel.threadCount) threads")
            var status: ProgressReporter?
            let run = try TrainingRun(request: request, backend: backend, collective: world, signals: signals,
                                      report: { text in
                                          guard speaks else { return }
                                          if let status { status.message(text) } else { common.message(text) }
                                      },
                                      progress: terminal ? { status?.update(done: $0.step, total: $0.total, detail: $0.detail) } : nil)
            if world.size > 1 {
                let summary = describeWorld(world, batch: run.options.hyperparameters.batchSize)
                message(summary)
            }
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
