import Foundation

/// Everything that defines a training run: a value for every row of `TrainingSettings` (by its key),
/// plus the run directory. Stored in RUN/config.json's "options", and in part in checkpoint metadata.
public struct TrainingOptions: Equatable {
    public var out: String
    /// Values set away from their defaults, by setting key.
    private var values: [String: any TrainingSettingValue] = [:]

    public init(data: String, out: String) {
        self.out = out
        self[TrainingSettings.data] = data
    }

    /// The setting's value, its default when it was not set (a setting without a default must have been set).
    public subscript<Value>(setting: TrainingSetting<Value>) -> Value {
        get {
            guard let value = (values[setting.key] as? Value) ?? setting.defaultValue else {
                preconditionFailure("training setting '\(setting.key)' has no value and no default")
            }
            return value
        }
        set { values[setting.key] = newValue }
    }

    /// The value set for a setting without a default (`--eval-every`), nil when unset.
    public func value<Value>(_ setting: TrainingSetting<Value>) -> Value? {
        (values[setting.key] as? Value) ?? setting.defaultValue
    }

    mutating func set(_ setting: AnyTrainingSetting, _ value: any TrainingSettingValue) {
        values[setting.key] = value
    }

    func value(_ setting: AnyTrainingSetting) -> (any TrainingSettingValue)? {
        values[setting.key] ?? setting.defaultValue
    }

    public static func == (left: TrainingOptions, right: TrainingOptions) -> Bool {
        left.out == right.out && TrainingSettings.all.allSatisfy { setting in
            switch (left.value(setting), right.value(setting)) {
            case (nil, nil): return true
            case let (a?, b?): return setting.same(a, b)
            default: return false
            }
        }
    }

    // The settings the code reads most, by name.
    public var data: String { self[TrainingSettings.data] }
    public var steps: Int { self[TrainingSettings.steps] }
    public var seed: UInt64 { self[TrainingSettings.seed] }
    public var flip: Bool { self[TrainingSettings.flip] }
    public var emaDecay: Float { self[TrainingSettings.emaDecay] }

    /// Algorithm 1's hyperparameters as the trainer takes them.
    public var hyperparameters: TrainingHyperparameters {
        var hyper = TrainingHyperparameters()
        hyper.batchSize = self[TrainingSettings.batchSize]
        hyper.criticIterations = self[TrainingSettings.criticIterations]
        hyper.lambda = self[TrainingSettings.lambda]
        hyper.penaltyInterval = value(TrainingSettings.penaltyInterval) ?? 1
        hyper.learningRate = self[TrainingSettings.learningRate]
        hyper.criticLearningRate = value(TrainingSettings.criticLearningRate)
        hyper.generatorLearningRate = value(TrainingSettings.generatorLearningRate)
        hyper.beta1 = self[TrainingSettings.beta1]
        hyper.beta2 = self[TrainingSettings.beta2]
        return hyper
    }

    /// The architecture at `imageSize` (the shards').
    public func model(imageSize: Int) -> ModelConfiguration {
        ModelConfiguration(imageSize: imageSize, width: self[TrainingSettings.width],
                           latentDimension: self[TrainingSettings.latentDimension],
                           criticNorm: self[TrainingSettings.criticNorm])
    }

    /// `--eval-every`'s default: every 500 steps when the run has at least 2,000 steps, else off.
    public static func defaultEvaluationInterval(steps: Int) -> Int { steps >= 2000 ? 500 : 0 }
    public static let defaultEvaluationCount = 2048
    public var requestedEvaluationCount: Int { value(TrainingSettings.evalCount) ?? Self.defaultEvaluationCount }

    /// Steps between quality evaluations, nil when evaluation is off.
    public var evaluationInterval: Int? {
        let every = value(TrainingSettings.evalEvery) ?? Self.defaultEvaluationInterval(steps: steps)
        return every > 0 ? every : nil
    }

    /// The settings checkpoint metadata records, as its text.
    public var checkpointMetadata: [String: String] {
        var metadata = [String: String]()
        for setting in TrainingSettings.all where setting.inCheckpoint {
            if let value = value(setting) { metadata[setting.key] = value.settingText }
        }
        return metadata
    }

    /// config.json's "options": every setting with a value, by its key, and the run directory.
    public var json: JSONValue {
        var members = ["out": JSONValue.string(out)]
        for setting in TrainingSettings.all {
            if let value = value(setting) { members[setting.key] = value.json }
        }
        return .object(members)
    }
}

/// A setting out of its range or not a value of its type, named by the row (a tool shows its flag).
public struct InvalidSetting: Error, CustomStringConvertible, Equatable {
    public var key: String
    public var flag: String
    /// "must be at least 1"
    public var requirement: String
    public var description: String { "\(flag) \(requirement)" }
}

/// What `train` was asked for: the settings whose flags were given, as their text. A new run takes
/// the table's defaults for the rest; `--resume` takes the run's own settings, from the checkpoint's
/// metadata first (the same bytes on every rank of a data-parallel run), then from config.json for
/// what the checkpoint does not record. A setting given explicitly overrides the run's, and the
/// change is logged (or refused, for the model's settings).
public struct TrainingRequest: Equatable {
    public var out: String
    public var resume = false
    /// Start over in a run directory that holds a checkpoint (without it that is refused).
    public var force = false
    /// Given settings by key, as text (`TrainingSettingValue.settingText`).
    public private(set) var given: [String: String] = [:]

    public init(out: String) {
        self.out = out
    }

    /// Records a flag's value; nil (not given) records nothing.
    public mutating func give<Value>(_ setting: TrainingSetting<Value>, _ value: Value?) {
        if let value { given[setting.key] = value.settingText }
    }

    /// Records a setting's text as a user typed it (checked by `invalidSetting` and `resolved`).
    public mutating func giveText(key: String, _ text: String) {
        precondition(TrainingSettings.row(key: key) != nil, "no training setting '\(key)'")
        given[key] = text
    }

    /// The first given setting out of its range (what a tool reports as a usage error), or nil.
    public func invalidSetting() -> InvalidSetting? {
        for setting in TrainingSettings.all {
            guard let text = given[setting.key], case .failure(let problem) = setting.parseText(text) else { continue }
            return InvalidSetting(key: setting.key, flag: setting.flag, requirement: problem.requirement)
        }
        return nil
    }

    /// The options: given ?? checkpoint metadata ?? config.json's options ?? default, with one line for
    /// each given setting that changes the run's (resume). `stored` is config.json, of this release or
    /// an earlier one (camelCase keys, `formerKey`). A value that does not parse or is out of range is
    /// an error naming its source: the flag, the metadata key of `checkpointPath`, or config.json's key.
    public func resolved(checkpoint: [String: String]?, stored: JSONValue?, checkpointPath: String) throws
        -> (options: TrainingOptions, changes: [String]) {
        let configPath = (out as NSString).appendingPathComponent(RunDirectory.configurationName)
        let storedOptions = stored?[path: "options"]
        var options = TrainingOptions(data: "", out: out)
        var changes = [String]()
        for setting in TrainingSettings.all {
            let fromCheckpoint = setting.inCheckpoint ? checkpoint?[setting.key] : nil
            let fromConfig = storedOptions?[path: setting.key] ?? setting.formerKey.flatMap { storedOptions?[path: $0] }
            let value: any TrainingSettingValue
            if let text = given[setting.key] {
                let parsed: any TrainingSettingValue
                switch setting.parseText(text) {
                case .success(let flagValue): parsed = flagValue
                case .failure(let problem):
                    throw InvalidSetting(key: setting.key, flag: setting.flag, requirement: problem.requirement)
                }
                value = parsed
                let before = fromCheckpoint.map { (text: $0, value: try? setting.parseText($0).get()) }
                    ?? fromConfig.map { (text: $0.text, value: try? setting.parseJSON($0).get()) }
                if resume, let before, before.value.map({ !setting.same($0, parsed) }) ?? true {
                    switch setting.resume {
                    case .free: break
                    case .logged: changes.append("resume: \(setting.key) changes from \(before.text) to \(parsed.settingText)")
                    case .fixed:
                        throw ConfigurationError("\(setting.flag) \(parsed.settingText): cannot resume \(checkpointPath), "
                            + "which was trained with \(setting.key) \(before.text)")
                    }
                }
            } else if let text = fromCheckpoint {
                switch setting.parseText(text) {
                case .success(let parsed): value = parsed
                case .failure(let problem):
                    throw FormatError(path: checkpointPath, message: "metadata '\(setting.key)' = '\(text)' \(problem.requirement)")
                }
            } else if let json = fromConfig {
                switch setting.parseJSON(json) {
                case .success(let parsed): value = parsed
                case .failure(let problem):
                    throw ConfigurationError("\(configPath): '\(setting.key)' = \(json.text) \(problem.requirement)")
                }
            } else {
                continue
            }
            options.set(setting, value)
        }
        guard !options.data.isEmpty else {
            throw ConfigurationError("--resume: \(configPath) does not name the shard directory of the run; give --data")
        }
        return (options, changes)
    }
}
