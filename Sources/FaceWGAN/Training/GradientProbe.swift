import FaceEngine
import Foundation

/// `train probe` (DESIGN.md, "Gradient probe"): one critic loss and one generator loss on given weights
/// and inputs, with every parameter gradient, so that another framework can check our numbers.
///
/// Input: `generator.<name>`, `critic.<name>`, `real` [B, 3, S, S], `z` [B, Z], `t` [B]; metadata
/// `image_size`, `z_dim`, `width`, `lambda`, `critic_norm`. G runs once on z in training mode (batch
/// statistics); x~ = G(z) feeds both losses. Output: `loss.critic`, `loss.wasserstein`, `loss.penalty`,
/// `loss.generator` (shape [1]) and `grad.critic.<name>`, `grad.generator.<name>`.
public enum GradientProbe {
    public static func evaluate(_ input: Safetensors, path: String, backend: ComputeBackend) throws -> Safetensors {
        let lambdaText = input.metadata["lambda"] ?? "10"
        guard let lambda = Float(lambdaText), lambda.isFinite else {
            throw FormatError(path: path, message: "metadata 'lambda' = '\(lambdaText)' is not a number")
        }
        let normText = input.metadata["critic_norm"] ?? "layer"
        guard let norm = ModelConfiguration.CriticNorm(rawValue: normText) else {
            throw FormatError(path: path, message: "metadata 'critic_norm' = '\(normText)' is not 'layer' or 'none'")
        }
        let configuration = ModelConfiguration(imageSize: try input.metadata.integer("image_size", path: path),
                                               width: try input.metadata.integer("width", path: path),
                                               latentDimension: try input.metadata.integer("z_dim", path: path),
                                               criticNorm: norm)
        do { try configuration.validate() } catch { throw FormatError(path: path, message: "metadata: \(error)") }

        func tensor(_ name: String, shapeTail: [Int]) throws -> SafetensorsTensor {
            guard let tensor = input.tensors[name] else { throw FormatError(path: path, message: "tensor '\(name)' is missing") }
            guard tensor.shape.count == shapeTail.count + 1, Array(tensor.shape.dropFirst()) == shapeTail, tensor.shape[0] > 0 else {
                throw FormatError(path: path, message: "tensor '\(name)' has shape \(tensor.shape), expected [B] + \(shapeTail)")
            }
            return tensor
        }
        let size = configuration.imageSize
        let real = try tensor("real", shapeTail: [3, size, size])
        let batch = real.shape[0]
        let z = try tensor("z", shapeTail: [configuration.latentDimension])
        let t = try tensor("t", shapeTail: [])
        guard z.shape[0] == batch, t.shape[0] == batch else {
            throw FormatError(path: path, message: "'real', 'z' and 't' must have the same batch size (\(batch), \(z.shape[0]), \(t.shape[0]))")
        }

        // The metadata's width drives the allocations: checked against the memory before they are made.
        try MemoryBudget.require(configuration.trainingBytesEstimate(batch: batch), for: "\(path): the probe (\(configuration.sizeSummary))")
        let generator = Generator(configuration, backend: backend)
        let critic = Critic(configuration, backend: backend)
        try generator.parameters.load(from: input.tensors, prefix: "generator.", path: path)
        try critic.parameters.load(from: input.tensors, prefix: "critic.", path: path)
        let loss = WGANGPLoss(generator: generator, critic: critic, lambda: lambda)

        let fake = try z.values.withUnsafeBufferPointer {
            try generator.forward(latents: $0.baseAddress!, count: batch, mode: .training(updateRunningStatistics: false))
        }
        let terms = try real.values.withUnsafeBufferPointer { realValues in
            try t.values.withUnsafeBufferPointer { tValues in
                try loss.criticLossAndGradients(real: realValues.baseAddress!, fake: fake.images.pointer,
                                            interpolation: tValues.baseAddress!, batch: batch)
            }
        }
        let generatorLoss = try loss.generatorLossAndGradients(fake: fake)

        var output = Safetensors(metadata: ["format": "facewgan-probe", "version": "1"])
        output.tensors["loss.critic"] = SafetensorsTensor(shape: [1], values: [Float(terms.loss)])
        output.tensors["loss.wasserstein"] = SafetensorsTensor(shape: [1], values: [Float(terms.wasserstein)])
        output.tensors["loss.penalty"] = SafetensorsTensor(shape: [1], values: [Float(terms.penalty)])
        output.tensors["loss.generator"] = SafetensorsTensor(shape: [1], values: [Float(generatorLoss)])
        output.tensors.merge(critic.parameters.gradientTensors(prefix: "grad.critic.")) { $1 }
        output.tensors.merge(generator.parameters.gradientTensors(prefix: "grad.generator.")) { $1 }
        return output
    }
}
