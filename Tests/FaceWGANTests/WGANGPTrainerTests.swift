import FaceEngine
import XCTest
@testable import FaceWGAN

/// The trainer's optimizers: two time-scale updates give each network its own learning rate.
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
}
