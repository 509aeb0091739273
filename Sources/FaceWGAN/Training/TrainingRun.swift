import Dispatch
import FaceEngine
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A training run in a directory (issue 4): Algorithm 1 on a shard directory, with checkpoints,
/// sample grids, metrics, config and report.html in RUN/, resumable byte for byte, stopped cleanly by SIGINT or
/// SIGTERM, and never overwriting a good checkpoint with non-finite weights.
public final class TrainingRun {
    public enum Outcome: Equatable {
        case finished
        /// Stopped by a signal after writing a checkpoint; the conventional exit status is 128 + signal.
        case interrupted(signal: Int32)
    }

    public let options: TrainingOptions
    public let configuration: ModelConfiguration
    public let dataset: ShardDataset
    public let trainer: WGANGPTrainer
    private let emaGenerator: Generator
    private let emaParameters: Tensor
    private var loader: BatchLoader!
    public private(set) var step = 0
    private let report: (String) -> Void
    private let progress: ((TrainingProgress) -> Void)?

    public var checkpointPath: String { Self.checkpointPath(options) }
    private static func checkpointPath(_ options: TrainingOptions) -> String {
        (options.out as NSString).appendingPathComponent(Checkpoint.fileName)
    }
    /// What the networks compute with (recorded in checkpoints and config.json).
    private var backend: ComputeBackend { trainer.generator.backend }
    private var metricsPath: String { (options.out as NSString).appendingPathComponent("metrics.jsonl") }
    private static let preciseStatisticsLatents = 2048
    private static let gridLatents = 64

    /// Opens the data, creates or resumes the run. `report` gets messages for stderr; `progress`, when
    /// given, gets where the run stands after every generator step (for a status line redrawn in place),
    /// and without it `report` gets a summary at every metrics line instead.
    public init(options: TrainingOptions, backend: ComputeBackend, report: @escaping (String) -> Void,
                progress: ((TrainingProgress) -> Void)? = nil) throws {
        try options.validate()
        self.options = options
        self.report = report
        self.progress = progress
        dataset = try ShardDataset(directory: options.data)

        let checkpoint: Checkpoint? = options.resume ? try Self.readCheckpointToResume(options) : nil
        var configuration = ModelConfiguration(
            imageSize: dataset.imageSize, width: options.width ?? checkpoint?.configuration.width ?? 64,
            latentDimension: options.latentDimension ?? checkpoint?.configuration.latentDimension ?? 128,
            criticNorm: options.criticNorm ?? checkpoint?.configuration.criticNorm ?? .layer)
        do { try configuration.validate() } catch {
            throw ConfigurationError("\(options.data): \(error) (train supports shards of 32, 64 or 128 pixels)")
        }
        if let checkpoint, checkpoint.configuration != configuration {
            throw ConfigurationError("""
                cannot resume \(checkpoint.path): it was trained with image size \(checkpoint.configuration.imageSize), \
                width \(checkpoint.configuration.width), z-dim \(checkpoint.configuration.latentDimension), critic norm \
                \(checkpoint.configuration.criticNorm.rawValue); this run has image size \(configuration.imageSize), width \
                \(configuration.width), z-dim \(configuration.latentDimension), critic norm \(configuration.criticNorm.rawValue)
                """)
        }
        configuration = checkpoint?.configuration ?? configuration
        self.configuration = configuration
        trainer = WGANGPTrainer(configuration: configuration, hyperparameters: options.hyperparameters,
                                backend: backend, seed: options.seed)
        emaGenerator = Generator(configuration, backend: backend)
        emaParameters = trainer.generator.parameters.values.clone()
        var order = DataOrder(count: dataset.count, seed: options.seed, flip: options.flip)
        if let checkpoint {
            order = try restore(from: checkpoint)
        }
        loader = BatchLoader(dataset: dataset, batchSize: options.hyperparameters.batchSize, order: order)
        do { try FileManager.default.createDirectory(atPath: options.out, withIntermediateDirectories: true) } catch {
            throw FormatError(path: options.out, message: "cannot create the run directory (\(error.localizedDescription))")
        }
        try writeConfiguration()
        if checkpoint == nil { try? FileManager.default.removeItem(atPath: metricsPath) } else { try trimMetrics() }
    }

    private static func readCheckpointToResume(_ options: TrainingOptions) throws -> Checkpoint {
        let path = checkpointPath(options)
        guard FileManager.default.fileExists(atPath: path) else {
            throw ConfigurationError("--resume: there is no \(path) to resume from")
        }
        return try Checkpoint.read(path: path)
    }

    // MARK: - The loop

    public func run() throws -> Outcome {
        let stop = SignalWatcher(signals: [SIGINT, SIGTERM])
        defer { stop.restore() }
        let start = Date()
        var interval = IntervalStatistics()
        let batch = options.hyperparameters.batchSize, criticIterations = options.hyperparameters.criticIterations
        while step < options.steps {
            if let signal = stop.received {
                try writeCheckpoint()
                return .interrupted(signal: signal)
            }
            for _ in 0..<criticIterations {
                let terms = try trainer.criticStep(real: loader.next().pointer)
                try requireFinite(terms)
                interval.add(terms)
            }
            let generatorLoss = try trainer.generatorStep()
            guard generatorLoss.isFinite else { throw nonFinite("the generator loss is \(generatorLoss.isNaN ? "NaN" : "infinite")") }
            try requireFiniteWeights()
            updateAverage()
            step += 1
            interval.addGenerator(generatorLoss, images: batch * criticIterations)

            if step % options.logEvery == 0 || step == options.steps {
                let line = interval.metricsLine(step: step, elapsed: Date().timeIntervalSince(start))
                try appendMetrics(line)
                if progress == nil { report(interval.summary(step: step, total: options.steps)) }
                interval = IntervalStatistics(carryingRateFrom: interval)
            }
            progress?(interval.progress(step: step, total: options.steps))
            let sampleNow = step % options.sampleEvery == 0 || step == options.steps
            let checkpointNow = step % options.checkpointEvery == 0 || step == options.steps
            if sampleNow || checkpointNow { try prepareSavedGenerators() }
            if sampleNow { try writeSampleGrid() }
            if checkpointNow { try writeCheckpoint(statisticsReady: true) }
        }
        return .finished
    }

    /// What to tell the user after an interruption (printed even with --quiet: the run did not finish).
    public func interruptionMessage(signal: Int32) -> String {
        let name = signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal \(signal)"
        return "\(name): stopped after step \(step); checkpoint written to \(checkpointPath)\n"
            + "resume with: train --data \(options.data) --out \(options.out) --steps \(options.steps) --resume"
    }

    private func nonFinite(_ what: String) -> Error {
        let kept = FileManager.default.fileExists(atPath: checkpointPath)
            ? "the last good checkpoint is kept in \(checkpointPath)" : "no checkpoint had been written yet"
        return TrainingError("step \(step + 1): \(what); training stopped and \(kept) (try a lower --lr)")
    }

    private func requireFinite(_ terms: CriticLossTerms) throws {
        for (name, value) in [("Wasserstein estimate", terms.wasserstein), ("gradient penalty", terms.penalty),
                              ("critic loss", terms.loss)] where !value.isFinite {
            throw nonFinite("the \(name) is \(value.isNaN ? "NaN" : "infinite")")
        }
    }

    private func requireFiniteWeights() throws {
        for (name, store) in [("critic", trainer.critic.parameters), ("generator", trainer.generator.parameters)] {
            let values = store.values
            var sum: Float = 0
            for index in 0..<values.count { sum += values[index] * 0 }  // NaN or inf anywhere makes it NaN
            if !sum.isFinite {
                let slot = store.slots.first { slot in (0..<slot.count).contains { !store.value(slot)[$0].isFinite } }
                throw nonFinite("a \(name) weight in '\(slot?.name ?? "?")' is not finite after the update")
            }
        }
    }

    /// ema = d * ema + (1 - d) * weights after every generator step, with TensorFlow's warm-up
    /// d = min(--ema-decay, (1 + t) / (10 + t)) at step t: early grids show the current generator
    /// instead of an average still dominated by the random initial weights.
    private func updateAverage() {
        let decay = min(options.emaDecay, Float(1 + step) / Float(10 + step))
        let average = emaParameters.pointer, weights = trainer.generator.parameters.values.pointer
        Parallel.forRanges(emaParameters.count) { range in
            for index in range { average[index] = decay * average[index] + (1 - decay) * weights[index] }
        }
    }

    // MARK: - Outputs

    /// Both saved generators get BatchNorm statistics recomputed from their weights, over latents that
    /// depend only on the seed and the step (so a resumed run writes the same bytes).
    private func prepareSavedGenerators() throws {
        var random = RandomGenerator(seed: options.seed ^ 0xB47C_5EED ^ (UInt64(step) &* 0x9E37_79B9_7F4A_7C15))
        let latents = Tensor(shape: [Self.preciseStatisticsLatents, configuration.latentDimension])
        random.fillNormal(latents.buffer)
        try trainer.generator.recomputeBatchNormStatistics(latents: latents.pointer, count: Self.preciseStatisticsLatents)
        emaGenerator.parameters.values.copy(from: emaParameters)
        try emaGenerator.recomputeBatchNormStatistics(latents: latents.pointer, count: Self.preciseStatisticsLatents)
    }

    private func writeSampleGrid() throws {
        var random = RandomGenerator(seed: options.seed ^ 0x6121_D5A3)
        let latents = Tensor(shape: [Self.gridLatents, configuration.latentDimension])
        random.fillNormal(latents.buffer)
        let png = try SampleGrid.png(generator: emaGenerator, latents: latents.pointer, count: Self.gridLatents)
        let directory = (options.out as NSString).appendingPathComponent("samples")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = (directory as NSString).appendingPathComponent(String(format: "step-%06d.png", step))
        try AtomicFile.write(png, to: path)
    }

    private func writeCheckpoint(statisticsReady: Bool = false) throws {
        if !statisticsReady { try prepareSavedGenerators() }
        let position = loader.position
        let checkpoint = Checkpoint(trainer: trainer, ema: emaGenerator, metadata: [
            "step": String(step), "seed": String(options.seed),
            "data_epoch": String(position.epoch), "data_offset": String(position.offset),
            "data_fingerprint": dataset.fingerprint, "data_count": String(dataset.count),
            "flip": String(options.flip), "ema_decay": "\(options.emaDecay)",
        ])
        do { try checkpoint.write(path: checkpointPath) } catch {
            throw TrainingError("cannot write the checkpoint: \(error) (the previous checkpoint, if any, is intact)")
        }
        try RunReport.write(runDirectory: options.out)
    }

    /// Restores weights, EMA, Adam, RNG and step from `checkpoint`; returns the data order to continue.
    private func restore(from checkpoint: Checkpoint) throws -> DataOrder {
        let path = checkpoint.path
        try checkpoint.restore(into: trainer, ema: emaGenerator)
        emaParameters.copy(from: emaGenerator.parameters.values)
        step = try checkpoint.metadata.integer("step", path: path)
        if checkpoint.metadata["data_fingerprint"] != dataset.fingerprint {
            report("warning: \(options.data) is not the data set this checkpoint was trained on (index.json differs)")
        }
        let hyper = options.hyperparameters
        for (key, now) in [("lr", "\(hyper.learningRate)"), ("beta1", "\(hyper.beta1)"), ("beta2", "\(hyper.beta2)"),
                           ("lambda", "\(hyper.lambda)"), ("n_critic", String(hyper.criticIterations)),
                           ("batch_size", String(hyper.batchSize)), ("ema_decay", "\(options.emaDecay)"),
                           ("flip", String(options.flip)),
                           ("precision", backend.precision.rawValue)] where checkpoint.metadata[key] != now {
            report("resume: \(key) changes from \(checkpoint.metadata[key] ?? "unset") to \(now)")
        }
        report("resuming \(path) at step \(step)")
        let sameData = checkpoint.metadata["data_count"] == String(dataset.count)
        return DataOrder(count: dataset.count, seed: options.seed, flip: options.flip,
                         epoch: sameData ? try checkpoint.metadata.integer("data_epoch", path: path) : 0,
                         offset: sameData ? try checkpoint.metadata.integer("data_offset", path: path) : 0)
    }

    private func writeConfiguration() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        struct Stored: Encodable {
            let options: TrainingOptions
            let model: ModelConfiguration
            let dataFingerprint: String
            let backend: String
            let precision: String
        }
        let data = try encoder.encode(Stored(options: options, model: configuration, dataFingerprint: dataset.fingerprint,
                                             backend: backend.name, precision: backend.precision.rawValue))
        try AtomicFile.write(data, to: (options.out as NSString).appendingPathComponent("config.json"))
    }

    /// On resume, drops metric lines past the checkpoint's step (they belong to the lost work).
    private func trimMetrics() throws {
        guard let text = try? String(contentsOfFile: metricsPath, encoding: .utf8) else { return }
        let kept = text.split(separator: "\n").filter { line in
            guard let data = line.data(using: .utf8),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let lineStep = object["step"] as? Int else { return false }
            return lineStep <= step
        }
        try AtomicFile.write(kept.map { $0 + "\n" }.joined(), to: metricsPath)
    }

    private func appendMetrics(_ line: String) throws {
        let descriptor = open(metricsPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw TrainingError("cannot write \(metricsPath): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        let bytes = Array((line + "\n").utf8)
        // One write of a whole line with O_APPEND: a reader never sees half a line.
        guard bytes.withUnsafeBytes({ write(descriptor, $0.baseAddress, $0.count) }) == bytes.count else {
            throw TrainingError("cannot write \(metricsPath): \(String(cString: strerror(errno)))")
        }
    }
}

public struct TrainingError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
