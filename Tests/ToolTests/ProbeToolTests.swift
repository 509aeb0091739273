import FaceEngine
@testable import FaceWGAN
import XCTest

/// `train probe` end to end: a probe file written here, the tool run, its losses checked against an
/// independent evaluation in this process (separate forwards, input gradients by the plain backward),
/// and its gradients against finite differences of its own losses.
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
            // Both backends against the same in-process evaluation (which runs on BLAS).
            for backend in ["blas", "onednn"] {
            let result = try ToolRunner.run("train", ["probe", "--input", input, "--output", output, "--quiet",
                                                      "--backend", backend])
            XCTAssertEqual(result.status, 0, result.standardError)
            let gradients = try Safetensors.read(path: output)

            // Independent evaluation: G in training mode once, then the critic on each part separately.
            let item = critic.configuration.imageItemSize
            let fake = try inputs["z"]!.withUnsafeBufferPointer {
                try generator.forward(latents: $0.baseAddress!, count: batch, mode: .training(updateRunningStatistics: false)).images.array
            }
            func scores(_ images: [Float]) -> [Double] {
                critic.inputBuffer(batch: batch).pointer.update(from: images, count: images.count)
                return try! critic.forward(batch: batch).scores.array.map(Double.init)
            }
            let real = inputs["real"]!, t = inputs["t"]!
            let meanReal = scores(real).reduce(0, +) / Double(batch)
            let meanFake = scores(fake).reduce(0, +) / Double(batch)
            var interpolates = [Float](repeating: 0, count: real.count)
            for index in real.indices {
                let weight = t[index / item]
                interpolates[index] = weight * real[index] + (1 - weight) * fake[index]
            }
            critic.inputBuffer(batch: batch).pointer.update(from: interpolates, count: interpolates.count)
            let pass = try critic.forward(batch: batch)
            let ones = [Float](repeating: 1, count: batch)
            let gradient = try ones.withUnsafeBufferPointer { try critic.inputGradient(of: pass, samples: 0..<batch, seed: $0.baseAddress!) }.values
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
    }

    /// The probe's gradients against central differences of its own losses: weights of the input file
    /// moved by +-h, the probe evaluated again (`GradientProbe.evaluate`, what the tool runs), and
    /// (L(w+h) - L(w-h)) / 2h compared with the tool's grad.
    /// The penalty jumps where a LeakyReLU of the interpolates changes side (its input gradient does),
    /// and a step across such a kink gives a difference of order jump / 2h. So a difference counts only
    /// once it is stable: the same at h and h/2 (h from 1e-3 down to 6e-5), which a step across a kink is
    /// not; of each tensor the largest-gradient elements are tried until one is. Tolerance 3% of the
    /// difference plus an absolute part from the Float32 losses' rounding over 2h >= 1.25e-4: the critic
    /// loss (about 1-10) rounds at about 1e-6, so 1e-2; the generator loss (about 0.1) at about 1e-8, so
    /// 1e-4. Every gradient checked is over twice that, so that a wrong sign fails, and a wrong factor or
    /// a missing term moves it by far more.
    func testProbeGradientsMatchFiniteDifferencesOfItsLosses() throws {
        let checked: [(tensor: String, loss: String)] = [
            ("critic.conv1.weight", "loss.critic"), ("critic.conv2.weight", "loss.critic"), ("critic.conv2.bias", "loss.critic"),
            ("critic.conv3.weight", "loss.critic"), ("critic.fc.weight", "loss.critic"),
            ("critic.norm2.weight", "loss.critic"), ("critic.norm3.bias", "loss.critic"),
            ("generator.fc.weight", "loss.generator"), ("generator.bn0.weight", "loss.generator"),
            ("generator.up1.weight", "loss.generator"), ("generator.out.weight", "loss.generator"),
            ("generator.out.bias", "loss.generator"),
        ]
        let relative = 3e-2
        for norm in ModelConfiguration.CriticNorm.allCases {
            let (probe, _, _, _) = makeProbe(norm: norm, batch: 2)
            let directory = try ToolRunner.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let input = directory.appendingPathComponent("probe.safetensors").path
            let output = directory.appendingPathComponent("gradients.safetensors").path
            try probe.write(path: input)
            let result = try ToolRunner.run("train", ["probe", "--input", input, "--output", output, "--quiet", "--backend", "blas"])
            XCTAssertEqual(result.status, 0, result.standardError)
            let gradients = try Safetensors.read(path: output)
            var count = 0
            for (name, lossName) in checked where probe.tensors[name] != nil {
                let gradient = try XCTUnwrap(gradients.tensors["grad." + name], name).values
                let absolute = lossName == "loss.critic" ? 1e-2 : 1e-4
                func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= relative * abs(b) + absolute }
                func difference(_ index: Int, step: Float) throws -> Double {
                    func loss(moved offset: Float) throws -> Double {
                        var moved = probe
                        moved.tensors[name]!.values[index] += offset
                        return Double(try GradientProbe.evaluate(moved, path: input, backend: BLASBackend()).tensors[lossName]!.values[0])
                    }
                    return (try loss(moved: step) - loss(moved: -step)) / (2 * Double(step))
                }
                /// The difference at the largest step that agrees with the one at half of it.
                func stableDifference(_ index: Int) throws -> Double? {
                    for step: Float in [1e-3, 5e-4, 2.5e-4, 1.25e-4] {
                        let coarse = try difference(index, step: step), fine = try difference(index, step: step / 2)
                        if close(coarse, fine) { return fine }
                    }
                    return nil
                }
                let candidates = gradient.indices.sorted { abs(gradient[$0]) > abs(gradient[$1]) }.prefix(4)
                for index in candidates {
                    guard let numeric = try stableDifference(index) else { continue }
                    let analytic = Double(gradient[index])
                    XCTAssertTrue(close(analytic, numeric), "\(norm) \(name)[\(index)]: grad \(analytic), finite difference \(numeric)")
                    XCTAssertGreaterThan(abs(numeric), 2 * absolute, "\(norm) \(name): a gradient this small checks nothing")
                    count += 1
                    break
                }
            }
            XCTAssertEqual(count, norm == .layer ? checked.count : checked.count - 2, "\(norm): tensors with a stable difference")
        }
    }

    /// bf16 rounds every convolution and matmul operand to 8 significant bits (relative error 2^-9) and
    /// accumulates in fp32, so each layer adds a few 1e-3 of relative error, compounding through the
    /// forward, backward and dual passes. On this probe the norm-wise errors against fp32 measured up to
    /// 7.5e-3 for the losses and 4.6e-2 for a gradient tensor; the bounds are about 2.5x those, and PyTorch's own bf16 autocast has errors of the same
    /// size on the same computation (`bench/probe_pytorch.py --precision bf16` prints both). A layout or
    /// transposition mistake in the bf16 path gives errors of order 1, far outside them.
    func testBF16ProbeFollowsFP32() throws {
        guard OneDNNBackend.supportsBF16 else { throw XCTSkip("no bf16 on this CPU (\(OneDNNBackend.instructionSet))") }
        for norm in ModelConfiguration.CriticNorm.allCases {
            let (probe, _, _, _) = makeProbe(norm: norm, batch: 8)
            let directory = try ToolRunner.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let input = directory.appendingPathComponent("probe.safetensors").path
            try probe.write(path: input)
            var results = [String: Safetensors]()
            for precision in ["fp32", "bf16"] {
                let output = directory.appendingPathComponent("\(precision).safetensors").path
                let result = try ToolRunner.run("train", ["probe", "--input", input, "--output", output, "--quiet",
                                                          "--backend", "onednn", "--precision", precision])
                XCTAssertEqual(result.status, 0, result.standardError)
                results[precision] = try Safetensors.read(path: output)
            }
            let fp32 = results["fp32"]!, bf16 = results["bf16"]!
            var differs = false
            for (name, reference) in fp32.tensors.sorted(by: { $0.key < $1.key }) {
                let values = bf16.tensors[name]!.values
                var difference = 0.0, size = 0.0
                for (a, b) in zip(values, reference.values) {
                    difference += Double(a - b) * Double(a - b)
                    size += Double(b) * Double(b)
                }
                if difference > 0 { differs = true }
                // A loss near zero (the generator loss is minus a mean of scores of either sign) is
                // compared on the scale of the scores, 0.1 for these initial weights.
                let scale = name.hasPrefix("loss.") ? max(size, 0.01) : max(size, 1e-30)
                let relative = (difference / scale).squareRoot()
                let bound = name.hasPrefix("loss.") ? 2e-2 : 0.1
                print("bf16 vs fp32 \(norm) \(name): \(relative) (fp32 norm \(size.squareRoot()))")
                if name == "grad.critic.fc.bias" { continue }  // exactly zero: the critic loss is shift-invariant
                XCTAssertLessThanOrEqual(relative, bound, "\(norm) \(name)")
            }
            XCTAssertTrue(differs, "bf16 results are bitwise fp32: the bf16 kernels did not run")
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
