import Dispatch
import FaceEngine
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A training run in a directory (issue 4): Algorithm 1 on a shard directory, with checkpoints,
/// sample grids, metrics, config and report.html in RUN/ (`RunDirectory`), resumable byte for byte
/// (`RunResume`), stopped cleanly by SIGINT or SIGTERM, and never overwriting a good checkpoint with
/// non-finite weights.
///
/// Data parallel over the ranks of a `Collective` (DESIGN.md, "Training on many machines"): every rank
/// follows the same data order and random stream and computes its part of each global batch; the
/// gradients are averaged and BatchNorm is synchronised (`RankAgreement`), so N ranks compute what one
/// process computes. Rank 0 alone reads the checkpoint it resumes (and sends it to the others) and
/// writes RUN/.
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
    public let collective: Collective
    public let directory: RunDirectory
    let average: GeneratorAverage
    let loader: BatchLoader
    public private(set) var step: Int
    /// The step this process started from (0, or the resumed checkpoint's).
    private let startStep: Int
    let report: (String) -> Void
    let progress: ((TrainingProgress) -> Void)?
    private let stop: SignalWatcher
    /// The quality evaluation (`--eval-every`), on rank 0 only; nil when it is off.
    private let quality: TrainingQuality?
    let clock: BudgetClock
    static let gridLatents = 64

    public var checkpointPath: String { directory.checkpointPath }
    /// What the networks compute with (recorded in checkpoints and config.json).
    private var backend: ComputeBackend { trainer.generator.backend }

    /// Opens the data, creates or resumes the run. `report` gets messages for stderr; `progress`, when
    /// given, gets where the run stands after every generator step (for a status line redrawn in place),
    /// and without it `report` gets a summary at every metrics line instead. `signals` (made here when
    /// nil) holds SIGINT / SIGTERM from the start, so a signal during start-up ends the run before its
    /// first step with no file half written.
    ///
    /// A run directory that holds a checkpoint is refused unless `request.resume` (continue it, every
    /// setting not given restored from the checkpoint and config.json) or `request.force` (start over).
    /// Temporary files a killed run left in RUN/ are removed first. `started`: when the invocation
    /// started, for `--time-budget`.
    public init(request: TrainingRequest, backend: ComputeBackend, collective: Collective = SingleProcess(),
                signals: SignalWatcher? = nil, started: Date = Date(),
                report: @escaping (String) -> Void, progress: ((TrainingProgress) -> Void)? = nil) throws {
        stop = signals ?? SignalWatcher(signals: [SIGINT, SIGTERM])
        let directory = RunDirectory(request.out)
        if collective.isRoot {
            try directory.removeLeftovers()
            try directory.requireAllowed(by: request)
        }
        let resume = request.resume ? try RunResume.read(directory, collective: collective) : nil
        let (options, changes) = try resume?.options(for: request)
            ?? request.resolved(checkpoint: nil, stored: nil, checkpointPath: directory.checkpointPath)
        let batch = options.hyperparameters.batchSize
        guard batch % collective.size == 0 else {
            throw ConfigurationError("--batch \(batch) does not divide among \(collective.size) ranks: the global batch "
                + "must be a multiple of the number of ranks (e.g. --batch \(batch / collective.size * collective.size + collective.size))")
        }
        for change in changes { report(change) }
        let dataset = try ShardDataset(directory: options.data)
        try collective.requireSameData(dataset, directory: options.data)

        let configuration = options.model(imageSize: dataset.imageSize)
        do { try configuration.validate() } catch {
            throw ConfigurationError("\(options.data): \(error) (train supports shards of 32, 64 or 128 pixels)")
        }
        try resume?.requireModel(configuration)
        // Before anything is allocated for the model: a size no machine (or not this one) can hold is an error.
        try MemoryBudget.require(configuration.trainingBytesEstimate(batch: batch / collective.size),
                                 for: "training with batch \(batch), \(configuration.sizeSummary)")
        let trainer = WGANGPTrainer(configuration: configuration, hyperparameters: options.hyperparameters,
                                    backend: backend, seed: options.seed,
                                    part: BatchPart(index: collective.rank, count: collective.size),
                                    batchNormSynchronization: collective.isParallel ? { [collective] in collective.sum($0) } : nil)
        let average = GeneratorAverage(of: trainer.generator, decay: options.emaDecay)
        var (step, order) = (0, DataOrder(count: dataset.count, seed: options.seed, flip: options.flip))
        if let resume {
            (step, order) = try resume.restore(into: trainer, average: average, dataset: dataset, options: options, report: report)
        }
        // Every rank initialised (or restored) the same weights; rank 0's are sent anyway.
        collective.shareWeights(of: trainer)

        var quality: TrainingQuality?
        if collective.isRoot {
            try directory.prepare(resumed: resume != nil, force: request.force, step: step)
            try directory.writeConfiguration(options: options, model: configuration, dataset: dataset, backend: backend,
                                             worldSize: collective.size)
            if options.evaluationInterval != nil {
                quality = try Self.prepareQuality(options: options, directory: directory, report: report)
            }
        }
        self.options = options
        self.configuration = configuration
        self.dataset = dataset
        self.trainer = trainer
        self.collective = collective
        self.directory = directory
        self.average = average
        self.loader = BatchLoader(dataset: dataset, batchSize: batch, order: order)
        self.step = step
        self.startStep = step
        self.report = report
        self.progress = progress
        self.quality = quality
        let spentBefore = resume != nil && collective.isRoot ? directory.timeSpent(step: step) : nil
        if resume != nil, collective.isRoot, options.value(TrainingSettings.timeBudget) != nil, spentBefore == nil {
            report("time budget: \(directory.timeSpentPath) does not record the time spent up to step \(step); counting from now")
        }
        clock = BudgetClock(budget: options.value(TrainingSettings.timeBudget)?.seconds, spentBefore: spentBefore ?? 0,
                            start: started)
    }

    /// The real subset, its descriptors and the floor, once per invocation (a resumed run rebuilds
    /// the same ones from the seed); the floor goes to RUN/quality.json.
    private static func prepareQuality(options: TrainingOptions, directory: RunDirectory,
                                       report: (String) -> Void) throws -> TrainingQuality {
        let quality = try TrainingQuality(dataDirectory: options.data, requestedCount: options.requestedEvaluationCount,
                                          seed: options.seed)
        try directory.writeQualityFloor(quality.floorJSON())
        report(String(format: "quality: %d real images, floor swd_mean %.4g (halves of %d), ms_ssim_real %.4f; set up in %.1f s",
                      quality.count, quality.floorMean, quality.floorCount, quality.evaluator.multiScaleSSIMReal, quality.setupSeconds))
        return quality
    }

    // MARK: - The loop

    public func run() throws -> Outcome {
        defer { stop.stopWatchingAndResetToDefault() }
        let start = Date()
        var interval = IntervalStatistics()
        let batch = options.hyperparameters.batchSize, criticIterations = options.hyperparameters.criticIterations
        let partOffset = trainer.part.samples(of: batch).lowerBound * configuration.imageItemSize
        var evaluationSeconds = 0.0
        // What the final outputs took when last written, so that a budgeted run stops in time to write them.
        var lastSavingSeconds = 0.0, lastEvaluationSeconds = 0.0
        // Rank 0 keeps the clock; the ranks agree on it as on a signal.
        if startStep > 0, collective.maximum(collective.isRoot && clock.isSpent ? 1 : 0) == 1 {
            if let budget = clock.budget {
                report("time budget \(TimeBudget(seconds: budget)) already spent (\(DurationText.format(clock.spent))): "
                    + "nothing to do; give a larger --time-budget to continue")
            }
            return .finished
        }
        while step < options.steps {
            let stepStarted = Date()
            // A signal may reach one rank only: they agree on it, so all stop at the same step.
            let signal = Int32(collective.maximum(Int(stop.received ?? 0)))
            if signal != 0 {
                // Before the first step (a signal during start-up) there is nothing new to save.
                guard step > startStep else { return .interrupted(signal: signal) }
                try collective.requireSameWeights(trainer, step: step)
                if collective.isRoot { try writeCheckpoint(saving()) }
                return .interrupted(signal: signal)
            }
            for _ in 0..<criticIterations {
                var terms = try trainer.computeCriticGradients(real: loader.next().pointer + partOffset)
                if collective.isParallel {
                    let started = Date()
                    terms = collective.averaged(terms)
                    collective.averageGradients(trainer.critic.parameters)
                    interval.addCollective(Date().timeIntervalSince(started))
                }
                trainer.applyCriticGradients()
                try requireFinite(terms)
                interval.add(terms)
            }
            var generatorLoss = try trainer.computeGeneratorGradients()
            if collective.isParallel {
                let started = Date()
                generatorLoss = collective.averaged([generatorLoss])[0]
                collective.averageGradients(trainer.generator.parameters)
                interval.addCollective(Date().timeIntervalSince(started))
            }
            trainer.applyGeneratorGradients()
            guard generatorLoss.isFinite else { throw nonFinite("the generator loss is \(generatorLoss.isNaN ? "NaN" : "infinite")") }
            try requireFiniteWeights()
            if collective.isRoot { average.update(with: trainer.generator.parameters, step: step) }
            step += 1
            if step == startStep + 1, collective.isRoot, let tuner = backend.kernelTuner { reportPlan(tuner) }
            interval.addGenerator(generatorLoss, images: batch * criticIterations)
            let finalOutputs = lastSavingSeconds + (options.evaluationInterval != nil ? lastEvaluationSeconds : 0)
            let budgetEnds = clock.budget != nil && collective.maximum(
                collective.isRoot && !clock.allows(another: Date().timeIntervalSince(stepStarted) + finalOutputs) ? 1 : 0) == 1
            let last = step == options.steps || budgetEnds
            let sampleNow = step % options[TrainingSettings.sampleEvery] == 0 || last
            let checkpointNow = step % options[TrainingSettings.checkpointEvery] == 0 || last
            if checkpointNow { try collective.requireSameWeights(trainer, step: step) }
            guard collective.isRoot else {
                if budgetEnds { break }
                continue
            }

            if step % options[TrainingSettings.logEvery] == 0 || last {
                try directory.appendMetrics(interval.metricsLine(step: step, elapsed: Date().timeIntervalSince(start),
                                                                 timeLeft: clock.left))
                if progress == nil { report(interval.summary(step: step, total: options.steps, timeLeft: clock.left)) }
                interval = IntervalStatistics(carryingRateFrom: interval)
            }
            progress?(interval.progress(step: step, total: options.steps, timeLeft: clock.left))
            let savingStarted = Date()
            var evaluated = 0.0
            let saved = sampleNow || checkpointNow ? try saving() : nil
            if let every = options.evaluationInterval, step % every == 0 || last, let quality {
                let seconds = try evaluate(quality, saved?.average ?? average.prepared(step: step, seed: options.seed),
                                           spentBefore: evaluationSeconds, runStart: start)
                evaluationSeconds += seconds
                (evaluated, lastEvaluationSeconds) = (seconds, seconds)
                // The throughput stays the training's own; the evaluation's cost is in its line.
                interval.discount(seconds: seconds)
            }
            if sampleNow, let saved { try writeSampleGrid(saved.average) }
            if checkpointNow, let saved { try writeCheckpoint(saved) }
            if sampleNow && checkpointNow { lastSavingSeconds = Date().timeIntervalSince(savingStarted) - evaluated }
            if budgetEnds {
                report("time budget \(TimeBudget(seconds: clock.budget ?? 0)) spent: stopped at step \(step) of \(options.steps)")
                break
            }
        }
        if quality != nil, collective.isRoot {
            let elapsed = Date().timeIntervalSince(start)
            report(String(format: "quality evaluations took %.1f s of %.1f s (%.1f%%)", evaluationSeconds, elapsed,
                          100 * evaluationSeconds / max(elapsed, 1e-9)))
        }
        return .finished
    }

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

    // MARK: - Guards

    private func nonFinite(_ what: String) -> Error {
        let kept = directory.holdsCheckpoint
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
}
