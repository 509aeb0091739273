import FaceEngine
import FaceWGAN

/// A small checkpoint for sampling tests: size 32, width 4, z-dim 8; the EMA generator's weights
/// differ from the raw one's, and both have BatchNorm statistics measured on 256 latents (so the
/// images are not saturated).
public func makeSamplingCheckpoint(imageSize: Int = 32, width: Int = 4, zDim: Int = 8, seed: UInt64 = 1) -> Checkpoint {
    let configuration = ModelConfiguration(imageSize: imageSize, width: width, latentDimension: zDim, criticNorm: .layer)
    let backend = BLASBackend()
    var random = RandomGenerator(seed: seed)
    var checkpoint = Checkpoint(configuration: configuration, metadata: ["step": "0"])
    var statistics = [Float](repeating: 0, count: 256 * zDim)
    statistics.withUnsafeMutableBufferPointer { random.fillNormal($0) }
    for prefix in ["generator.", "generator_ema."] {
        let generator = Generator(configuration, backend: backend)
        generator.initialize(random: &random)
        try! generator.recomputeBatchNormStatistics(latents: statistics, count: 256)  // BLAS kernels never throw
        checkpoint.store(generator, prefix: prefix)
    }
    let critic = Critic(configuration, backend: backend)
    critic.initialize(random: &random)
    checkpoint.store(critic)
    return checkpoint
}
