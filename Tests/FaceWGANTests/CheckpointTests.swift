import FaceEngine
import Foundation
import XCTest
@testable import FaceWGAN

/// The training state in a checkpoint (Checkpoint(trainer:ema:metadata:), restore(into:ema:)) and the
/// trainer's two-part steps.
final class CheckpointTests: XCTestCase {
    let configuration = ModelConfiguration(imageSize: 32, width: 4, latentDimension: 8, criticNorm: .layer)
    /// A directory for this test's files, removed when the test ends.
    func makeDirectory() throws -> String {
        let directory = NSTemporaryDirectory() + "facewgan-checkpoint-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: directory) }
        return directory
    }

    func makeTrainer(seed: UInt64) -> WGANGPTrainer {
        var hyper = TrainingHyperparameters()
        hyper.batchSize = 4
        return WGANGPTrainer(configuration: configuration, hyperparameters: hyper, backend: BLASBackend(), seed: seed)
    }

    /// A real batch [4, 3, 32, 32] in [-1, 1).
    func realBatch(seed: UInt64) -> [Float] {
        var random = RandomGenerator(seed: seed)
        var values = [Float](repeating: 0, count: 4 * configuration.imageItemSize)
        values.withUnsafeMutableBufferPointer { random.fillUniform($0) }
        return values.map { 2 * $0 - 1 }
    }

    func values(_ tensor: Tensor) -> [UInt32] { (0..<tensor.count).map { tensor.pointer[$0].bitPattern } }

    /// Everything a resumed run depends on, bit for bit.
    func assertSameState(_ a: WGANGPTrainer, _ b: WGANGPTrainer, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(values(a.generator.parameters.values), values(b.generator.parameters.values), "generator", file: file, line: line)
        XCTAssertEqual(values(a.generator.buffers.values), values(b.generator.buffers.values), "running statistics", file: file, line: line)
        XCTAssertEqual(values(a.critic.parameters.values), values(b.critic.parameters.values), "critic", file: file, line: line)
        for (x, y, name) in [(a.generatorOptimizer, b.generatorOptimizer, "generator"), (a.criticOptimizer, b.criticOptimizer, "critic")] {
            XCTAssertEqual(values(x.firstMoment), values(y.firstMoment), "Adam m, \(name)", file: file, line: line)
            XCTAssertEqual(values(x.secondMoment), values(y.secondMoment), "Adam v, \(name)", file: file, line: line)
            XCTAssertEqual(x.step, y.step, "Adam step, \(name)", file: file, line: line)
        }
        XCTAssertEqual(a.random.state, b.random.state, "RNG state", file: file, line: line)
    }

    /// A trainer after two critic steps and a generator step, with an EMA generator unlike it, saved.
    func trainedCheckpoint() throws -> (WGANGPTrainer, Generator, Checkpoint) {
        let trainer = makeTrainer(seed: 5)
        let real = realBatch(seed: 6)
        for _ in 0..<2 { try real.withUnsafeBufferPointer { _ = try trainer.criticStep(real: $0.baseAddress!) } }
        try trainer.generatorStep()
        let ema = Generator(configuration, backend: BLASBackend())
        var random = RandomGenerator(seed: 7)
        ema.initialize(random: &random)
        var latents = [Float](repeating: 0, count: 64 * 8)
        latents.withUnsafeMutableBufferPointer { random.fillNormal($0) }
        try ema.recomputeBatchNormStatistics(latents: latents, count: 64)
        try trainer.generator.recomputeBatchNormStatistics(latents: latents, count: 64)
        let path = try makeDirectory() + "/" + Checkpoint.fileName
        try Checkpoint(trainer: trainer, ema: ema, metadata: ["step": "1"]).write(path: path)
        return (trainer, ema, try Checkpoint.read(path: path))
    }

    func testTrainingStateRoundTripsIntoAFreshTrainer() throws {
        let (trainer, ema, checkpoint) = try trainedCheckpoint()
        XCTAssertEqual(checkpoint.metadata["adam_critic_step"], "2")
        XCTAssertEqual(checkpoint.metadata["adam_generator_step"], "1")
        XCTAssertNil(checkpoint.metadata["batch_size"], "the settings are the run's to record (TrainingOptions.checkpointMetadata)")
        XCTAssertEqual(checkpoint.metadata["precision"], "fp32")
        XCTAssertEqual(checkpoint.step, 1)

        let fresh = makeTrainer(seed: 99)
        let freshEMA = Generator(configuration, backend: BLASBackend())
        try checkpoint.restore(into: fresh, ema: freshEMA)
        assertSameState(trainer, fresh)
        XCTAssertEqual(values(freshEMA.parameters.values), values(ema.parameters.values), "EMA generator")
        XCTAssertEqual(values(freshEMA.buffers.values), values(ema.buffers.values), "EMA running statistics")

        // Saving the restored state gives the same bytes, and training on continues identically.
        let again = checkpoint.path + ".again"
        try Checkpoint(trainer: fresh, ema: freshEMA, metadata: ["step": "1"]).write(path: again)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: again)),
                       try Data(contentsOf: URL(fileURLWithPath: checkpoint.path)))
        let real = realBatch(seed: 8)
        for continued in [trainer, fresh] {
            try real.withUnsafeBufferPointer { _ = try continued.criticStep(real: $0.baseAddress!) }
            try continued.generatorStep()
        }
        assertSameState(trainer, fresh)
    }

    func testRestoreNamesWhatIsMissing() throws {
        let (_, _, checkpoint) = try trainedCheckpoint()
        func refusal(_ change: (inout Checkpoint) -> Void, _ words: [String], line: UInt = #line) {
            var broken = checkpoint
            change(&broken)
            XCTAssertThrowsError(try broken.restore(into: makeTrainer(seed: 1), ema: Generator(configuration, backend: BLASBackend())),
                                 line: line) { error in
                XCTAssertEqual((error as? FormatError)?.path, checkpoint.path, line: line)
                for word in words { XCTAssertTrue("\(error)".contains(word), "'\(word)' in \(error)", line: line) }
            }
        }
        refusal({ $0.tensors["adam.critic.v.fc.weight"] = nil }, ["'adam.critic.v.fc.weight'", "missing"])
        refusal({ $0.tensors["adam.generator.m.fc.bias"] = SafetensorsTensor(shape: [1], values: [0]) },
                ["'adam.generator.m.fc.bias'", "wrong shape"])
        refusal({ $0.tensors["generator_ema.bn0.running_var"] = nil }, ["'generator_ema.bn0.running_var'"])
        refusal({ $0.metadata["adam_critic_step"] = nil }, ["metadata 'adam_critic_step' is missing"])
        refusal({ $0.metadata["adam_generator_step"] = "one" }, ["metadata 'adam_generator_step' = 'one' is not an integer"])
        refusal({ $0.metadata["rng_state"] = "1 2 3" }, ["'rng_state'", "four hexadecimal words"])
    }

    /// criticStep / generatorStep are computeGradients then applyGradients, drawing the same numbers.
    func testStepsAreComputeThenApply() throws {
        let whole = makeTrainer(seed: 11), parts = makeTrainer(seed: 11)
        let real = realBatch(seed: 12)
        try real.withUnsafeBufferPointer { pointer in
            let a = try whole.criticStep(real: pointer.baseAddress!)
            let b = try parts.computeCriticGradients(real: pointer.baseAddress!)
            XCTAssertEqual(values(whole.critic.parameters.gradients), values(parts.critic.parameters.gradients))
            XCTAssertEqual(parts.criticOptimizer.step, 0, "nothing applied yet")
            parts.applyCriticGradients()
            XCTAssertEqual(a.loss.bitPattern, b.loss.bitPattern)
            XCTAssertEqual(a.penalty.bitPattern, b.penalty.bitPattern)
        }
        let a = try whole.generatorStep()
        let b = try parts.computeGeneratorGradients()
        XCTAssertEqual(values(whole.generator.parameters.gradients), values(parts.generator.parameters.gradients))
        parts.applyGeneratorGradients()
        XCTAssertEqual(a.bitPattern, b.bitPattern)
        assertSameState(whole, parts)
    }

    func testMetadataIntegers() {
        let metadata = ["step": "42", "padded": " 7\t", "word": "seven"]
        XCTAssertEqual(try metadata.integer("step", path: "c"), 42)
        XCTAssertEqual(try metadata.integer("padded", path: "c"), 7)
        XCTAssertThrowsError(try metadata.integer("width", path: "c.safetensors")) {
            XCTAssertEqual($0 as? FormatError, FormatError(path: "c.safetensors", message: "metadata 'width' is missing"))
        }
        XCTAssertThrowsError(try metadata.integer("word", path: "c.safetensors")) {
            XCTAssertEqual($0 as? FormatError, FormatError(path: "c.safetensors", message: "metadata 'word' = 'seven' is not an integer"))
        }
    }

    func testDurationText() {
        XCTAssertEqual(DurationText.format(30.64), "30.6 s")
        XCTAssertEqual(DurationText.format(65), "1 min 05 s")
        XCTAssertEqual(DurationText.format(7620), "2 h 07 min")
        XCTAssertEqual(DurationText.format(.nan), "-")
        XCTAssertEqual(DurationText.format(-1), "-")
    }
}
