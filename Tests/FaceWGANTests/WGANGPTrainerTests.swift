import FaceEngine
import XCTest
@testable import FaceWGAN

/// The trainer's recipe settings: two time-scale updates give each network its own learning rate; the
/// lazy penalty (`penaltyInterval`) weights it by K on every K-th critic step and leaves it out between.
final class WGANGPTrainerTests: XCTestCase {
    let configuration = ModelConfiguration(imageSize: 32, width: 4, latentDimension: 8, criticNorm: .layer)

    func makeTrainer(_ change: (inout TrainingHyperparameters) -> Void) -> WGANGPTrainer {
        var hyper = TrainingHyperparameters()
        hyper.batchSize = 4
        change(&hyper)
        return WGANGPTrainer(configuration: configuration, hyperparameters: hyper, backend: BLASBackend(), seed: 11)
    }

    func bits(_ tensor: Tensor) -> [UInt32] { (0..<tensor.count).map { tensor.pointer[$0].bitPattern } }

    /// The critic steps as with --lr = its own rate, the generator steps as with --lr = the generator's.
    func testEachNetworkStepsWithItsOwnRate() throws {
        var random = RandomGenerator(seed: 12)
        var real = [Float](repeating: 0, count: 4 * configuration.imageItemSize)
        real.withUnsafeMutableBufferPointer { random.fillUniform($0) }
        func split() -> WGANGPTrainer { makeTrainer { $0.criticLearningRate = 3e-4; $0.generatorLearningRate = 1e-4 } }
        func single(_ rate: Float) -> WGANGPTrainer { makeTrainer { $0.learningRate = rate } }
        XCTAssertEqual([split().criticOptimizer.learningRate, split().generatorOptimizer.learningRate], [3e-4, 1e-4])
        // A critic step (the generator only draws the fakes): as with --lr 3e-4, not 1e-4.
        let critics = [split(), single(3e-4), single(1e-4)]
        for trainer in critics { try trainer.criticStep(real: real) }
        XCTAssertTrue(bits(critics[0].critic.parameters.values) == bits(critics[1].critic.parameters.values))
        XCTAssertFalse(bits(critics[0].critic.parameters.values) == bits(critics[2].critic.parameters.values))
        // A generator step from the same critic: as with --lr 1e-4, not 3e-4.
        let generators = [split(), single(1e-4), single(3e-4)]
        for trainer in generators { try trainer.generatorStep() }
        XCTAssertTrue(bits(generators[0].generator.parameters.values) == bits(generators[1].generator.parameters.values))
        XCTAssertFalse(bits(generators[0].generator.parameters.values) == bits(generators[2].generator.parameters.values))
    }

    func realBatch() -> [Float] {
        var random = RandomGenerator(seed: 12)
        var real = [Float](repeating: 0, count: 4 * configuration.imageItemSize)
        real.withUnsafeMutableBufferPointer { random.fillUniform($0) }
        return real.map { 2 * $0 - 1 }
    }

    /// K = 1 is today's step, bit for bit: the penalty on every step with weight lambda.
    func testPenaltyEveryStepIsTheStepOfAlgorithmOne() throws {
        let real = realBatch()
        let every = makeTrainer { $0.penaltyInterval = 1 }, plain = makeTrainer { _ in }
        for _ in 0..<3 {
            let a = try every.criticStep(real: real), b = try plain.criticStep(real: real)
            XCTAssertEqual(a, b)
            XCTAssertTrue(a.penalized)
        }
        try every.generatorStep()
        try plain.generatorStep()
        XCTAssertTrue(bits(every.critic.parameters.values) == bits(plain.critic.parameters.values))
        XCTAssertTrue(bits(every.generator.parameters.values) == bits(plain.generator.parameters.values))
    }

    /// K = 3: the first of every three critic steps carries the penalty with weight 3*lambda (its
    /// gradient is that of lambda' = 30 with K = 1), the next two none (that of lambda' = 0).
    func testLazyPenaltyWeightsEveryKthStepByK() throws {
        let real = realBatch()
        let lazy = makeTrainer { $0.penaltyInterval = 3 }
        let weighted = makeTrainer { $0.lambda = 30 }, unpenalized = makeTrainer { $0.lambda = 0 }
        func gradients(_ trainer: WGANGPTrainer) -> [Float] { trainer.critic.parameters.gradients.array }
        for step in 0..<6 {
            // All three draw this step's z and t, so they keep one random stream.
            let terms = try lazy.computeCriticGradients(real: real)
            let references = [try weighted.computeCriticGradients(real: real), try unpenalized.computeCriticGradients(real: real)]
            let (reference, expected) = step % 3 == 0 ? (weighted, references[0]) : (unpenalized, references[1])
            XCTAssertEqual(terms.penalized, step % 3 == 0, "step \(step)")
            XCTAssertEqual(terms.wasserstein, expected.wasserstein, accuracy: 1e-6 * max(1, abs(expected.wasserstein)))
            if terms.penalized {
                // The reported penalty is lambda's (10), not the step's weight (30): comparable across K.
                XCTAssertEqual(terms.penalty * 3, expected.penalty, accuracy: 1e-6 * max(1, expected.penalty))
            } else {
                XCTAssertEqual([terms.penalty, terms.meanGradientNorm], [0, 0])
            }
            let actual = gradients(lazy), wanted = gradients(reference)
            let scale = wanted.map(abs).max()!
            XCTAssertGreaterThan(scale, 0)
            for index in actual.indices {
                XCTAssertEqual(actual[index], wanted[index], accuracy: 1e-4 * scale, "step \(step), gradient \(index)")
            }
            // Every trainer applies the lazy one's update, so all three stay at the same weights.
            for trainer in [lazy, weighted, unpenalized] where trainer !== lazy {
                trainer.critic.parameters.gradients.copy(from: lazy.critic.parameters.gradients)
            }
            for trainer in [lazy, weighted, unpenalized] { trainer.applyCriticGradients() }
        }
    }
}
