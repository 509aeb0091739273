import FaceEngine

/// A generator whose BatchNorm running statistics were recomputed precisely for `step` (DESIGN.md,
/// "Model"): only such a generator is sampled, evaluated or saved, and these types make that order
/// of calls the only one that compiles.
public struct PreparedGenerator {
    public let generator: Generator
    public let step: Int
}

/// The two generators a checkpoint saves at one step: the trained one and the moving average, both
/// prepared from the same latents.
public struct SavedGenerators {
    public let trained: PreparedGenerator
    public let average: PreparedGenerator

    /// Latents for the precise statistics depend only on the seed and the step, so a resumed run
    /// writes the same bytes as an uninterrupted one.
    static let latentCount = 2048

    static func statisticsLatents(seed: UInt64, step: Int, latentDimension: Int) -> Tensor {
        var random = RandomGenerator(seed: seed ^ 0xB47C_5EED ^ (UInt64(step) &* 0x9E37_79B9_7F4A_7C15))
        let latents = Tensor(shape: [latentCount, latentDimension])
        random.fillNormal(latents.buffer)
        return latents
    }

    /// Recomputes the statistics of the trainer's generator and of the average's for `step`.
    init(trainer: WGANGPTrainer, average: GeneratorAverage, step: Int, seed: UInt64) throws {
        let latents = Self.statisticsLatents(seed: seed, step: step, latentDimension: trainer.configuration.latentDimension)
        try trainer.generator.recomputeBatchNormStatistics(latents: latents.pointer, count: Self.latentCount)
        trained = PreparedGenerator(generator: trainer.generator, step: step)
        self.average = try average.prepared(step: step, latents: latents)
    }
}

/// The exponential moving average of the generator's weights (what `sample` uses by default), with
/// the generator that holds it whenever it is prepared.
public final class GeneratorAverage {
    /// The averaged weights, in the generator's flat parameter layout.
    let parameters: Tensor
    /// Receives the averaged weights and their statistics when prepared; the checkpoint restores into it.
    let generator: Generator
    let decay: Float

    init(of trained: Generator, decay: Float) {
        parameters = trained.parameters.values.clone()
        generator = Generator(trained.configuration, backend: trained.backend)
        self.decay = decay
    }

    /// average = d * average + (1 - d) * weights after generator step `step` (counted from 0), with
    /// TensorFlow's warm-up d = min(decay, (1 + t) / (10 + t)): early grids show the current generator
    /// instead of an average still dominated by the random initial weights.
    func update(with weights: ParameterStore, step: Int) {
        let decay = min(self.decay, Float(1 + step) / Float(10 + step))
        let average = parameters.pointer, current = weights.values.pointer
        Parallel.forRanges(parameters.count) { range in
            for index in range { average[index] = decay * average[index] + (1 - decay) * current[index] }
        }
    }

    /// Takes the weights a checkpoint restored into `generator` as the average.
    func adoptRestoredWeights() {
        parameters.copy(from: generator.parameters.values)
    }

    /// The average with statistics recomputed for `step` (a quality evaluation between checkpoints).
    func prepared(step: Int, seed: UInt64) throws -> PreparedGenerator {
        try prepared(step: step, latents: SavedGenerators.statisticsLatents(
            seed: seed, step: step, latentDimension: generator.configuration.latentDimension))
    }

    fileprivate func prepared(step: Int, latents: Tensor) throws -> PreparedGenerator {
        generator.parameters.values.copy(from: parameters)
        try generator.recomputeBatchNormStatistics(latents: latents.pointer, count: SavedGenerators.latentCount)
        return PreparedGenerator(generator: generator, step: step)
    }
}
