import Foundation

/// Everything that defines a training run (`train`'s options), stored in RUN/config.json.
public struct TrainingOptions: Codable, Equatable {
    public var data: String
    public var out: String
    /// Generator steps in total (a resumed run continues up to this count).
    public var steps = 10_000
    public var hyperparameters = TrainingHyperparameters()
    /// nil: 128 for a new run, the checkpoint's on --resume.
    public var latentDimension: Int?
    public var width: Int?
    public var criticNorm: ModelConfiguration.CriticNorm?
    public var emaDecay: Float = 0.999
    public var flip = false
    public var seed: UInt64 = 0
    public var checkpointEvery = 500
    public var sampleEvery = 500
    public var logEvery = 50
    public var resume = false
    /// Quality evaluation every N steps (`train --eval-every`); nil: `defaultEvaluationInterval`, 0: off.
    public var evalEvery: Int?
    /// Images in the evaluation's real subset and fake set (`--eval-count`); nil: 2,048.
    public var evalCount: Int?

    /// `--eval-every`'s default: every 500 steps when the run has at least 2,000 steps, else off.
    public static func defaultEvaluationInterval(steps: Int) -> Int { steps >= 2000 ? 500 : 0 }
    public static let defaultEvaluationCount = 2048
    public var requestedEvaluationCount: Int { evalCount ?? Self.defaultEvaluationCount }

    /// Steps between quality evaluations, nil when evaluation is off.
    public var evaluationInterval: Int? {
        let every = evalEvery ?? Self.defaultEvaluationInterval(steps: steps)
        return every > 0 ? every : nil
    }

    public init(data: String, out: String) {
        self.data = data
        self.out = out
    }

    /// The fields `validate()` checks, by their names here (`hyperparameters` fields by their own).
    public enum Field: String, CaseIterable, Sendable {
        case steps, batchSize, criticIterations, lambda, learningRate, beta1, beta2, emaDecay
        case checkpointEvery, sampleEvery, logEvery, width, latentDimension, evalEvery, evalCount
    }

    /// A field outside its range. It names the field, not a flag: a tool maps fields to its own flags.
    public struct InvalidField: Error, CustomStringConvertible, Equatable {
        public var field: Field
        /// "must be at least 1"
        public var requirement: String
        public var description: String { "\(field.rawValue) \(requirement)" }
    }

    /// The checks a user can fail; throws `InvalidField` for the first that fails.
    public func validate() throws {
        func require(_ condition: Bool, _ field: Field, _ requirement: String) throws {
            if !condition { throw InvalidField(field: field, requirement: requirement) }
        }
        try require(steps >= 1, .steps, "must be at least 1")
        try require(hyperparameters.batchSize >= 1, .batchSize, "must be at least 1")
        try require(hyperparameters.criticIterations >= 1, .criticIterations, "must be at least 1")
        try require(hyperparameters.lambda >= 0 && hyperparameters.lambda.isFinite, .lambda, "must be a finite number >= 0")
        try require(hyperparameters.learningRate > 0 && hyperparameters.learningRate.isFinite, .learningRate,
                    "must be a positive number")
        try require((0..<1).contains(hyperparameters.beta1), .beta1, "must be in [0, 1)")
        try require((0..<1).contains(hyperparameters.beta2), .beta2, "must be in [0, 1)")
        try require((0...1).contains(emaDecay), .emaDecay, "must be in [0, 1]")
        try require(checkpointEvery >= 1, .checkpointEvery, "must be at least 1")
        try require(sampleEvery >= 1, .sampleEvery, "must be at least 1")
        try require(logEvery >= 1, .logEvery, "must be at least 1")
        if let width { try require(width >= 1, .width, "must be at least 1") }
        if let latentDimension { try require(latentDimension >= 1, .latentDimension, "must be at least 1") }
        if let evalEvery { try require(evalEvery >= 0, .evalEvery, "must be at least 0 (0 turns evaluation off)") }
        if let evalCount { try require(evalCount >= 2, .evalCount, "must be at least 2 (MS-SSIM compares pairs of images)") }
    }
}

/// What `train` was asked for: each setting nil when its flag was not given. A new run takes the
/// defaults of `TrainingOptions`; `--resume` takes the run's own settings, from the checkpoint's
/// metadata first (the same bytes on every rank of a data-parallel run), then from config.json for
/// what the checkpoint does not record (the data path, the steps and the output intervals). A setting
/// given explicitly overrides the run's, and the change is logged.
public struct TrainingRequest: Equatable {
    public var data: String?
    public var out: String
    public var steps: Int?
    public var batchSize: Int?
    public var criticIterations: Int?
    public var lambda: Float?
    public var learningRate: Float?
    public var beta1: Float?
    public var beta2: Float?
    public var latentDimension: Int?
    public var width: Int?
    public var criticNorm: ModelConfiguration.CriticNorm?
    public var emaDecay: Float?
    public var flip: Bool?
    public var seed: UInt64?
    public var checkpointEvery: Int?
    public var sampleEvery: Int?
    public var logEvery: Int?
    public var resume = false
    /// Start over in a run directory that holds a checkpoint (without it that is refused).
    public var force = false
    public var evalEvery: Int?
    public var evalCount: Int?

    public init(data: String?, out: String) {
        self.data = data
        self.out = out
    }

    /// The options of a new run: every setting not given at its default.
    public var defaulted: TrainingOptions {
        // A run without data fails when it opens the data; validation needs none.
        var request = self
        request.data = data ?? ""
        return (try? request.resolved(checkpoint: nil, stored: nil, path: "").options) ?? TrainingOptions(data: "", out: out)
    }

    /// The options: given ?? checkpoint metadata ?? stored config.json options ?? default, with one
    /// line for each setting given that differs from the run's config.json (the checkpoint's keys are
    /// compared when the run restores it). Metadata that does not parse is an error naming the key.
    public func resolved(checkpoint: [String: String]?, stored: [String: Any]?, path: String) throws
        -> (options: TrainingOptions, changes: [String]) {
        let defaults = TrainingOptions(data: "", out: out)
        let metadata = checkpoint ?? [:]
        let storedHyper = stored?["hyperparameters"] as? [String: Any]
        func number<T>(_ key: String, _ parse: (String) -> T?) throws -> T? {
            guard let text = metadata[key] else { return nil }
            guard let value = parse(String(text.trimmingBlanks())) else {
                throw FormatError(path: path, message: "metadata '\(key)' = '\(text)' is not a valid value")
            }
            return value
        }
        func storedInt(_ key: String, in dictionary: [String: Any]?) -> Int? { (dictionary?[key] as? NSNumber)?.intValue }
        func storedFloat(_ key: String, in dictionary: [String: Any]?) -> Float? { (dictionary?[key] as? NSNumber)?.floatValue }

        guard let data = data ?? stored?["data"] as? String else {
            throw ConfigurationError("--resume: \((out as NSString).appendingPathComponent("config.json")) does not name "
                + "the shard directory of the run; give --data")
        }
        var options = TrainingOptions(data: data, out: out)
        options.resume = resume
        options.steps = steps ?? storedInt("steps", in: stored) ?? defaults.steps
        var hyper = TrainingHyperparameters()
        hyper.batchSize = try batchSize ?? number("batch_size") { Int($0) } ?? storedInt("batchSize", in: storedHyper) ?? hyper.batchSize
        hyper.criticIterations = try criticIterations ?? number("n_critic") { Int($0) }
            ?? storedInt("criticIterations", in: storedHyper) ?? hyper.criticIterations
        hyper.lambda = try lambda ?? number("lambda") { Float($0) } ?? storedFloat("lambda", in: storedHyper) ?? hyper.lambda
        hyper.learningRate = try learningRate ?? number("lr") { Float($0) }
            ?? storedFloat("learningRate", in: storedHyper) ?? hyper.learningRate
        hyper.beta1 = try beta1 ?? number("beta1") { Float($0) } ?? storedFloat("beta1", in: storedHyper) ?? hyper.beta1
        hyper.beta2 = try beta2 ?? number("beta2") { Float($0) } ?? storedFloat("beta2", in: storedHyper) ?? hyper.beta2
        options.hyperparameters = hyper
        options.latentDimension = latentDimension
        options.width = width
        options.criticNorm = criticNorm
        options.emaDecay = try emaDecay ?? number("ema_decay") { Float($0) } ?? storedFloat("emaDecay", in: stored) ?? defaults.emaDecay
        options.flip = try flip ?? number("flip") { Bool($0) } ?? (stored?["flip"] as? Bool) ?? defaults.flip
        options.seed = try seed ?? number("seed") { UInt64($0) } ?? (stored?["seed"] as? NSNumber)?.uint64Value ?? defaults.seed
        options.checkpointEvery = checkpointEvery ?? storedInt("checkpointEvery", in: stored) ?? defaults.checkpointEvery
        options.sampleEvery = sampleEvery ?? storedInt("sampleEvery", in: stored) ?? defaults.sampleEvery
        options.logEvery = logEvery ?? storedInt("logEvery", in: stored) ?? defaults.logEvery
        // The evaluation's sets follow from the seed and the count, so a resumed run keeps them.
        options.evalEvery = evalEvery ?? storedInt("evalEvery", in: stored)
        options.evalCount = evalCount ?? storedInt("evalCount", in: stored)

        var changes = [String]()
        if let stored {
            for (key, given, before) in [("data", self.data, stored["data"] as? String),
                                         ("checkpoint_every", checkpointEvery.map(String.init), storedInt("checkpointEvery", in: stored).map(String.init)),
                                         ("sample_every", sampleEvery.map(String.init), storedInt("sampleEvery", in: stored).map(String.init)),
                                         ("log_every", logEvery.map(String.init), storedInt("logEvery", in: stored).map(String.init))] {
                if let given, let before, given != before { changes.append("resume: \(key) changes from \(before) to \(given)") }
            }
        }
        return (options, changes)
    }
}
