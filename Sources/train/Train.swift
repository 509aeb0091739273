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
        // Names, help and defaults come from the settings table (TrainingSettings).
        typealias Settings = TrainingSettings
        @Option(name: .customLong(Settings.data.longName), help: ArgumentHelp(Settings.data.help)) var data: String?
        // Optional only so that a missing --data is reported before a missing --out, as the usage reads.
        @Option(help: "Run directory (checkpoint, samples, metrics, config).") var out: String?
        @Option(name: .customLong(Settings.steps.longName), help: ArgumentHelp(Settings.steps.help)) var steps: Int?
        @Option(name: .customLong(Settings.batchSize.longName), help: ArgumentHelp(Settings.batchSize.help)) var batch: Int?
        @Option(name: .customLong(Settings.criticIterations.longName), help: ArgumentHelp(Settings.criticIterations.help))
        var criticIterations: Int?
        @Option(name: .customLong(Settings.lambda.longName), help: ArgumentHelp(Settings.lambda.help)) var penaltyWeight: Float?
        @Option(name: .customLong(Settings.penaltyInterval.longName), help: ArgumentHelp(Settings.penaltyInterval.help))
        var penaltyEvery: Int?
        @Option(name: .customLong(Settings.learningRate.longName), help: ArgumentHelp(Settings.learningRate.help)) var lr: Float?
        @Option(name: .customLong(Settings.criticLearningRate.longName), help: ArgumentHelp(Settings.criticLearningRate.help))
        var lrCritic: Float?
        @Option(name: .customLong(Settings.generatorLearningRate.longName), help: ArgumentHelp(Settings.generatorLearningRate.help))
        var lrGenerator: Float?
        @Option(name: .customLong(Settings.beta1.longName), help: ArgumentHelp(Settings.beta1.help)) var beta1: Float?
        @Option(name: .customLong(Settings.beta2.longName), help: ArgumentHelp(Settings.beta2.help)) var beta2: Float?
        @Option(name: .customLong(Settings.latentDimension.longName), help: ArgumentHelp(Settings.latentDimension.help))
        var latentDimension: Int?
        @Option(name: .customLong(Settings.width.longName), help: ArgumentHelp(Settings.width.help)) var width: Int?
        @Option(name: .customLong(Settings.criticNorm.longName), help: ArgumentHelp(Settings.criticNorm.help))
        var criticNorm: ModelConfiguration.CriticNorm?
        @Option(name: .customLong(Settings.emaDecay.longName), help: ArgumentHelp(Settings.emaDecay.help)) var emaDecay: Float?
        @Flag(name: .customLong(Settings.flip.longName), inversion: .prefixedNo, help: ArgumentHelp(Settings.flip.help))
        var flip: Bool?
        @Option(name: .customLong(Settings.checkpointEvery.longName), help: ArgumentHelp(Settings.checkpointEvery.help))
        var checkpointEvery: Int?
        @Option(name: .customLong(Settings.sampleEvery.longName), help: ArgumentHelp(Settings.sampleEvery.help))
        var sampleEvery: Int?
        @Option(name: .customLong(Settings.logEvery.longName), help: ArgumentHelp(Settings.logEvery.help)) var logEvery: Int?
        @Flag(help: """
            Continue the run in --out from its checkpoint, with every setting of the run (data, seed, \
            hyperparameters) restored; a flag given overrides its setting, and the change is logged.
            """) var resume = false
        @Flag(help: "Start over in an --out that holds the checkpoint of an earlier run (replaces it, its metrics and samples).")
        var force = false
        @Option(name: .customLong(Settings.evalEvery.longName), help: ArgumentHelp(Settings.evalEvery.help)) var evalEvery: Int?
        @Option(name: .customLong(Settings.evalCount.longName), help: ArgumentHelp(Settings.evalCount.help)) var evalCount: Int?
        @Option(name: .customLong(Settings.seed.longName), help: ArgumentHelp(Settings.seed.help)) var seed: UInt64?
        @Option(name: .customLong(Settings.timeBudget.longName), help: ArgumentHelp(Settings.timeBudget.help))
        var timeBudget: TimeBudget?
        @OptionGroup var common: CommonOptions
        @OptionGroup var backendOptions: BackendOptions

        var request: TrainingRequest {
            var request = TrainingRequest(out: out ?? "")
            request.resume = resume
            request.force = force
            request.give(Settings.data, data)
            request.give(Settings.steps, steps)
            request.give(Settings.batchSize, batch)
            request.give(Settings.criticIterations, criticIterations)
            request.give(Settings.lambda, penaltyWeight)
            request.give(Settings.penaltyInterval, penaltyEvery)
            request.give(Settings.learningRate, lr)
            request.give(Settings.criticLearningRate, lrCritic)
            request.give(Settings.generatorLearningRate, lrGenerator)
            request.give(Settings.beta1, beta1)
            request.give(Settings.beta2, beta2)
            request.give(Settings.latentDimension, latentDimension)
            request.give(Settings.width, width)
            request.give(Settings.criticNorm, criticNorm)
            request.give(Settings.emaDecay, emaDecay)
            request.give(Settings.flip, flip)
            request.give(Settings.seed, seed)
            request.give(Settings.checkpointEvery, checkpointEvery)
            request.give(Settings.sampleEvery, sampleEvery)
            request.give(Settings.logEvery, logEvery)
            request.give(Settings.evalEvery, evalEvery)
            request.give(Settings.evalCount, evalCount)
            request.give(Settings.timeBudget, timeBudget)
            return request
        }

        func validate() throws {
            guard data != nil || resume else { throw ValidationError("Missing expected argument '--data <data>'") }
            guard out != nil else { throw ValidationError("Missing expected argument '--out <out>'") }
            guard !(resume && force) else { throw ValidationError("--resume continues the run and --force starts it over: give one") }
            if let invalid = request.invalidSetting() { throw ValidationError(invalid.description) }
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

        func run() throws {
            // --time-budget counts start-up too.
            let started = Date()
            // Before MPI starts: the engine's start-up may re-execute the process (BLASRuntime). Signals
            // then stop the run at a step boundary (SignalWatcher), not through SignalEnding.
            common.prepareEngine(endingOnSignals: false)
            let signals = SignalWatcher(signals: [SIGINT, SIGTERM])
            guard let launch = LaunchEnvironment.detect(ProcessInfo.processInfo.environment) else {
                return try train(in: SingleProcess(), signals: signals, started: started)
            }
            let world = try MPICollective()
            defer { world.finish() }
            try launch.check(mpiWorldSize: world.size)
            if common.threads == nil, let local = launch.localRanks, local > 1 {
                Parallel.setThreadCount(max(1, System.coreCount / local))
            }
            do {
                try train(in: world, signals: signals, started: started)
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

        func train(in world: Collective, signals: SignalWatcher, started: Date) throws {
            let speaks = world.isRoot && !common.quiet
            func message(_ text: String) { if speaks { common.message(text) } }
            let terminal = isatty(STDERR_FILENO) == 1 && speaks
            let backend = try backendOptions.makeBackend()
            message("kernels: \(describe(backend)), \(Parallel.threadCount) threads")
            var status: ProgressReporter?
            let run = try TrainingRun(request: request, backend: backend, collective: world, signals: signals, started: started,
                                      report: { text in
                                          guard speaks else { return }
                                          if let status { status.message(text) } else { common.message(text) }
                                      },
                                      progress: terminal ? { status?.update(done: $0.step, total: $0.total, detail: $0.detail) } : nil)
            if world.size > 1 {
                let summary = describeWorld(world, batch: run.options[TrainingSettings.batchSize])
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

extension TimeBudget: ExpressibleByArgument {
    public init?(argument: String) { self.init(settingText: argument) }
}

extension TrainingProgress {
    /// The losses and throughput after the step count on the status line.
    var detail: String {
        String(format: "W %.3f, penalty %.3f, %.1f img/s", wasserstein, penalty, imagesPerSecond)
            + (timeLeft.map { ", \(DurationText.format($0)) left" } ?? "")
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
