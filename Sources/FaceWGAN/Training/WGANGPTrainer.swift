import FaceEngine

/// Which samples of each global batch this process computes in data-parallel training: part `index`
/// of `count` equal parts (samples index*B/count ..< (index+1)*B/count). One process: the whole batch.
public struct BatchPart: Equatable, Sendable {
    public var index = 0
    public var count = 1
    public init(index: Int = 0, count: Int = 1) {
        self.index = index
        self.count = count
    }

    /// The range of `batch`'s samples this part holds (batch divisible by count).
    public func samples(of batch: Int) -> Range<Int> {
        let size = batch / count
        return (index * size)..<((index + 1) * size)
    }
}

/// Hyperparameters of Algorithm 1 (Gulrajani et al. 2017) with the paper's defaults.
public struct TrainingHyperparameters: Equatable, Sendable, Codable {
    public var batchSize = 64
    public var criticIterations = 5
    public var lambda: Float = 10
    /// The penalty on every K-th critic step only, weighted by K (StyleGAN2's lazy regularisation).
    public var penaltyInterval = 1
    public var learningRate: Float = 1e-4
    /// Two time-scale updates (Heusel et al. 2017): each network's own rate, nil: `learningRate`.
    public var criticLearningRate: Float?
    public var generatorLearningRate: Float?
    public var beta1: Float = 0
    public var beta2: Float = 0.9
    public init() {}
}

/// One generator / critic pair with their optimizers and random stream: the critic step and the
/// generator step of WGAN-GP, each ending with an Adam update.
///
/// Training-mode forwards leave the BatchNorm running statistics alone: nothing in training reads them,
/// and every saved generator gets its statistics recomputed precisely from its weights
/// (`Generator.recomputeBatchNormStatistics`), so they stay a pure function of the weights and a
/// resumed run matches an uninterrupted one byte for byte.
public final class WGANGPTrainer {
    public let configuration: ModelConfiguration
    public var hyperparameters: TrainingHyperparameters
    public let generator: Generator
    public let critic: Critic
    public let loss: WGANGPLoss
    public let generatorOptimizer: Adam
    public let criticOptimizer: Adam
    public var random: RandomGenerator
    /// This process's part of every batch; each process still draws the whole batch's z and t from
    /// the same random stream, so the parts together are exactly the single-process batch.
    public let part: BatchPart
    private var latents = ReusableTensor()
    private var interpolation = ReusableTensor()

    /// `part` and `batchNormSynchronization` (the sums across ranks) are for data-parallel training.
    public init(configuration: ModelConfiguration, hyperparameters: TrainingHyperparameters,
                backend: ComputeBackend, seed: UInt64, part: BatchPart = BatchPart(),
                batchNormSynchronization: BatchNorm2d.Synchronization? = nil) {
        self.configuration = configuration
        self.hyperparameters = hyperparameters
        self.part = part
        generator = Generator(configuration, backend: backend, batchNormSynchronization: batchNormSynchronization)
        critic = Critic(configuration, backend: backend)
        random = RandomGenerator(seed: seed)
        generator.initialize(random: &random)
        critic.initialize(random: &random)
        loss = WGANGPLoss(generator: generator, critic: critic, lambda: hyperparameters.lambda)
        generatorOptimizer = Adam(parameterCount: generator.parameters.values.count,
                                  learningRate: hyperparameters.generatorLearningRate ?? hyperparameters.learningRate,
                                  beta1: hyperparameters.beta1, beta2: hyperparameters.beta2)
        criticOptimizer = Adam(parameterCount: critic.parameters.values.count,
                               learningRate: hyperparameters.criticLearningRate ?? hyperparameters.learningRate,
                               beta1: hyperparameters.beta1, beta2: hyperparameters.beta2)
    }

    private func sampleLatents(_ count: Int) -> Tensor {
        let z = latents.get([count, configuration.latentDimension])
        random.fillNormal(z.buffer)
        return z
    }

    // Each step is two halves: `compute...Gradients` draws its random numbers, runs the passes and leaves
    // the gradients in the network's `parameters.gradients`; `apply...Gradients` runs Adam on them. A
    // data-parallel trainer averages the gradients across ranks between the two.

    /// One critic step on a real batch [b, 3, S, S] (b = this part's share of B): z ~ N(0, I),
    /// x~ = G(z), t ~ U[0, 1), Adam on the critic.
    @discardableResult
    public func criticStep(real: UnsafePointer<Float>) throws -> CriticLossTerms {
        let terms = try computeCriticGradients(real: real)
        applyCriticGradients()
        return terms
    }

    /// The first half of a critic step: draws z [B, Z] then t [B] (in that order, from `random`),
    /// x~ = G(z) in training mode for this part's rows, and L_D over this part's b samples with
    /// dL_D/dparam in `critic.parameters.gradients`. No weight changes.
    public func computeCriticGradients(real: UnsafePointer<Float>) throws -> CriticLossTerms {
        let batch = hyperparameters.batchSize, samples = part.samples(of: batch)
        let z = sampleLatents(batch)
        let fake = try generator.forward(latents: z.pointer + samples.lowerBound * configuration.latentDimension,
                                         count: samples.count, mode: .training(updateRunningStatistics: false))
        let t = interpolation.get([batch])
        random.fillUniform(t.buffer)
        loss.lambda = hyperparameters.lambda
        // Counted by the critic's Adam steps, which a checkpoint restores: a resumed run keeps the rhythm.
        let interval = hyperparameters.penaltyInterval
        let penaltyScale: Float? = criticOptimizer.step % interval == 0 ? Float(interval) : nil
        return try loss.criticLossAndGradients(real: real, fake: fake.images.pointer, interpolation: t.pointer + samples.lowerBound,
                                               batch: samples.count, penaltyScale: penaltyScale)
    }

    /// The second half of a critic step: Adam on the critic with `critic.parameters.gradients`.
    public func applyCriticGradients() {
        criticOptimizer.update(critic.parameters)
    }

    /// One generator step: L_G = -mean D(G(z)), Adam on the generator. Returns L_G.
    @discardableResult
    public func generatorStep() throws -> Double {
        let value = try computeGeneratorGradients()
        applyGeneratorGradients()
        return value
    }

    /// The first half of a generator step: draws z [B, Z] from `random`, returns L_G = -mean D(G(z))
    /// over this part's rows with dL_G/dparam in `generator.parameters.gradients`. No weight changes.
    public func computeGeneratorGradients() throws -> Double {
        let batch = hyperparameters.batchSize, samples = part.samples(of: batch)
        let z = sampleLatents(batch)
        let fake = try generator.forward(latents: z.pointer + samples.lowerBound * configuration.latentDimension,
                                         count: samples.count, mode: .training(updateRunningStatistics: false))
        return try loss.generatorLossAndGradients(fake: fake)
    }

    /// The second half of a generator step: Adam on the generator with `generator.parameters.gradients`.
    public func applyGeneratorGradients() {
        generatorOptimizer.update(generator.parameters)
    }
}
