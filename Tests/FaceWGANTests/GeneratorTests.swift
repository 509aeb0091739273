import FaceEngine
@testable import FaceWGAN
import TestSupport
import XCTest

final class GeneratorTests: XCTestCase {
    let configuration = ModelConfiguration(imageSize: 32, width: 4, latentDimension: 8, criticNorm: .layer)

    func makeGenerator(seed: UInt64 = 41, backend: ComputeBackend = BLASBackend()) -> Generator {
        let generator = Generator(configuration, backend: backend)
        var random = RandomGenerator(seed: seed)
        generator.initialize(random: &random)
        return generator
    }

    func testParameterNamesAndLayoutsFollowPyTorch() {
        let generator = makeGenerator()
        let shapes = Dictionary(uniqueKeysWithValues: generator.parameters.slots.map { ($0.name, $0.shape) })
        // size 32: n = 3 stages, C0 = 4 * 2^2 = 16
        XCTAssertEqual(shapes["fc.weight"], [256, 8])
        XCTAssertEqual(shapes["fc.bias"], [256])
        XCTAssertEqual(shapes["bn0.weight"], [16])
        XCTAssertEqual(shapes["up1.weight"], [16, 8, 4, 4])
        XCTAssertNil(shapes["up1.bias"])
        XCTAssertEqual(shapes["up2.weight"], [8, 4, 4, 4])
        XCTAssertEqual(shapes["out.weight"], [4, 3, 4, 4])
        XCTAssertEqual(shapes["out.bias"], [3])
        XCTAssertEqual(generator.buffers.slots.map(\.name), ["bn0.running_mean", "bn0.running_var", "bn1.running_mean",
                                                             "bn1.running_var", "bn2.running_mean", "bn2.running_var"])
        let critic = Critic(configuration, backend: BLASBackend())
        XCTAssertEqual(critic.parameters.slots.map(\.name), ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                                             "norm2.weight", "norm2.bias", "conv3.weight", "conv3.bias",
                                                             "norm3.weight", "norm3.bias", "fc.weight", "fc.bias"])
        XCTAssertEqual(critic.parameters.slot(named: "fc.weight")?.shape, [1, 256])
    }

    func testImagesAreInRangeAndEvaluationIsBatchIndependent() {
        for backend in TestBackends.fp32() {
            let generator = makeGenerator(backend: backend)
            var random = RandomGenerator(seed: 42)
            let latents = Tensor.random([5, 8], random: &random)
            let batchImages = try! generator.forward(latents: latents.pointer, count: 5, mode: .evaluation).images.array
            XCTAssertTrue(batchImages.allSatisfy { $0 >= -1 && $0 <= 1 }, backend.name)
            let item = configuration.imageItemSize
            for sample in 0..<5 {
                let single = try! generator.forward(latents: latents.pointer + sample * 8, count: 1, mode: .evaluation).images.array
                let difference = zip(single, batchImages[(sample * item)..<((sample + 1) * item)]).map { abs($0 - $1) }.max()!
                // The backend may sum in another order for another batch size: equal up to Float rounding.
                XCTAssertLessThan(difference, 1e-5, "\(backend.name) sample \(sample)")
            }
        }
    }

    /// The recomputed statistics equal those of one training-mode pass over all the latents, computed
    /// here by the ordinary training forward on the whole set at once (on each fp32 backend).
    func testPreciseBatchNormStatisticsEqualOneTrainingPassOverAllLatents() {
        for backend in TestBackends.fp32() {
            let generator = makeGenerator(backend: backend)
            var random = RandomGenerator(seed: 43)
            let count = 300
            let latents = Tensor.random([count, 8], random: &random)
            let reference = makeGenerator(backend: backend)
            reference.buffers.values.fill(0)
            for norm in reference.norms {
                reference.buffers.value(norm.runningVariance).update(repeating: 0, count: norm.channels)
            }
            // momentum 0.1 from zero: running = 0.1 * batch statistic, so divide by 0.1 below.
            _ = try! reference.forward(latents: latents.pointer, count: count, mode: .training(updateRunningStatistics: true))
            try! generator.recomputeBatchNormStatistics(latents: latents.pointer, count: count, chunk: 64)
            for (index, slot) in generator.buffers.slots.enumerated() {
                let expected = reference.buffers.array(reference.buffers.slots[index]).map { $0 / 0.1 }
                let actual = generator.buffers.array(slot)
                for channel in actual.indices {
                    // Double accumulation against Float sums of 300*plane values: 1e-4 relative.
                    XCTAssertEqual(actual[channel], expected[channel], accuracy: 1e-4 * max(1, abs(expected[channel])),
                                   "\(backend.name) \(slot.name)[\(channel)]")
                }
            }
        }
    }

    func testCheckpointRoundTripRestoresTheGenerator() throws {
        let generator = makeGenerator()
        var checkpoint = Checkpoint(configuration: configuration, metadata: ["step": "7"])
        checkpoint.store(generator, prefix: "generator.")
        checkpoint.store(generator, prefix: "generator_ema.")
        checkpoint.store(Critic(configuration, backend: BLASBackend()))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try checkpoint.write(path: path)
        let loaded = try Checkpoint.read(path: path)
        XCTAssertEqual(loaded.configuration, configuration)
        XCTAssertEqual(loaded.step, 7)
        let restored = try loaded.makeGenerator(backend: BLASBackend())
        XCTAssertEqual(restored.parameters.values.array, generator.parameters.values.array)
        XCTAssertEqual(restored.buffers.values.array, generator.buffers.values.array)

        var wrongVersion = checkpoint
        wrongVersion.metadata["version"] = "99"
        try wrongVersion.write(path: path)
        XCTAssertThrowsError(try Checkpoint.read(path: path)) { error in
            XCTAssertTrue("\(error)".contains("version 99"), "\(error)")
        }
        try Safetensors(metadata: ["format": "something-else"]).write(path: path)
        XCTAssertThrowsError(try Checkpoint.read(path: path)) { error in
            XCTAssertTrue("\(error)".contains("not a FaceWGAN checkpoint"), "\(error)")
        }
    }

    /// dL/dparam of L = sum w * G(z) for one training pass, through a backward given that pass.
    func parameterGradient(_ generator: Generator, _ pass: Generator.ForwardPass, weights: [Float]) throws -> [Float] {
        var imageGradient = weights
        generator.parameters.zeroGradients()
        try imageGradient.withUnsafeMutableBufferPointer { try generator.backward(pass, imageGradient: $0.baseAddress!) }
        return generator.parameters.gradients.array
    }

    /// A backward reads the pass it is given: its batch, latents, activations, BatchNorm caches and
    /// images. A pass is spent once another forward (of either mode) or `recomputeBatchNormStatistics`
    /// has run in the storage it refers to (backward would then stop the program), and a backward
    /// leaves its own pass current.
    func testBackwardTakesThePassItBelongsTo() throws {
        let training = Generator.Mode.training(updateRunningStatistics: false)
        for backend in TestBackends.fp32() {
            let generator = makeGenerator(backend: backend)
            var random = RandomGenerator(seed: 44)
            let first = Tensor.random([3, 8], random: &random), second = Tensor.random([5, 8], random: &random)
            let weights = GradientCheck.randomArray(3 * configuration.imageItemSize, random: &random)

            let pass = try generator.forward(latents: first.pointer, count: 3, mode: training)
            XCTAssertEqual(pass.count, 3, backend.name)
            XCTAssertEqual(pass.images.shape, [3, 3, 32, 32], backend.name)
            let expected = try parameterGradient(generator, pass, weights: weights)
            XCTAssertTrue(generator.isCurrent(pass), "\(backend.name): a backward keeps its pass")
            XCTAssertEqual(try parameterGradient(generator, pass, weights: weights), expected, backend.name)

            let other = try generator.forward(latents: second.pointer, count: 5, mode: training)
            XCTAssertFalse(generator.isCurrent(pass), "\(backend.name): another forward spends the pass")
            XCTAssertTrue(generator.isCurrent(other), backend.name)
            _ = try generator.forward(latents: first.pointer, count: 3, mode: .evaluation)
            XCTAssertFalse(generator.isCurrent(other), "\(backend.name): an evaluation forward spends the pass")
            let again = try generator.forward(latents: first.pointer, count: 3, mode: training)
            try generator.recomputeBatchNormStatistics(latents: second.pointer, count: 5, chunk: 2)
            XCTAssertFalse(generator.isCurrent(again), "\(backend.name): recomputing the statistics spends the pass")

            // The same latents again, after passes of other batch sizes: the same gradient, bit for bit.
            let fresh = try generator.forward(latents: first.pointer, count: 3, mode: training)
            XCTAssertEqual(try parameterGradient(generator, fresh, weights: weights), expected, backend.name)
        }
    }
}
