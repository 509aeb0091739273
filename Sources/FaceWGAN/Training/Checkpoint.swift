import FaceEngine

/// A training checkpoint (DESIGN.md, "Checkpoints"): safetensors with `generator.*`, `critic.*`,
/// `generator_ema.*` (parameters and BatchNorm running statistics, PyTorch names), Adam moments
/// `adam.generator.m.*` / `.v.*`, `adam.critic.m.*` / `.v.*`, and string metadata: `format`,
/// `version`, the model configuration (`image_size`, `width`, `z_dim`, `critic_norm`, `precision`),
/// `step` and whatever the trainer adds (hyperparameters, RNG state, data position and fingerprint).
public struct Checkpoint {
    public static let format = "facewgan-checkpoint"
    public static let version = 1

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
        let file = try Safetensors.read(path: path)
        guard file.metadata["format"] == format else {
            throw FormatError(path: path, message: "not a FaceWGAN checkpoint (metadata 'format' is "
                + "\(file.metadata["format"].map { "'\($0)'" } ?? "missing"), expected '\(format)')")
        }
        guard let versionText = file.metadata["version"], let version = Int(versionText) else {
            throw FormatError(path: path, message: "metadata 'version' is missing or not an integer")
        }
        guard version == Self.version else {
            throw FormatError(path: path, message: "checkpoint format version \(version) is not supported (this build reads version \(Self.version))")
        }
        func integer(_ key: String) throws -> Int {
            guard let text = file.metadata[key], let value = Int(text) else {
                throw FormatError(path: path, message: "metadata '\(key)' is missing or not an integer")
            }
            return value
        }
        guard let norm = ModelConfiguration.CriticNorm(rawValue: file.metadata["critic_norm"] ?? "") else {
            throw FormatError(path: path, message: "metadata 'critic_norm' must be 'layer' or 'none'")
        }
        let configuration = ModelConfiguration(imageSize: try integer("image_size"), width: try integer("width"),
                                               latentDimension: try integer("z_dim"), criticNorm: norm)
        do { try configuration.validate() } catch { throw FormatError(path: path, message: "metadata: \(error)") }
        var checkpoint = Checkpoint(configuration: configuration, metadata: file.metadata, tensors: file.tensors, path: path)
        checkpoint.metadata = file.metadata
        return checkpoint
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
