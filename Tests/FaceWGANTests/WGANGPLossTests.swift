import FaceEngine
@testable import FaceWGAN
import TestSupport
import XCTest

/// The whole WGAN-GP losses against central finite differences, on small networks
/// (size 32, width 4, z-dim 8, batch 2), every parameter tensor of both networks.
///
/// Precision: Float32 networks, directional central differences along a random unit direction per
/// tensor. The penalty is only piecewise smooth (its value jumps when a LeakyReLU or ReLU changes side),
/// so fixtures keep every activation 1e-5 away from its kink, and each difference is taken with a step
/// (from 1e-2, divided by 4 as needed) that leaves every activation on its side at both ends.
/// Tolerance 2% of the directional derivative plus 2e-3 absolute (Float rounding inside a loss of
/// order 10 over a step down to 4e-5): a factor, a sign or a missing second-order term moves it by far more.
/// Every test runs on each fp32 backend, with the same tolerances.
final class WGANGPLossTests: XCTestCase {
    let batch = 2
    let relative = 2e-2, absolute = 2e-3

    struct Fixture {
        let loss: WGANGPLoss
        let real: Tensor
        let fake: Tensor
        let t: Tensor
        let z: Tensor
    }

    func makeFixture(norm: ModelConfiguration.CriticNorm, seed: UInt64, backend: ComputeBackend) -> Fixture {
        let configuration = ModelConfiguration(imageSize: 32, width: 4, latentDimension: 8, criticNorm: norm)
        let generator = Generator(configuration, backend: backend)
        let critic = Critic(configuration, backend: backend)
        var random = RandomGenerator(seed: seed)
        generator.initialize(random: &random)
        critic.initialize(random: &random)
        GradientCheck.perturbNormalizations(critic.parameters, random: &random)
        let real = Tensor(shape: [batch, 3, 32, 32])
        random.fillUniform(real.buffer, low: -1, high: 1)
        let z = Tensor.random([batch, 8], random: &random)
        let fake = try! generator.forward(latents: z.pointer, count: batch, mode: .training(updateRunningStatistics: false)).clone()
        let t = Tensor(shape: [batch])
        random.fillUniform(t.buffer)
        let fixture = Fixture(loss: WGANGPLoss(generator: generator, critic: critic, lambda: 10), real: real, fake: fake, t: t, z: z)
        // Keep every activation at least 1e-5 from its kink, so that small steps cannot cross one;
        // draw the next seed's fixture otherwise (a property of the random draw, not of the code;
        // about half of the draws qualify).
        _ = criticTerms(fixture)
        let margin = (critic.activationValues() + generator.activationValues()).map(abs).min()!
        if margin >= 1e-5 { return fixture }
        precondition(seed < 100_000, "no fixture keeps its activations away from the kinks")
        return makeFixture(norm: norm, seed: seed + 1000, backend: backend)
    }

    /// A directional difference whose step leaves every activation of both networks on its side.
    func smoothDirectional(_ fixture: Fixture, values: UnsafeMutablePointer<Float>, count: Int, analytic: [Float],
                           loss: @escaping () -> Double) -> (numeric: Double, analytic: Double) {
        let critic = fixture.loss.critic, generator = fixture.loss.generator
        return GradientCheck.directionalKeepingPattern(
            values: values, count: count, analytic: analytic,
            pattern: { (critic.activationValues() + generator.activationValues()).map { $0 > 0 } }, loss: loss)
    }

    func criticTerms(_ fixture: Fixture) -> CriticLossTerms {
        try! fixture.loss.criticLossAndGradients(real: fixture.real.pointer, fake: fixture.fake.pointer,
                                            interpolation: fixture.t.pointer, batch: batch)
    }

    func testCriticLossGradientMatchesFiniteDifferences() {
        for backend in TestBackends.fp32() {
            for norm in ModelConfiguration.CriticNorm.allCases {
                let fixture = makeFixture(norm: norm, seed: 21, backend: backend)
                let critic = fixture.loss.critic
                _ = criticTerms(fixture)
                let gradients = critic.parameters.gradients.clone()
                for slot in critic.parameters.slots {
                    let analytic = Array(UnsafeBufferPointer(start: gradients.pointer + slot.offset, count: slot.count))
                    let result = smoothDirectional(fixture, values: critic.parameters.value(slot), count: slot.count,
                                                   analytic: analytic) { Double(self.criticTerms(fixture).loss) }
                    GradientCheck.assertClose(result, relative: relative, absolute: absolute,
                                              "\(backend.name) \(norm) critic \(slot.name)")
                }
            }
        }
    }

    /// The penalty term alone: total gradient minus the Wasserstein part's plain backward.
    func penaltyGradient(_ fixture: Fixture) -> Tensor {
        let critic = fixture.loss.critic
        _ = criticTerms(fixture)
        let total = critic.parameters.gradients.clone()
        // Wasserstein part: seeds -1/B (real), +1/B (fake) through an ordinary backward of the same batch.
        let input = critic.inputBuffer(batch: 2 * batch)
        let item = critic.configuration.imageItemSize
        input.pointer.update(from: fixture.real.pointer, count: batch * item)
        (input.pointer + batch * item).update(from: fixture.fake.pointer, count: batch * item)
        let pass = try! critic.forward(batch: 2 * batch)
        let seeds = Tensor(shape: [2 * batch], values: [Float](repeating: -1 / Float(batch), count: batch)
            + [Float](repeating: 1 / Float(batch), count: batch))
        critic.parameters.zeroGradients()
        try! critic.dualBackward(pass, primalSeed: seeds.pointer, seededSamples: 2 * batch)
        for index in 0..<total.count { total[index] -= critic.parameters.gradients[index] }
        return total
    }

    func testPenaltyGradientWithoutNormalizationLeavesBiasesAlone() {
        for backend in TestBackends.fp32() {
            let fixture = makeFixture(norm: .none, seed: 22, backend: backend)
            let penalty = penaltyGradient(fixture)
            let critic = fixture.loss.critic
            let weightScale = critic.parameters.slots.filter { $0.name.hasSuffix("weight") }.map { slot in
                (0..<slot.count).map { abs(penalty[slot.offset + $0]) }.max()!
            }.max()!
            XCTAssertGreaterThan(weightScale, 1e-3, "\(backend.name): the penalty should move the weights")
            for slot in critic.parameters.slots where slot.name.hasSuffix("bias") {
                for index in 0..<slot.count {
                    // Exactly zero in exact arithmetic; here the difference of two Float sums of O(1) terms.
                    XCTAssertEqual(penalty[slot.offset + index], 0, accuracy: 1e-5 * max(1, weightScale),
                                   "\(backend.name) \(slot.name)")
                }
            }
        }
    }

    func testPenaltyGradientMatchesFiniteDifferencesForBothCritics() {
        for backend in TestBackends.fp32() {
            for norm in ModelConfiguration.CriticNorm.allCases {
                let fixture = makeFixture(norm: norm, seed: 23, backend: backend)
                let critic = fixture.loss.critic
                let penalty = penaltyGradient(fixture)
                var checked = 0
                for slot in critic.parameters.slots {
                    let analytic = Array(UnsafeBufferPointer(start: penalty.pointer + slot.offset, count: slot.count))
                    if norm == .none && slot.name.hasSuffix("bias") { continue }  // zero, checked above
                    let result = smoothDirectional(fixture, values: critic.parameters.value(slot), count: slot.count,
                                                   analytic: analytic) { Double(self.criticTerms(fixture).penalty) }
                    GradientCheck.assertClose(result, relative: relative, absolute: absolute,
                                              "\(backend.name) \(norm) penalty \(slot.name)")
                    checked += 1
                }
                XCTAssertGreaterThanOrEqual(checked, norm == .layer ? 8 : 4, backend.name)
            }
        }
    }

    func testGeneratorLossGradientMatchesFiniteDifferences() {
        for backend in TestBackends.fp32() {
            for norm in ModelConfiguration.CriticNorm.allCases {
                let fixture = makeFixture(norm: norm, seed: 24, backend: backend)
                let generator = fixture.loss.generator
                func generatorLoss() -> Double {
                    let fake = try! generator.forward(latents: fixture.z.pointer, count: batch,
                                                 mode: .training(updateRunningStatistics: false))
                    return Double(try! fixture.loss.generatorLossAndGradients(fake: fake.pointer, batch: batch))
                }
                _ = generatorLoss()
                let gradients = generator.parameters.gradients.clone()
                for slot in generator.parameters.slots {
                    let analytic = Array(UnsafeBufferPointer(start: gradients.pointer + slot.offset, count: slot.count))
                    let result = smoothDirectional(fixture, values: generator.parameters.value(slot), count: slot.count,
                                                   analytic: analytic, loss: generatorLoss)
                    GradientCheck.assertClose(result, relative: relative, absolute: absolute,
                                              "\(backend.name) \(norm) generator \(slot.name)")
                }
            }
        }
    }

    func testLossTermsMatchTheirDefinitions() {
        for backend in TestBackends.fp32() {
            let fixture = makeFixture(norm: .layer, seed: 25, backend: backend)
            let terms = criticTerms(fixture)
            let critic = fixture.loss.critic
            let item = critic.configuration.imageItemSize
            // Recompute W with separate forwards, and the penalty from finite-difference input gradients.
            func scores(_ images: UnsafePointer<Float>) -> [Float] {
                critic.inputBuffer(batch: batch).pointer.update(from: images, count: batch * item)
                return try! critic.forward(batch: batch).scores.array
            }
            let realScores = scores(fixture.real.pointer), fakeScores = scores(fixture.fake.pointer)
            let wasserstein = (realScores.reduce(0, +) - fakeScores.reduce(0, +)) / Float(batch)
            XCTAssertEqual(terms.wasserstein, Double(wasserstein), accuracy: 1e-5 * max(1, abs(Double(wasserstein))), backend.name)
            let interpolates = Tensor(shape: fixture.real.shape)
            for sample in 0..<batch {
                let t = fixture.t[sample]
                for index in 0..<item {
                    let position = sample * item + index
                    interpolates[position] = t * fixture.real[position] + (1 - t) * fixture.fake[position]
                }
            }
            critic.inputBuffer(batch: batch).copy(from: interpolates)
            let pass = try! critic.forward(batch: batch)
            let ones = Tensor(shape: [batch], values: [Float](repeating: 1, count: batch))
            let gradient = try! critic.inputGradient(of: pass, samples: 0..<batch, seed: ones.pointer).values
            var penalty: Float = 0
            for sample in 0..<batch {
                var squares: Float = 0
                for index in 0..<item { squares += gradient[sample * item + index] * gradient[sample * item + index] }
                penalty += (squares.squareRoot() - 1) * (squares.squareRoot() - 1)
            }
            XCTAssertEqual(terms.penalty, Double(10 * penalty / Float(batch)), accuracy: 1e-4 * max(1, terms.penalty), backend.name)
            XCTAssertEqual(terms.loss, terms.penalty - terms.wasserstein, accuracy: 1e-6, backend.name)
        }
    }
}
