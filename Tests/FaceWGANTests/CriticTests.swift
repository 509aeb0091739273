import FaceEngine
@testable import FaceWGAN
import TestSupport
import XCTest

/// The critic's passes on their own, without the generator or the loss: input gradient, linearized
/// forward and dual backward against central finite differences, both critic variants, every fp32
/// backend (size 32, width 4; 2 seeded samples followed by 2 penalty samples, as the loss lays out
/// real + fake and interpolates).
///
/// The objective is the penalty through the critic alone,
///   L(theta) = sum_{i < 2} a_i D(x_i) + lambda / P * sum_j (||grad_x D(x_j)|| - 1)^2,
/// its finite differences computed from `inputGradient` only, its analytic gradient by the
/// forward-over-reverse chain. Tolerances and kink handling as in WGANGPLossTests (2% relative plus
/// 2e-3 absolute, steps that leave every LeakyReLU on its side).
final class CriticTests: XCTestCase {
    let seeded = 2, penaltyCount = 2
    let lambda: Float = 10
    let relative = 2e-2, absolute = 2e-3
    var batch: Int { seeded + penaltyCount }
    var penaltySamples: Range<Int> { seeded..<batch }

    struct Fixture {
        let critic: Critic
        let images: Tensor
        let primalSeed: [Float]
    }

    /// A critic and images whose every LeakyReLU input is at least 1e-4 from its kink (a property of the
    /// random draw, not of the code: a few percent of draws qualify, so seeds are tried in turn), so
    /// that a finite-difference step of 5e-5 along a unit direction cannot cross one.
    func makeFixture(norm: ModelConfiguration.CriticNorm, seed: UInt64, backend: ComputeBackend) -> Fixture {
        let configuration = ModelConfiguration(imageSize: 32, width: 4, latentDimension: 8, criticNorm: norm)
        for attempt in 0..<2_000 as Range<UInt64> {
            let critic = Critic(configuration, backend: backend)
            var random = RandomGenerator(seed: seed &+ attempt &* 1000)
            critic.initialize(random: &random)
            GradientCheck.perturbNormalizations(critic.parameters, random: &random)
            let images = Tensor(shape: [batch, 3, 32, 32])
            random.fillUniform(images.buffer, low: -1, high: 1)
            let fixture = Fixture(critic: critic, images: images, primalSeed: GradientCheck.randomArray(seeded, random: &random))
            _ = forward(fixture)
            let margin = critic.activationValues().map { $0 > 0 ? $0 : -$0 / LeakyReLU.negativeSlope }.min()!
            if margin >= 1e-4 { return fixture }
        }
        preconditionFailure("no fixture keeps its activations away from the kinks")
    }

    func forward(_ fixture: Fixture) -> Critic.ForwardPass {
        fixture.critic.inputBuffer(batch: batch).copy(from: fixture.images)
        return try! fixture.critic.forward(batch: batch)
    }

    func signs(_ fixture: Fixture) -> [Bool] { fixture.critic.activationValues().map { $0 > 0 } }

    /// The per-sample input gradients of the penalty samples, [P, 3, S, S], and their norms.
    func penaltyGradients(_ fixture: Fixture, _ pass: Critic.ForwardPass) -> (Critic.InputGradient, [Double]) {
        let ones = [Float](repeating: 1, count: penaltyCount)
        let gradient = try! ones.withUnsafeBufferPointer {
            try fixture.critic.inputGradient(of: pass, samples: penaltySamples, seed: $0.baseAddress!)
        }
        let item = fixture.critic.configuration.imageItemSize
        let norms = (0..<penaltyCount).map { sample in
            (0..<item).reduce(0.0) { $0 + Double(gradient.values[sample * item + $1]) * Double(gradient.values[sample * item + $1]) }
                .squareRoot()
        }
        return (gradient, norms)
    }

    func objective(_ fixture: Fixture) -> Double {
        let pass = forward(fixture)
        let seededScore = (0..<seeded).reduce(0.0) { $0 + Double(fixture.primalSeed[$1]) * Double(pass.scores[$1]) }
        let (_, norms) = penaltyGradients(fixture, pass)
        return seededScore + Double(lambda) / Double(penaltyCount) * norms.reduce(0) { $0 + ($1 - 1) * ($1 - 1) }
    }

    /// dL/dtheta by forward-over-reverse, into the critic's gradients.
    func analyticGradient(_ fixture: Fixture) -> Tensor {
        let critic = fixture.critic
        let pass = forward(fixture)
        let (gradient, norms) = penaltyGradients(fixture, pass)
        let item = critic.configuration.imageItemSize
        let tangent = critic.tangentBuffer(count: penaltyCount)
        for sample in 0..<penaltyCount {
            let scale = Float(Double(lambda) * 2 * (norms[sample] - 1) / (Double(penaltyCount) * norms[sample]))
            for index in 0..<item { tangent[sample * item + index] = scale * gradient.values[sample * item + index] }
        }
        let tangentPass = try! critic.linearizedForward(at: pass, samples: penaltySamples)
        critic.parameters.zeroGradients()
        try! fixture.primalSeed.withUnsafeBufferPointer {
            try critic.dualBackward(pass, primalSeed: $0.baseAddress!, seededSamples: seeded,
                                    penalty: (gradient: gradient, tangent: tangentPass))
        }
        return critic.parameters.gradients.clone()
    }

    /// Every parameter tensor's `gradients` against kink-aware directional differences of `loss`.
    func assertParameterGradients(_ fixture: Fixture, _ gradients: Tensor, _ label: String, loss: @escaping () -> Double,
                                  file: StaticString = #filePath, line: UInt = #line) {
        let parameters = fixture.critic.parameters
        for slot in parameters.slots {
            let analytic = Array(UnsafeBufferPointer(start: gradients.pointer + slot.offset, count: slot.count))
            let result = GradientCheck.directionalKeepingPattern(
                values: parameters.value(slot), count: slot.count, analytic: analytic,
                pattern: { self.signs(fixture) }, loss: loss, file: file, line: line)
            GradientCheck.assertClose(result, relative: relative, absolute: absolute, "\(label) \(slot.name)", file: file, line: line)
        }
    }

    func testDualBackwardGivesThePenaltyGradient() {
        for backend in TestBackends.fp32() {
            for norm in ModelConfiguration.CriticNorm.allCases {
                let fixture = makeFixture(norm: norm, seed: 31, backend: backend)
                assertParameterGradients(fixture, analyticGradient(fixture), "\(backend.name) \(norm)") { self.objective(fixture) }
            }
        }
    }

    /// Without a penalty the dual backward is the ordinary backward of the seeded scores; the biases
    /// then get gradients (with the penalty alone and no normalization they get none).
    func testDualBackwardWithoutPenaltyIsTheBackwardOfTheSeededScores() {
        for backend in TestBackends.fp32() {
            for norm in ModelConfiguration.CriticNorm.allCases {
                let fixture = makeFixture(norm: norm, seed: 32, backend: backend)
                let critic = fixture.critic
                func seededScores() -> Double {
                    let pass = forward(fixture)
                    return (0..<seeded).reduce(0.0) { $0 + Double(fixture.primalSeed[$1]) * Double(pass.scores[$1]) }
                }
                let pass = forward(fixture)
                critic.parameters.zeroGradients()
                try! fixture.primalSeed.withUnsafeBufferPointer {
                    try critic.dualBackward(pass, primalSeed: $0.baseAddress!, seededSamples: seeded)
                }
                assertParameterGradients(fixture, critic.parameters.gradients.clone(), "\(backend.name) \(norm)", loss: seededScores)
            }
        }
    }

    func testInputGradientMatchesFiniteDifferences() {
        for backend in TestBackends.fp32() {
            for norm in ModelConfiguration.CriticNorm.allCases {
                let fixture = makeFixture(norm: norm, seed: 33, backend: backend)
                let item = fixture.critic.configuration.imageItemSize
                var random = RandomGenerator(seed: 5)
                let seed = GradientCheck.randomArray(penaltyCount, random: &random)
                func seededPenaltyScores() -> Double {
                    let pass = forward(fixture)
                    return penaltySamples.enumerated().reduce(0.0) { $0 + Double(seed[$1.offset]) * Double(pass.scores[$1.element]) }
                }
                let pass = forward(fixture)
                let gradient = try! seed.withUnsafeBufferPointer {
                    try fixture.critic.inputGradient(of: pass, samples: penaltySamples, seed: $0.baseAddress!)
                }
                XCTAssertEqual(gradient.values.shape, [penaltyCount, 3, 32, 32])
                let result = GradientCheck.directionalKeepingPattern(
                    values: fixture.images.pointer + seeded * item, count: penaltyCount * item, analytic: gradient.values.array,
                    pattern: { self.signs(fixture) }, loss: seededPenaltyScores)
                GradientCheck.assertClose(result, relative: relative, absolute: absolute, "\(backend.name) \(norm) input")
            }
        }
    }

    /// The linearized forward's output is the directional derivative <grad D(x_j), v_j>: against
    /// finite differences of D along v_j, and against the input gradient (forward mode = reverse mode).
    func testLinearizedForwardIsTheDirectionalDerivative() {
        for backend in TestBackends.fp32() {
            for norm in ModelConfiguration.CriticNorm.allCases {
                let fixture = makeFixture(norm: norm, seed: 34, backend: backend)
                let critic = fixture.critic
                let item = critic.configuration.imageItemSize
                var random = RandomGenerator(seed: 6)
                // A unit direction per sample, so that the smallest step moves each image by 5e-5.
                let direction = (0..<penaltyCount).flatMap { _ in GradientCheck.randomDirection(item, random: &random) }
                let pass = forward(fixture)
                let (gradient, _) = penaltyGradients(fixture, pass)
                critic.tangentBuffer(count: penaltyCount).pointer.update(from: direction, count: direction.count)
                let derivatives = try! critic.linearizedForward(at: pass, samples: penaltySamples).derivatives.array
                let base = signs(fixture)
                for sample in 0..<penaltyCount {
                    let reverse = (0..<item).reduce(0.0) {
                        $0 + Double(gradient.values[sample * item + $1]) * Double(direction[sample * item + $1])
                    }
                    XCTAssertEqual(Double(derivatives[sample]), reverse, accuracy: 1e-4 * max(1, abs(reverse)), "\(backend.name) \(norm)")
                    let image = fixture.images.pointer + (seeded + sample) * item
                    let original = Array(UnsafeBufferPointer(start: image, count: item))
                    var kept = true
                    func score(_ step: Float) -> Double {
                        for index in 0..<item { image[index] = original[index] + step * direction[sample * item + index] }
                        let value = Double(forward(fixture).scores[seeded + sample])
                        if signs(fixture) != base { kept = false }
                        return value
                    }
                    var step: Float = 1e-2, numeric = 0.0
                    repeat {
                        kept = true
                        numeric = (score(step) - score(-step)) / (2 * Double(step))
                        step /= 4
                    } while !kept && step >= 5e-5
                    image.update(from: original, count: item)
                    XCTAssert(kept, "no step keeps the activations on their side")
                    XCTAssertEqual(Double(derivatives[sample]), numeric, accuracy: relative * abs(numeric) + absolute,
                                   "\(backend.name) \(norm) sample \(sample)")
                }
            }
        }
    }
}
