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
