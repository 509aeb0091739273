import FaceEngine

/// A training checkpoint (DESIGN.md, "Checkpoints"): safetensors with `generator.*`, `critic.*`,
/// `generator_ema.*` (parameters and BatchNorm running statistics, PyTorch names), Adam moments
/// `adam.generator.m.*` / `.v.*`, `adam.critic.m.*` / `.v.*`, and string metadata: `format`,
/// `version`, the model configuration (`image_size`, `width`, `z_dim`, `critic_norm`, `precision`),
/// `step` and whatever the trainer adds (hyperparameters, RNG state, data position and fingerprint).
public struct Checkpoint {
    public static let format = "facewgan-checkpoint"
    public static let version = 1
    /// The checkpoint's name in a run directory.
    public static let fileName = "checkpoint.safetensors"

    public var configuration: ModelConfiguration
    public var metadata: [String: String]
    public var tensors: [String: SafetensorsTensor]
    /// Where it was read from (for messages).
    public var path: String

    public var step: Int { Int(metadata["step"] ?? "") ?? 0 }

    public init(configuration: ModelConfiguration, metadata: [String: String] = [:],
                tensors: [String: SafetensorsTensor] = [:], path: String = "<memory>") {
        self.configuration = configuration
        self.tensors = tensors
        self.path = path
        var metadata = metadata
        metadata["format"] = Self.format
        metadata["version"] = String(Self.version)
        metadata["image_size"] = String(configuration.imageSize)
        metadata["width"] = String(configuration.width)
        metadata["z_dim"] = String(configuration.latentDimension)
        metadata["critic_norm"] = configuration.criticNorm.rawValue
        metadata["precision"] = metadata["precision"] ?? "fp32"
        self.metadata = metadata
    }

    /// Reads and checks a checkpoint: the format and version, the model configuration, and that the
    /// generator tensors are there. Errors name the file and the field.
    public static func read(path: String) throws -> Checkpoint {
        try checked(Safetensors.read(path: path), path: path)
    }

    /// A checkpoint file's bytes held in memory (as broadcast from rank 0), checked as `read` does.
    public static func decode(_ bytes: [UInt8], path: String) throws -> Checkpoint {
        try checked(Safetensors.decode(bytes, path: path), path: path)
    }

    private static func checked(_ file: Safetensors, path: String) throws -> Checkpoint {
        guard file.metadata["format"] == format else {
            throw FormatError(path: path, message: "not a FaceWGAN checkpoint (metadata 'format' is "
                + "\(file.metadata["format"].map { "'\($0)'" } ?? "missing"), expected '\(format)')")
        }
        let version = try file.metadata.integer("version", path: path)
        guard version == Self.version else {
            throw FormatError(path: path, message: "checkpoint format version \(version) is not supported (this build reads version \(Self.version))")
        }
        guard let norm = ModelConfiguration.CriticNorm(rawValue: file.metadata["critic_norm"] ?? "") else {
            throw FormatError(path: path, message: "metadata 'critic_norm' must be 'layer' or 'none'")
        }
        let configuration = ModelConfiguration(imageSize: try file.metadata.integer("image_size", path: path),
                                               width: try file.metadata.integer("width", path: path),
                                               latentDimension: try file.metadata.integer("z_dim", path: path),
                                               criticNorm: norm)
        do { try configuration.validate() } catch { throw FormatError(path: path, message: "metadata: \(error)") }
        try requireShapesMatch(configuration, file, path: path)
        if file.metadata["step"] != nil { _ = try file.metadata.integer("step", path: path, in: 0...Int.max) }
        var checkpoint = Checkpoint(configuration: configuration, metadata: file.metadata, tensors: file.tensors, path: path)
        checkpoint.metadata = file.metadata
        return checkpoint
    }

    /// The stored tensors are the truth: `z_dim` and `width` must be the sizes of the generators'
    /// `fc.weight` [C0*16, Z] and `out.weight` [width, 3, 4, 4] (and the critic's `conv1.weight`
    /// [width, 3, 4, 4]), checked before anything is allocated for them.
    private static func requireShapesMatch(_ configuration: ModelConfiguration, _ file: Safetensors, path: String) throws {
        let prefixes = ["generator.", "generator_ema."].filter { file.tensors[$0 + "fc.weight"] != nil }
        guard !prefixes.isEmpty else {
            throw FormatError(path: path, message: "tensor 'generator.fc.weight' (or 'generator_ema.fc.weight') is missing")
        }
        func require(_ key: String, _ value: Int, tensor name: String, dimension: Int) throws {
            guard let tensor = file.tensors[name] else { return }
            guard tensor.shape.count > dimension, tensor.shape[dimension] == value else {
                throw FormatError(path: path, message: "metadata '\(key)' = '\(file.metadata[key] ?? "")' disagrees with "
                    + "tensor '\(name)' of shape \(tensor.shape)")
            }
        }
        for prefix in prefixes {
            try require("z_dim", configuration.latentDimension, tensor: prefix + "fc.weight", dimension: 1)
            guard file.tensors[prefix + "out.weight"] != nil else {
                throw FormatError(path: path, message: "tensor '\(prefix)out.weight' is missing")
            }
            try require("width", configuration.width, tensor: prefix + "out.weight", dimension: 0)
        }
        try require("width", configuration.width, tensor: "critic.conv1.weight", dimension: 0)
    }

    public func write(path: String) throws {
        try Safetensors(metadata: metadata, tensors: tensors).write(path: path)
    }

    /// Stores a generator's parameters and running statistics under `prefix` ("generator." or "generator_ema.").
    public mutating func store(_ generator: Generator, prefix: String) {
        tensors.merge(generator.parameters.tensors(prefix: prefix)) { $1 }
        tensors.merge(generator.buffers.tensors(prefix: prefix)) { $1 }
    }

    public mutating func store(_ critic: Critic, prefix: String = "critic.") {
        tensors.merge(critic.parameters.tensors(prefix: prefix)) { $1 }
    }

    public func load(_ generator: Generator, prefix: String) throws {
        try generator.parameters.load(from: tensors, prefix: prefix, path: path)
        try generator.buffers.load(from: tensors, prefix: prefix, path: path)
    }

    /// The generator for sampling: the EMA weights (default) or the raw ones, in this checkpoint's architecture.
    public func makeGenerator(useEMA: Bool = true, backend: ComputeBackend) throws -> Generator {
        let generator = Generator(configuration, backend: backend)
        try load(generator, prefix: useEMA ? "generator_ema." : "generator.")
        return generator
    }
}

// MARK: - Training state

extension Checkpoint {
    /// The whole state of a training run: the trainer's generator (`generator.*`), critic (`critic.*`)
    /// and Adam moments (`adam.<network>.m.*` / `.v.*`), the EMA generator (`generator_ema.*`), and as
    /// metadata the trainer's RNG state (`rng_state`), Adam steps and precision. `metadata` adds what
    /// the run knows (its settings, `TrainingOptions.checkpointMetadata`; step, data position and
    /// fingerprint). BatchNorm statistics are stored as they are: a run saves `SavedGenerators`.
    public init(trainer: WGANGPTrainer, ema: Generator, metadata: [String: String]) {
        var metadata = metadata
        metadata["rng_state"] = trainer.random.state.map { String($0, radix: 16) }.joined(separator: " ")
        metadata["adam_generator_step"] = String(trainer.generatorOptimizer.step)
        metadata["adam_critic_step"] = String(trainer.criticOptimizer.step)
        metadata["precision"] = trainer.generator.backend.precision.rawValue
        self.init(configuration: trainer.configuration, metadata: metadata)
        store(trainer.generator, prefix: "generator.")
        store(ema, prefix: "generator_ema.")
        store(trainer.critic)
        for optimizer in Self.optimizers(of: trainer) {
            for (key, moment, slot) in optimizer.moments {
                let values = Array(UnsafeBufferPointer(start: moment + slot.offset, count: slot.count))
                tensors[key] = SafetensorsTensor(shape: slot.shape, values: values)
            }
        }
    }

    /// The state of a run at the step its saved generators were prepared for.
    public init(trainer: WGANGPTrainer, saved: SavedGenerators, metadata: [String: String]) {
        precondition(saved.trained.generator === trainer.generator, "the saved generators are not this trainer's")
        self.init(trainer: trainer, ema: saved.average.generator, metadata: metadata)
    }

    /// Puts this checkpoint's training state back: the generator, critic and EMA weights and
    /// statistics, both Adam optimizers (moments and step) and the trainer's RNG. The hyperparameters,
    /// step and data position stay the caller's to read from `metadata`. Errors name the file and the
    /// tensor or metadata key; the trainer may be partly overwritten when one is thrown.
    public func restore(into trainer: WGANGPTrainer, ema: Generator) throws {
        try load(trainer.generator, prefix: "generator.")
        try trainer.critic.parameters.load(from: tensors, prefix: "critic.", path: path)
        try load(ema, prefix: "generator_ema.")
        for optimizer in Self.optimizers(of: trainer) {
            for (key, moment, slot) in optimizer.moments {
                guard let saved = tensors[key], saved.shape == slot.shape else {
                    throw FormatError(path: path, message: "tensor '\(key)' is missing or has the wrong shape")
                }
                (moment + slot.offset).update(from: saved.values, count: slot.count)
            }
            optimizer.adam.restore(step: try metadata.integer(optimizer.stepKey, path: path, in: 0...Int.max))
        }
        let words = (metadata["rng_state"] ?? "").split(separator: " ").compactMap { UInt64($0, radix: 16) }
        guard let random = RandomGenerator(state: words) else {
            throw FormatError(path: path, message: "metadata 'rng_state' is not four hexadecimal words")
        }
        trainer.random = random
    }

    /// Each network's optimizer with its step's metadata key and its moments' tensor names, slot by slot.
    private static func optimizers(of trainer: WGANGPTrainer)
        -> [(adam: Adam, stepKey: String, moments: [(key: String, moment: UnsafeMutablePointer<Float>, slot: ParameterSlot)])] {
        [("generator", trainer.generator.parameters, trainer.generatorOptimizer),
         ("critic", trainer.critic.parameters, trainer.criticOptimizer)].map { name, store, adam in
            let moments = store.slots.flatMap { slot in
                [("m", adam.firstMoment), ("v", adam.secondMoment)].map { moment, tensor in
                    (key: "adam.\(name).\(moment).\(slot.name)", moment: tensor.pointer, slot: slot)
                }
            }
            return (adam: adam, stepKey: "adam_\(name)_step", moments: moments)
        }
    }
}
