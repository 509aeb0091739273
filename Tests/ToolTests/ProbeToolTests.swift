import FaceEngine
@testable import FaceWGAN
import XCTest

/// `train probe` end to end: a probe file written here, the tool run, its losses checked against an
/// independent evaluation in this process (separate forwards, input gradients by the plain backward).
final class ProbeToolTests: XCTestCase {
    func makeProbe(norm: ModelConfiguration.CriticNorm, batch: Int = 3) -> (Safetensors, Generator, Critic, [String: [Float]]) {
        let configuration = ModelConfiguration(imageSize: 32, width: 4, latentDimension: 8, criticNorm: norm)
        let backend = BLASBackend()
        let generator = Generator(configuration, backend: backend), critic = Critic(configuration, backend: backend)
        var random = RandomGenerator(seed: 31)
        generator.initialize(random: &random)
        critic.initialize(random: &random)
        var inputs = [String: [Float]]()
        var real = [Float](repeating: 0, count: batch * configuration.imageItemSize)
        real.withUnsafeMutableBufferPointer { random.fillUniform($0, low: -1, high: 1) }
        var z = [Float](repeating: 0, count: batch * 8)
        z.withUnsafeMutableBufferPointer { random.fillNormal($0) }
        var t = [Float](repeating: 0, count: batch)
        t.withUnsafeMutableBufferPointer { random.fillUniform($0) }
        inputs["real"] = real
        inputs["z"] = z
        inputs["t"] = t
        var file = Safetensors(metadata: ["image_size": "32", "z_dim": "8", "width": "4", "lambda": "10",
                                          "critic_norm": norm.rawValue])
        file.tensors.merge(generator.parameters.tensors(prefix: "generator.")) { $1 }
        file.tensors.merge(generator.buffers.tensors(prefix: "generator.")) { $1 }
        file.tensors.merge(critic.parameters.tensors(prefix: "critic.")) { $1 }
        file.tensors["real"] = SafetensorsTensor(shape: [batch, 3, 32, 32], values: real)
        file.tensors["z"] = SafetensorsTensor(shape: [batch, 8], values: z)
        file.tensors["t"] = SafetensorsTensor(shape: [batch], values: t)
        return (file, generator, critic, inputs)
    }

    func testProbeLossesMatchAnIndependentEvaluation() throws {
        for norm in ModelConfiguration.CriticNorm.allCases {
            let batch = 3
            let (probe, generator, critic, inputs) = makeProbe(norm: norm, batch: batch)
            let directory = try ToolRunner.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let input = directory.appendingPathComponent("probe.safetensors").path
            let output = directory.appendingPathComponent("gradients.safetensors").path
            try probe.write(path: input)
            let result = try ToolRunner.run("train", ["probe", "--input", input, "--output", output, "--quiet"])
            XCTAssertEqual(result.status, 0, result.standardError)
            let gradients = try Safetensors.read(path: output)

            // Independent evaluation: G in training mode once, then the critic on each part separately.
            let item = critic.configuration.imageItemSize
            let fake = inputs["z"]!.withUnsafeBufferPointer {
                generator.forward(latents: $0.baseAddress!, count: batch, mode: .training(updateRunningStatistics: false)).array
            }
            func scores(_ images: [Float]) -> [Double] {
                critic.inputBuffer(batch: batch).pointer.update(from: images, count: images.count)
                return critic.forward(batch: batch).array.map(Double.init)
            }
            let real = inputs["real"]!, t = inputs["t"]!
            let meanReal = scores(real).reduce(0, +) / Double(batch)
            let meanFake = scores(fake).reduce(0, +) / Double(batch)
            var interpolates = [Float](repeating: 0, count: real.count)
            for index in real.indices {
                let weight = t[index / item]
                interpolates[index] = weight * real[index] + (1 - weight) * fake[index]
            }
            _ = scores(interpolates)
            let ones = [Float](repeating: 1, count: batch)
            let gradient = ones.withUnsafeBufferPointer { critic.inputGradient(sampleOffset: 0, count: batch, outputGradient: $0.baseAddress!) }
            var penalty = 0.0
            for sample in 0..<batch {
                var squares = 0.0
                for index in 0..<item { squares += Double(gradient[sample * item + index] * gradient[sample * item + index]) }
                penalty += (squares.squareRoot() - 1) * (squares.squareRoot() - 1)
            }
            penalty = 10 * penalty / Double(batch)

            func value(_ name: String) -> Double { Double(gradients.tensors[name]!.values[0]) }
            // Float32 outputs of sums over a few thousand products: 1e-5 relative.
            XCTAssertEqual(value("loss.wasserstein"), meanReal - meanFake, accuracy: 1e-5 * max(1, abs(meanReal - meanFake)))
            XCTAssertEqual(value("loss.penalty"), penalty, accuracy: 1e-5 * max(1, penalty))
            XCTAssertEqual(value("loss.critic"), meanFake - meanReal + penalty, accuracy: 1e-5 * max(1, penalty))
            XCTAssertEqual(value("loss.generator"), -meanFake, accuracy: 1e-5 * max(1, abs(meanFake)))
            for slot in critic.parameters.slots {
                XCTAssertEqual(gradients.tensors["grad.critic.\(slot.name)"]?.shape, slot.shape, slot.name)
            }
            for slot in generator.parameters.slots {
                XCTAssertEqual(gradients.tensors["grad.generator.\(slot.name)"]?.shape, slot.shape, slot.name)
            }
            XCTAssertEqual(gradients.tensors.keys.filter { $0.hasPrefix("loss.") }.count, 4)
        }
    }

    func testProbeRejectsMissingAndMisshapenTensors() throws {
        let directory = try ToolRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("probe.safetensors").path
        let output = directory.appendingPathComponent("out.safetensors").path
        var (probe, _, _, _) = makeProbe(norm: .layer)
        probe.tensors["critic.norm2.weight"] = nil
        try probe.write(path: input)
        var result = try ToolRunner.run("train", ["probe", "--input", input, "--output", output])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.standardError.contains("critic.norm2.weight"), result.standardError)
        XCTAssertTrue(result.standardError.contains(input), result.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))

        (probe, _, _, _) = makeProbe(norm: .layer)
        probe.tensors["z"] = SafetensorsTensor(shape: [3, 9], values: [Float](repeating: 0, count: 27))
        try probe.write(path: input)
        result = try ToolRunner.run("train", ["probe", "--input", input, "--output", output])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.standardError.contains("'z'"), result.standardError)

        (probe, _, _, _) = makeProbe(norm: .layer)
        probe.metadata["image_size"] = "48"
        try probe.write(path: input)
        result = try ToolRunner.run("train", ["probe", "--input", input, "--output", output])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.standardError.contains("48"), result.standardError)

        try Data("not a safetensors file".utf8).write(to: URL(fileURLWithPath: input))
        result = try ToolRunner.run("train", ["probe", "--input", input, "--output", output])
        XCTAssertEqual(result.status, 1)
        XCTAssertFalse(result.standardError.contains("Fatal"), result.standardError)

        result = try ToolRunner.run("train", ["probe", "--input", input])
        XCTAssertEqual(result.status, 2, "usage errors exit with status 2")
    }
}
