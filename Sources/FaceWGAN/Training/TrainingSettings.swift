/// The table of `train`'s settings: every row names a setting once. The tool's options, the
/// resolution of a request (flag, else checkpoint metadata, else config.json, else default),
/// checkpoint metadata, config.json and the resume comparison all read it. Adding a setting is one
/// row here, one entry in `all`, and its use.
public enum TrainingSettings {
    public static let data = TrainingSetting<String>(
        key: "data", flag: "--data", summary: "Shard directory written by preprocess (on --resume: the run's, from its config.json)",
        defaultValue: nil)
    public static let steps = TrainingSetting<Int>(
        key: "steps", flag: "--steps", summary: "Generator steps in total; a resumed run continues up to this count",
        defaultValue: 10_000, resume: .free, requirement: "must be at least 1", allows: { $0 >= 1 })
    public static let batchSize = TrainingSetting<Int>(
        key: "batch_size", flag: "--batch", summary: "Batch size", defaultValue: 64, inCheckpoint: true,
        formerKey: "hyperparameters.batchSize", requirement: "must be at least 1", allows: { $0 >= 1 })
    public static let criticIterations = TrainingSetting<Int>(
        key: "n_critic", flag: "--n-critic", summary: "Critic steps per generator step", defaultValue: 5, inCheckpoint: true,
        formerKey: "hyperparameters.criticIterations", requirement: "must be at least 1", allows: { $0 >= 1 })
    public static let lambda = TrainingSetting<Float>(
        key: "lambda", flag: "--lambda", summary: "Gradient penalty weight", defaultValue: 10, defaultText: "10",
        inCheckpoint: true, formerKey: "hyperparameters.lambda", requirement: "must be a finite number >= 0",
        allows: { $0 >= 0 && $0.isFinite })
    /// Recorded in checkpoints only when given, so that a run without it writes what it wrote before.
    public static let penaltyInterval = TrainingSetting<Int>(
        key: "penalty_every", flag: "--penalty-every",
        summary: "Gradient penalty on every K-th critic step only, weighted by K (StyleGAN2's lazy regularisation)",
        defaultValue: nil, defaultText: "1, every step", inCheckpoint: true, requirement: "must be at least 1",
        allows: { $0 >= 1 })
    public static let learningRate = TrainingSetting<Float>(
        key: "lr", flag: "--lr", summary: "Adam learning rate, both networks", defaultValue: 1e-4, inCheckpoint: true,
        formerKey: "hyperparameters.learningRate", requirement: "must be a positive number", allows: { $0 > 0 && $0.isFinite })
    /// Without a default value: unset, the network takes --lr (and checkpoints record only --lr, as before).
    public static let criticLearningRate = TrainingSetting<Float>(
        key: "lr_critic", flag: "--lr-critic", summary: "Adam learning rate of the critic (two time-scale updates)",
        defaultValue: nil, defaultText: "--lr", inCheckpoint: true, requirement: "must be a positive number",
        allows: { $0 > 0 && $0.isFinite })
    public static let generatorLearningRate = TrainingSetting<Float>(
        key: "lr_generator", flag: "--lr-generator", summary: "Adam learning rate of the generator (two time-scale updates)",
        defaultValue: nil, defaultText: "--lr", inCheckpoint: true, requirement: "must be a positive number",
        allows: { $0 > 0 && $0.isFinite })
    public static let beta1 = TrainingSetting<Float>(
        key: "beta1", flag: "--beta1", summary: "Adam beta1", defaultValue: 0, defaultText: "0", inCheckpoint: true,
        formerKey: "hyperparameters.beta1", requirement: "must be in [0, 1)", allows: { (0..<1).contains($0) })
    public static let beta2 = TrainingSetting<Float>(
        key: "beta2", flag: "--beta2", summary: "Adam beta2", defaultValue: 0.9, inCheckpoint: true,
        formerKey: "hyperparameters.beta2", requirement: "must be in [0, 1)", allows: { (0..<1).contains($0) })
    public static let latentDimension = TrainingSetting<Int>(
        key: "z_dim", flag: "--z-dim", summary: "Latent dimension", defaultValue: 128, inCheckpoint: true, resume: .fixed,
        formerKey: "latentDimension", requirement: "must be at least 1", allows: { $0 >= 1 })
    public static let width = TrainingSetting<Int>(
        key: "width", flag: "--width", summary: "Network width", defaultValue: 64, inCheckpoint: true, resume: .fixed,
        formerKey: "width", requirement: "must be at least 1", allows: { $0 >= 1 })
    public static let criticNorm = TrainingSetting<ModelConfiguration.CriticNorm>(
        key: "critic_norm", flag: "--critic-norm", summary: "Critic normalization", defaultValue: .layer, inCheckpoint: true,
        resume: .fixed, formerKey: "criticNorm")
    public static let emaDecay = TrainingSetting<Float>(
        key: "ema_decay", flag: "--ema-decay", summary: "Decay of the generator's exponential moving average",
        defaultValue: 0.999, inCheckpoint: true, formerKey: "emaDecay", requirement: "must be in [0, 1]",
        allows: { (0...1).contains($0) })
    public static let flip = TrainingSetting<Bool>(
        key: "flip", flag: "--flip", summary: "Mirror real images left-right at random", defaultValue: false, defaultText: "no",
        inCheckpoint: true, formerKey: "flip")
    public static let seed = TrainingSetting<UInt64>(
        key: "seed", flag: "--seed", summary: "Random seed: the same seed and inputs give the same output, byte for byte",
        defaultValue: 0, inCheckpoint: true, formerKey: "seed")
    public static let checkpointEvery = TrainingSetting<Int>(
        key: "checkpoint_every", flag: "--checkpoint-every", summary: "Write the checkpoint every N steps", defaultValue: 500,
        formerKey: "checkpointEvery", requirement: "must be at least 1", allows: { $0 >= 1 })
    public static let sampleEvery = TrainingSetting<Int>(
        key: "sample_every", flag: "--sample-every", summary: "Write a sample grid every N steps", defaultValue: 500,
        formerKey: "sampleEvery", requirement: "must be at least 1", allows: { $0 >= 1 })
    public static let logEvery = TrainingSetting<Int>(
        key: "log_every", flag: "--log-every", summary: "Append a metrics line every N steps", defaultValue: 50,
        formerKey: "logEvery", requirement: "must be at least 1", allows: { $0 >= 1 })
    /// Without a default value, so that config.json names the quality settings only when they were given:
    /// `TrainingOptions.evaluationInterval` and `requestedEvaluationCount` apply the defaults.
    public static let evalEvery = TrainingSetting<Int>(
        key: "eval_every", flag: "--eval-every",
        summary: "Append SWD and MS-SSIM of EMA samples to metrics.jsonl every N steps", defaultValue: nil,
        defaultText: "500 when --steps is at least 2000, else off; 0: off", formerKey: "evalEvery",
        requirement: "must be at least 0 (0 turns evaluation off)", allows: { $0 >= 0 })
    public static let evalCount = TrainingSetting<Int>(
        key: "eval_count", flag: "--eval-count",
        summary: "Images per quality evaluation: real subset and EMA samples, at most the data set's size",
        defaultValue: nil, defaultText: "\(TrainingOptions.defaultEvaluationCount)", formerKey: "evalCount", requirement: "must be at least 2 (MS-SSIM compares pairs of images)",
        allows: { $0 >= 2 })

    /// Counted over every invocation of the run (RUN/time.json), so that `--resume` with a larger budget
    /// continues; not in checkpoints, which stay a function of the steps.
    public static let timeBudget = TrainingSetting<TimeBudget>(
        key: "time_budget", flag: "--time-budget",
        summary: "Stop when this much wall time is spent (start-up included; 90m, 1h30m, 3600s), with the checkpoint, "
            + "grid and quality line of a finished run; a resumed run counts the time its earlier invocations spent",
        defaultValue: nil, defaultText: "none", resume: .free, requirement: "must be a positive duration",
        allows: { $0.seconds > 0 })

    /// Every row, in the order config.json and `--help` list them.
    public static let all: [AnyTrainingSetting] = [
        AnyTrainingSetting(data), AnyTrainingSetting(steps), AnyTrainingSetting(batchSize),
        AnyTrainingSetting(criticIterations), AnyTrainingSetting(lambda), AnyTrainingSetting(penaltyInterval),
        AnyTrainingSetting(learningRate),
        AnyTrainingSetting(criticLearningRate), AnyTrainingSetting(generatorLearningRate),
        AnyTrainingSetting(beta1), AnyTrainingSetting(beta2), AnyTrainingSetting(latentDimension), AnyTrainingSetting(width),
        AnyTrainingSetting(criticNorm), AnyTrainingSetting(emaDecay), AnyTrainingSetting(flip), AnyTrainingSetting(seed),
        AnyTrainingSetting(checkpointEvery), AnyTrainingSetting(sampleEvery), AnyTrainingSetting(logEvery),
        AnyTrainingSetting(evalEvery), AnyTrainingSetting(evalCount), AnyTrainingSetting(timeBudget),
    ]

    public static func row(key: String) -> AnyTrainingSetting? { all.first { $0.key == key } }
}
