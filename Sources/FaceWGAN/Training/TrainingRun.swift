import Dispatch
import FaceEngine
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A training run in a directory (issue 4): Algorithm 1 on a shard directory, with checkpoints,
/// sample grids, metrics, config and report.html in RUN/, resumable byte for byte, stopped cleanly by SIGINT or
/// SIGTERM, and never overwriting a good checkpoint with non-finite weights.
///
/// Data parallel over the ranks of a `Collective` (DESIGN.md, "Training on many machines"): every rank
/// follows the same data order and random stream and computes its part of each global batch; the
/// gradients are averaged (one sum of each network's flat gradient buffer per step) and BatchNorm is
/// synchronised, so N ranks compute what one process computes. Rank 0 alone reads the checkpoint it
/// resumes (and sends it to the others) and writes RUN/.
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
    private let stop: SignalWatcher
    /// The step this process started from (0, or the resumed checkpoint's).
    private var startStep = 0
    public let collective: Collective
    private var parallel: Bool { collective.size > 1 }
    /// The quality evaluation (`--eval-every`), on rank 0 only; nil when it is off.
    private var quality: TrainingQuality?

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
    /// and without it `report` gets a summary at every metrics line instead. `signals` (made here when
    /// nil) holds SIGINT / SIGTERM from the start, so a signal during start-up ends the run before its
    /// first step with no file half written.
    ///
    /// A run directory that holds a checkpoint is refused unless `request.resume` (continue it, every
    /// setting not given restored from the checkpoint and config.json) or `request.force` (start over).
    /// Temporary files a killed run left in RUN/ are removed first.
    public init(request: TrainingRequest, backend: ComputeBackend, collective: Collective = SingleProcess(),
                signals: SignalWatcher? = nil,
                report: @escaping (String) -> Void, progress: ((TrainingProgress) -> Void)? = nil) throws {
        stop = signals ?? SignalWatcher(signals: [SIGINT, SIGTERM])
        let checkpointFile = (request.out as NSString).appendingPathComponent(Checkpoint.fileName)
        if collective.isRoot {
            Self.removeTemporaryFiles(in: request.out)
            if !request.resume && !request.force && FileManager.default.fileExists(atPath: checkpointFile) {
                throw ConfigurationError("\(request.out) holds the checkpoint of an earlier run (\(checkpointFile)): "
                    + "continue it with --resume, or start over with --force (which replaces its checkpoint, metrics and samples)")
            }
        }
        var checkpoint: Checkpoint?, stored: [String: Any]?
        if request.resume {
            let (bytes, configuration) = try Self.filesToResume(out: request.out, collective: collective)
            checkpoint = try Checkpoint.decode(bytes, path: checkpointFile)
            stored = configuration.flatMap { try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] }?["options"] as? [String: Any]
        }
        let (options, changes) = try request.resolved(checkpoint: checkpoint?.metadata, stored: stored, path: checkpointFile)
        do { try options.validate() } catch let error as TrainingOptions.InvalidField where request.resume {
            // Flags were checked before: a value out of range came from the checkpoint or config.json.
            let keys: [TrainingOptions.Field: String] = [.batchSize: "batch_size", .criticIterations: "n_critic", .lambda: "lambda",
                                                         .learningRate: "lr", .beta1: "beta1", .beta2: "beta2", .emaDecay: "ema_decay"]
            if let key = keys[error.field], let value = checkpoint?.metadata[key] {
                throw FormatError(path: checkpointFile, message: "metadata '\(key)' = '\(value)' \(error.requirement)")
            }
            throw ConfigurationError("\((request.out as NSString).appendingPathComponent("config.json")): \(error)")
        }
        let batch = options.hyperparameters.batchSize
        guard batch % collective.size == 0 else {
            throw ConfigurationError("--batch \(batch) does not divide among \(collective.size) ranks: the global batch "
                + "must be a multiple of the number of ranks (e.g. --batch \(batch / collective.size * collective.size + collective.size))")
        }
        self.options = options
        self.collective = collective
        self.report = report
        self.progress = progress
        for change in changes { report(change) }
        dataset = try ShardDataset(directory: options.data)
        if collective.size > 1 {
            let fingerprints = collective.gather(dataset.fingerprint)
            let differing = fingerprints.indices.filter { fingerprints[$0] != fingerprints[0] }
            guard differing.isEmpty else {
                throw ConfigurationError("\(options.data) is not the same data set on every rank: ranks "
                    + "\(differing.map(String.init).joined(separator: ", ")) read another index.json than rank 0")
            }
        }

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
        // Before anything is allocated for the model: a size no machine (or not this one) can hold is an error.
        try MemoryBudget.require(configuration.trainingBytesEstimate(batch: batch / collective.size),
                                 for: "training with batch \(batch), \(configuration.sizeSummary)")
        self.configuration = configuration
        trainer = WGANGPTrainer(configuration: configuration, hyperparameters: options.hyperparameters,
                                backend: backend, seed: options.seed)
        emaGenerator = Generator(configuration, backend: backend)
        emaParameters = trainer.generator.parameters.values.clone()
        var order = DataOrder(count: dataset.count, seed: options.seed, flip: options.flip)
        if let checkpoint {
            order = try restore(from: checkpoint)
        }
        startStep = step
        loader = BatchLoader(dataset: dataset, batchSize: options.hyperparameters.batchSize, order: order)
        trainer.part = BatchPart(index: collective.rank, count: collective.size)
        if collective.size > 1 {
            trainer.generator.batchNormSynchronization = { [collective] in collective.sum($0) }
            // Every rank initialised (or restored) the same weights from the same seed (or checkpoint);
            // rank 0's are sent anyway, so that the ranks start identical whatever their hardware.
            for store in [trainer.critic.parameters, trainer.generator.parameters] {
                collective.broadcast(UnsafeMutableRawBufferPointer(store.values.buffer), from: 0)
            }
        }
        guard collective.isRoot else { return }
        try ShardDirectoryWriter.makeDirectories(options.out)
        if checkpoint == nil && request.force { try removeEarlierRun() }
        try writeConfiguration()
        if checkpoint == nil { try? FileManager.default.removeItem(atPath: metricsPath) } else { try trimMetrics() }
        if options.evaluationInterval != nil { try prepareQuality() }
    }

    /// The real subset, its descriptors and the floor, once per invocation (a resumed run rebuilds
    /// the same ones from the seed); the floor goes to RUN/quality.json.
    private func prepareQuality() throws {
        let quality = try TrainingQuality(dataDirectory: options.data,
                                          requestedCount: options.requestedEvaluationCount,
                                          seed: options.seed)
        self.quality = quality
        try AtomicFile.write(quality.floorJSON(), to: (options.out as NSString).appendingPathComponent(TrainingQuality.floorFileName))
        report(String(format: "quality: %d real images, floor swd_mean %.4g (halves of %d), ms_ssim_real %.4f; set up in %.1f s",
                      quality.count, quality.floorMean, quality.floorCount, quality.evaluator.multiScaleSSIMReal, quality.setupSeconds))
    }

    /// ".<name>.tmp-<random>" files (AtomicStreamFile's) that a killed run left in RUN/ and RUN/samples.
    private static func removeTemporaryFiles(in out: String) {
        for directory in [out, (out as NSString).appendingPathComponent("samples")] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            where AtomicStreamFile.temporaryNameParts(name) != nil {
                try? FileManager.default.removeItem(atPath: (directory as NSString).appendingPathComponent(name))
            }
        }
    }

    /// --force: the earlier run's checkpoint, report and sample grids go (metrics.jsonl and config.json
    /// are rewritten anyway), so nothing of it is mistaken for the new run's.
    private func removeEarlierRun() throws {
        let files = FileManager.default
        for name in [Checkpoint.fileName, "report.html"] {
            try? files.removeItem(atPath: (options.out as NSString).appendingPathComponent(name))
        }
        let samples = (options.out as NSString).appendingPathComponent("samples")
        for name in (try? files.contentsOfDirectory(atPath: samples)) ?? [] where name.hasPrefix("step-") && name.hasSuffix(".png") {
            try? files.removeItem(atPath: (samples as NSString).appendingPathComponent(name))
        }
    }

    /// The checkpoint to resume and the run's config.json (nil when it is missing): rank 0 reads them
    /// and sends their bytes to the other ranks, so that nodes need no shared file system for RUN/ and
    /// every rank restores the same settings. An error on rank 0 becomes an error on every rank.
    private static func filesToResume(out: String, collective: Collective) throws -> (checkpoint: [UInt8], configuration: [UInt8]?) {
        let path = (out as NSString).appendingPathComponent(Checkpoint.fileName)
        var bytes = [UInt8](), configuration = [UInt8](), failure: Error?
        if collective.isRoot {
            do {
                guard FileManager.default.fileExists(atPath: path) else {
                    throw ConfigurationError("--resume: there is no \(path) to resume from")
                }
                bytes = try readFileBytes(atPath: path)
                configuration = (try? readFileBytes(atPath: (out as NSString).appendingPathComponent("config.json"))) ?? []
            } catch {
                failure = error
            }
        }
        if collective.size > 1 {
            func broadcast(_ buffer: inout [UInt8]) -> Bool {
                var count = Int64(failure == nil ? buffer.count : -1)
                withUnsafeMutableBytes(of: &count) { collective.broadcast($0, from: 0) }
                guard count >= 0 else { return false }
                if !collective.isRoot { buffer = [UInt8](repeating: 0, count: Int(count)) }
                buffer.withUnsafeMutableBytes { collective.broadcast($0, from: 0) }
                return true
            }
            guard broadcast(&bytes), broadcast(&configuration) else {
                throw failure ?? TrainingError("rank 0 could not read \(path) to resume from")
            }
        }
        if let failure { throw failure }
        return (bytes, configuration.isEmpty ? nil : configuration)
    }

    // MARK: - The loop

    /// The kernel plan's first-use cost, once per process: what tuning took and what came from the cache.
    private func reportPlan(_ tuner: KernelTuner) {
        let plan = tuner.plan
        let tuned = plan.filter { $0.source == .tuned }.count, cached = plan.filter { $0.source == .cached }.count
        guard tuned + cached > 0 else { return }
        var text = "kernel plan: \(plan.count) convolution passes"
        if tuned > 0 { text += String(format: ", %d tuned in %.1f s", tuned, tuner.tuningSeconds) }
        if cached > 0 { text += ", \(cached) from the cache" }
        if let memory = tuner.memory { text += " (\(memory.location))" }
        report(text)
    }

    public func run() throws -> Outcome {
        defer { stop.stopWatchingAndResetToDefault() }
        let start = Date()
        var interval = IntervalStatistics()
        let batch = options.hyperparameters.batchSize, criticIterations = options.hyperparameters.criticIterations
        let partOffset = trainer.part.samples(of: batch).lowerBound * configuration.imageItemSize
        var evaluationSeconds = 0.0
        while step < options.steps {
            // A signal may reach one rank only: they agree on it, so all stop at the same step.
            let signal = Int32(collective.maximum(Int(stop.received ?? 0)))
            if signal != 0 {
                // Before the first step (a signal during start-up) there is nothing new to save.
                guard step > startStep else { return .interrupted(signal: signal) }
                try requireSameWeights()
                if collective.isRoot { try writeCheckpoint() }
                return .interrupted(signal: signal)
            }
            for _ in 0..<criticIterations {
                var terms = try trainer.computeCriticGradients(real: loader.next().pointer + partOffset)
                if parallel {
                    let started = Date()
                    terms = averaged(terms)
                    averageGradients(trainer.critic.parameters)
                    interval.addCollective(Date().timeIntervalSince(started))
                }
                trainer.applyCriticGradients()
                try requireFinite(terms)
                interval.add(terms)
            }
            var generatorLoss = try trainer.computeGeneratorGradients()
            if parallel {
                let started = Date()
                generatorLoss = averaged([generatorLoss])[0]
                averageGradients(trainer.generator.parameters)
                interval.addCollective(Date().timeIntervalSince(started))
            }
            trainer.applyGeneratorGradients()
            guard generatorLoss.isFinite else { throw nonFinite("the generator loss is \(generatorLoss.isNaN ? "NaN" : "infinite")") }
            try requireFiniteWeights()
            if collective.isRoot { updateAverage() }
            step += 1
            if step == startStep + 1, collective.isRoot, let tuner = backend.kernelTuner { reportPlan(tuner) }
            interval.addGenerator(generatorLoss, images: batch * criticIterations)
            let sampleNow = step % options.sampleEvery == 0 || step == options.steps
            let checkpointNow = step % options.checkpointEvery == 0 || step == options.steps
            if checkpointNow { try requireSameWeights() }
            guard collective.isRoot else { continue }

            if step % options.logEvery == 0 || step == options.steps {
                let line = interval.metricsLine(step: step, elapsed: Date().timeIntervalSince(start))
                try appendMetrics(line)
                if progress == nil { report(interval.summary(step: step, total: options.steps)) }
                interval = IntervalStatistics(carryingRateFrom: interval)
            }
            progress?(interval.progress(step: step, total: options.steps))
            let evaluateNow = options.evaluationInterval.map { step % $0 == 0 || step == options.steps } ?? false
            if sampleNow || checkpointNow { try prepareSavedGenerators() }
            if evaluateNow, let quality {
                let seconds = try evaluate(quality, statisticsReady: sampleNow || checkpointNow,
                                           spentBefore: evaluationSeconds, runStart: start)
                evaluationSeconds += seconds
                // The throughput stays the training's own; the evaluation's cost is in its line.
                interval.discount(seconds: seconds)
            }
            if sampleNow { try writeSampleGrid() }
            if checkpointNow { try writeCheckpoint(statisticsReady: true) }
        }
        if quality != nil, collective.isRoot {
            let elapsed = Date().timeIntervalSince(start)
            report(String(format: "quality evaluations took %.1f s of %.1f s (%.1f%%)", evaluationSeconds, elapsed,
                          100 * evaluationSeconds / max(elapsed, 1e-9)))
        }
        return .finished
    }

    /// What to tell the user after an interruption (printed even with --quiet: the run did not finish).
    public func interruptionMessage(signal: Int32) -> String {
        let name = signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal \(signal)"
        let hint = "resume with: train --data \(options.data) --out \(options.out) --steps \(options.steps) --resume"
        guard step > startStep else {
            return startStep > 0 ? "\(name): stopped during start-up; \(checkpointPath) is unchanged (step \(step))\n" + hint
                : "\(name): stopped during start-up, before the first step; no checkpoint written"
        }
        return "\(name): stopped after step \(step); checkpoint written to \(checkpointPath)\n" + hint
    }

    private func nonFinite(_ what: String) -> Error {
        let kept = FileManager.default.fileExists(atPath: checkpointPath)
            ? "the last good checkpoint is kept in \(checkpointPath)" : "no checkpoint had been written yet"
        return TrainingError("step \(step + 1): \(what); training stopped and \(kept) (try a lower --lr)")
    }

    // MARK: - Across ranks

    /// Each rank's loss is the mean over its part of the batch, so the mean over ranks of the gradients
    /// is the whole batch's: one sum of the flat gradient buffer, then 1/N.
    private func averageGradients(_ store: ParameterStore) {
        let gradients = store.gradients
        collective.sum(gradients.buffer)
        let scale = 1 / Float(collective.size), pointer = gradients.pointer
        Parallel.forRanges(gradients.count) { range in
            for index in range { pointer[index] *= scale }
        }
    }

    private func averaged(_ values: [Double]) -> [Double] {
        var sums = values
        sums.withUnsafeMutableBufferPointer { collective.sum($0) }
        return sums.map { $0 / Double(collective.size) }
    }

    /// The loss terms as means over the whole batch.
    private func averaged(_ terms: CriticLossTerms) -> CriticLossTerms {
        let means = averaged([terms.wasserstein, terms.penalty, terms.meanGradientNorm])
        return CriticLossTerms(wasserstein: means[0], penalty: means[1], meanGradientNorm: means[2])
    }

    /// At every checkpoint the ranks compare a checksum of their weights and Adam moments: ranks that
    /// drifted apart (a bug, or hardware that computes differently) stop the run instead of training
    /// a silently diverged model.
    private func requireSameWeights() throws {
        guard parallel else { return }
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for tensor in [trainer.critic.parameters.values, trainer.generator.parameters.values,
                       trainer.criticOptimizer.firstMoment, trainer.criticOptimizer.secondMoment,
                       trainer.generatorOptimizer.firstMoment, trainer.generatorOptimizer.secondMoment] {
            for index in 0..<tensor.count { hash = (hash ^ UInt64(tensor[index].bitPattern)) &* 0x100_0000_01B3 }
        }
        let checksums = collective.gather(String(hash, radix: 16))
        let differing = checksums.indices.filter { checksums[$0] != checksums[0] }
        guard differing.isEmpty else {
            throw TrainingError("step \(step): the weights of ranks \(differing.map(String.init).joined(separator: ", ")) "
                + "differ from rank 0's; training stopped (the last checkpoint is intact)")
        }
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
    /// `emaOnly`: only the EMA generator (what a quality evaluation reads).
    private func prepareSavedGenerators(emaOnly: Bool = false) throws {
        var random = RandomGenerator(seed: options.seed ^ 0xB47C_5EED ^ (UInt64(step) &* 0x9E37_79B9_7F4A_7C15))
        let latents = Tensor(shape: [Self.preciseStatisticsLatents, configuration.latentDimension])
        random.fillNormal(latents.buffer)
        if !emaOnly {
            try trainer.generator.recomputeBatchNormStatistics(latents: latents.pointer, count: Self.preciseStatisticsLatents)
        }
        emaGenerator.parameters.values.copy(from: emaParameters)
        try emaGenerator.recomputeBatchNormStatistics(latents: latents.pointer, count: Self.preciseStatisticsLatents)
    }

    /// Scores the EMA generator, appends the quality line and returns the seconds it took.
    private func evaluate(_ quality: TrainingQuality, statisticsReady: Bool, spentBefore: Double, runStart: Date) throws -> Double {
        let evaluationStart = Date()
        if !statisticsReady { try prepareSavedGenerators(emaOnly: true) }
        let figures = try quality.evaluate(emaGenerator)
        let seconds = Date().timeIntervalSince(evaluationStart)
        try appendMetrics(TrainingQuality.metricsLine(step: step, figures: figures, seconds: seconds,
                                                      share: (spentBefore + seconds) / Date().timeIntervalSince(runStart)))
        if progress == nil {
            report(String(format: "step %d  quality: swd_mean %.4g (floor %.4g)  ms_ssim_fake %.4f (real %.4f)  %.1f s",
                          step, figures.slicedWassersteinMean, quality.floorMean, figures.multiScaleSSIMFake,
                          figures.multiScaleSSIMReal, seconds))
        }
        return seconds
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
        ].merging(parallel ? ["world_size": String(collective.size),
                              "rank_batch": String(options.hyperparameters.batchSize / collective.size)] : [:]) { $1 })
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
        step = try checkpoint.metadata.integer("step", path: path, in: 0...Int.max)
        if checkpoint.metadata["data_fingerprint"] != dataset.fingerprint {
            report("warning: \(options.data) is not the data set this checkpoint was trained on (index.json differs)")
        }
        let hyper = options.hyperparameters
        for (key, now) in [("lr", "\(hyper.learningRate)"), ("beta1", "\(hyper.beta1)"), ("beta2", "\(hyper.beta2)"),
                           ("lambda", "\(hyper.lambda)"), ("n_critic", String(hyper.criticIterations)),
                           ("batch_size", String(hyper.batchSize)), ("ema_decay", "\(options.emaDecay)"),
                           ("flip", String(options.flip)), ("seed", String(options.seed)),
                           ("precision", backend.precision.rawValue)] where checkpoint.metadata[key] != now {
            report("resume: \(key) changes from \(checkpoint.metadata[key] ?? "unset") to \(now)")
        }
        report("resuming \(path) at step \(step)")
        let sameData = checkpoint.metadata["data_count"] == String(dataset.count)
        return DataOrder(count: dataset.count, seed: options.seed, flip: options.flip,
                         epoch: sameData ? try checkpoint.metadata.integer("data_epoch", path: path, in: 0...Int.max) : 0,
                         offset: sameData ? try checkpoint.metadata.integer("data_offset", path: path, in: 0...dataset.count) : 0)
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
            /// Only in data-parallel runs (a single-process config.json stays as it was).
            let worldSize: Int?
            let rankBatch: Int?
            /// Only when the quality evaluation is on: its interval and image count as resolved.
            let evaluation: Evaluation?
            struct Evaluation: Encodable { let every: Int; let count: Int }
        }
        let data = try encoder.encode(Stored(options: options, model: configuration, dataFingerprint: dataset.fingerprint,
                                             backend: backend.name, precision: backend.precision.rawValue,
                                             worldSize: parallel ? collective.size : nil,
                                             rankBatch: parallel ? options.hyperparameters.batchSize / collective.size : nil,
                                             evaluation: options.evaluationInterval.map {
                                                 .init(every: $0, count: min(options.requestedEvaluationCount, dataset.count))
                                             }))
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
