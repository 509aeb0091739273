@testable import FaceEngine
import TestSupport
import XCTest

/// The critic's layer normalization: forward against its definition, and backward, linearized
/// forward and dual backward (with the second-order term) against finite differences.
final class LayerNormTests: XCTestCase {
    let channels = 3, plane = 4, batch = 3

    func makeLayer(random: inout RandomGenerator) -> (LayerNorm, ParameterStore) {
        var layout = ParameterLayout()
        let norm = LayerNorm("norm", channels: channels, plane: plane, layout: &layout)
        let store = ParameterStore(layout)
        // Non-trivial scale and offset, so that a missing gamma in any term shows.
        store.set(norm.scale, GradientCheck.randomArray(channels, random: &random, scale: 0.5).map { $0 + 1 })
        store.set(norm.offset, GradientCheck.randomArray(channels, random: &random, scale: 0.5))
        return (norm, store)
    }

    func testForwardMatchesGroupNormDefinition() {
        var random = RandomGenerator(seed: 11)
        let (norm, store) = makeLayer(random: &random)
        let input = Tensor.random([batch, channels * plane], random: &random, scale: 2)
        let output = Tensor(shape: input.shape)
        var cache = LayerNorm.Cache()
        norm.forward(store, batch: batch, input: input.pointer, output: output.pointer, cache: &cache)
        let gamma = store.array(norm.scale), beta = store.array(norm.offset)
        for sample in 0..<batch {
            let values = (0..<(channels * plane)).map { Double(input[sample * channels * plane + $0]) }
            let mean = values.reduce(0, +) / Double(values.count)
            let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
            for index in values.indices {
                let expected = (values[index] - mean) / (variance + 1e-5).squareRoot() * Double(gamma[index / plane])
                    + Double(beta[index / plane])
                XCTAssertEqual(Double(output[sample * channels * plane + index]), expected, accuracy: 1e-5)
            }
        }
    }

    func testBackwardMatchesFiniteDifferences() {
        var random = RandomGenerator(seed: 12)
        let (norm, store) = makeLayer(random: &random)
        let input = Tensor.random([batch, channels * plane], random: &random)
        let output = Tensor(shape: input.shape)
        let weights = GradientCheck.randomArray(output.count, random: &random)
        var cache = LayerNorm.Cache()
        func loss() -> Double {
            var scratch = LayerNorm.Cache()
            norm.forward(store, batch: batch, input: input.pointer, output: output.pointer, cache: &scratch)
            return GradientCheck.weightedSum(output.pointer, weights)
        }
        let statistics = norm.forward(store, batch: batch, input: input.pointer, output: output.pointer, cache: &cache)
        let outputGradient = Tensor(shape: [output.count], values: weights)
        let inputGradient = Tensor(shape: input.shape)
        store.zeroGradients()
        norm.backward(store, outputGradient: outputGradient.pointer, inputGradient: inputGradient.pointer, statistics: statistics)
        GradientCheck.assertClose(GradientCheck.directional(values: input.pointer, count: input.count,
                                                            analytic: inputGradient.array, step: 1e-3, loss: loss),
                                  relative: 2e-3, absolute: 1e-4, "input")
        for slot in [norm.scale, norm.offset] {
            GradientCheck.assertClose(GradientCheck.directional(values: store.value(slot), count: slot.count,
                                                                analytic: store.gradientArray(slot), step: 1e-3, loss: loss),
                                      relative: 2e-3, absolute: 1e-4, slot.name)
        }
    }

    func testLinearizedForwardIsTheDirectionalDerivative() {
        var random = RandomGenerator(seed: 13)
        let (norm, store) = makeLayer(random: &random)
        let input = Tensor.random([batch, channels * plane], random: &random)
        let tangent = Tensor.random([batch - 1, channels * plane], random: &random)
        var cache = LayerNorm.Cache(), tangentCache = LayerNorm.TangentCache()
        let output = Tensor(shape: input.shape)
        let statistics = norm.forward(store, batch: batch, input: input.pointer, output: output.pointer, cache: &cache)
        let tangentOutput = Tensor(shape: tangent.shape)
        norm.linearizedForward(store, tangent: tangent.pointer, tangentOutput: tangentOutput.pointer,
                               statistics: statistics.samples(1..<batch), tangentCache: &tangentCache)
        // Central difference of the forward along the tangent, sample by sample, in Double of Float evaluations.
        let step: Float = 1e-3
        func shifted(_ sign: Float) -> [Float] {
            let moved = input.clone()
            for index in 0..<tangent.count { moved[channels * plane + index] += sign * step * tangent[index] }
            let result = Tensor(shape: input.shape)
            var scratch = LayerNorm.Cache()
            norm.forward(store, batch: batch, input: moved.pointer, output: result.pointer, cache: &scratch)
            return result.array
        }
        let plus = shifted(1), minus = shifted(-1)
        for index in 0..<tangent.count {
            let numeric = (Double(plus[channels * plane + index]) - Double(minus[channels * plane + index])) / (2 * Double(step))
            XCTAssertEqual(Double(tangentOutput[index]), numeric, accuracy: 2e-3 * max(1, abs(numeric)), "index \(index)")
        }
    }

    /// S = sum over samples <Y0, y(x)> + <Y'0, y'(x; x')>, with Y0 zero on the last sample (as on the
    /// penalty's samples above the critic's first norm). The dual backward must give dS/dx, dS/dx',
    /// dS/dgamma and dS/dbeta: the x part includes the second-order term (how the Jacobian moves with
    /// x), which only a correct formula gets right.
    func testDualBackwardMatchesFiniteDifferences() {
        var random = RandomGenerator(seed: 14)
        let (norm, store) = makeLayer(random: &random)
        let n = channels * plane
        let live = 2
        let input = Tensor.random([batch, n], random: &random)
        let tangent = Tensor.random([batch, n], random: &random)
        let primalSeed = GradientCheck.randomArray(live * n, random: &random) + [Float](repeating: 0, count: (batch - live) * n)
        let tangentSeed = GradientCheck.randomArray(batch * n, random: &random)
        func objective() -> Double {
            var cache = LayerNorm.Cache(), tangentCache = LayerNorm.TangentCache()
            let output = Tensor(shape: input.shape), tangentOutput = Tensor(shape: tangent.shape)
            let statistics = norm.forward(store, batch: batch, input: input.pointer, output: output.pointer, cache: &cache)
            norm.linearizedForward(store, tangent: tangent.pointer, tangentOutput: tangentOutput.pointer,
                                   statistics: statistics, tangentCache: &tangentCache)
            return GradientCheck.weightedSum(output.pointer, primalSeed) + GradientCheck.weightedSum(tangentOutput.pointer, tangentSeed)
        }
        var cache = LayerNorm.Cache(), tangentCache = LayerNorm.TangentCache()
        let output = Tensor(shape: input.shape), tangentOutput = Tensor(shape: tangent.shape)
        let statistics = norm.forward(store, batch: batch, input: input.pointer, output: output.pointer, cache: &cache)
        let tangentStatistics = norm.linearizedForward(store, tangent: tangent.pointer, tangentOutput: tangentOutput.pointer,
                                                       statistics: statistics, tangentCache: &tangentCache)
        let outputGradient = Tensor(shape: [batch * n], values: primalSeed)
        let tangentOutputGradient = Tensor(shape: [batch * n], values: tangentSeed)
        let inputGradient = Tensor(shape: input.shape), tangentInputGradient = Tensor(shape: tangent.shape)
        store.zeroGradients()
        norm.dualBackward(store, outputGradient: outputGradient.pointer, tangentOutputGradient: tangentOutputGradient.pointer,
                          inputGradient: inputGradient.pointer, tangentInputGradient: tangentInputGradient.pointer,
                          statistics: statistics, tangentStatistics: tangentStatistics)
        GradientCheck.assertClose(GradientCheck.directional(values: input.pointer, count: input.count,
                                                            analytic: inputGradient.array, step: 1e-3, loss: objective),
                                  relative: 3e-3, absolute: 2e-4, "primal input")
        GradientCheck.assertClose(GradientCheck.directional(values: tangent.pointer, count: tangent.count,
                                                            analytic: tangentInputGradient.array, step: 1e-3, loss: objective),
                                  relative: 3e-3, absolute: 2e-4, "tangent input")
        for slot in [norm.scale, norm.offset] {
            GradientCheck.assertClose(GradientCheck.directional(values: store.value(slot), count: slot.count,
                                                                analytic: store.gradientArray(slot), step: 1e-3, loss: objective),
                                      relative: 3e-3, absolute: 2e-4, slot.name)
        }
        // Coordinate checks on the sample with both a tangent and a zero primal seed: its input gradient
        // is the second-order term alone.
        for index in [2 * n, 2 * n + 5, 3 * n - 1] {
            let original = input[index]
            input[index] = original + 1e-3
            let plus = objective()
            input[index] = original - 1e-3
            let minus = objective()
            input[index] = original
            let numeric = (plus - minus) / 2e-3
            XCTAssertEqual(Double(inputGradient[index]), numeric, accuracy: 3e-3 * max(1, abs(numeric)), "x[\(index)]")
            XCTAssertGreaterThan(abs(numeric), 1e-3, "the second-order term should be visible at x[\(index)]")
        }
    }

    /// Every pass in NHWC against the same pass in NCHW on the same data (inputs converted, outputs
    /// converted back): outputs, what the passes keep, input gradients and parameter gradients, at
    /// several shapes and one and two threads. The linearized forward runs on a sub-batch of the
    /// statistics (samples 1..<N), so that the per-sample offsets count too.
    func testChannelsLastMatchesChannelsFirst() {
        defer { Parallel.setThreadCount(System.coreCount) }
        var random = RandomGenerator(seed: 15)
        for (channels, plane, batch) in LayoutComparison.shapes {
            let n = channels * plane, count = batch * n
            let gamma = GradientCheck.randomArray(channels, random: &random, scale: 0.5).map { $0 + 1 }
            let beta = GradientCheck.randomArray(channels, random: &random, scale: 0.5)
            // Per-channel means and spreads, so that a value normalized or scaled with another
            // channel's gamma shows.
            let input = GradientCheck.randomArray(count, random: &random).enumerated().map { index, value in
                let c = (index / plane) % channels
                return Float(c % 5) - 2 + Float(1 + c % 3) * value
            }
            let outputGradient = GradientCheck.randomArray(count, random: &random)
            let tangent = GradientCheck.randomArray(count, random: &random)
            let tangentOutputGradient = GradientCheck.randomArray(count, random: &random)
            for threads in [1, 2] {
                Parallel.setThreadCount(threads)
                let label = "C \(channels) P \(plane) N \(batch) threads \(threads)"
                let first = runAllPasses(.channelsFirst, channels: channels, plane: plane, batch: batch, gamma: gamma, beta: beta,
                                         input: input, outputGradient: outputGradient, tangent: tangent,
                                         tangentOutputGradient: tangentOutputGradient)
                let last = runAllPasses(.channelsLast, channels: channels, plane: plane, batch: batch, gamma: gamma, beta: beta,
                                        input: input, outputGradient: outputGradient, tangent: tangent,
                                        tangentOutputGradient: tangentOutputGradient)
                for (name, value) in first.arrays {
                    // m = mean(h*x') of O(1) products (h has unit spread per sample, x' is standard
                    // normal) that cancel to ~n^-1/2: measured against the products, not against m.
                    let scale: Double? = name.hasSuffix("projection") ? 1 : nil
                    LayoutComparison.assertClose(last.arrays[name]!, value, scale: scale, "\(label) \(name)")
                }
                XCTAssertEqual(last.inPlaceOutput, last.arrays["output"]!, "\(label) in-place forward")
                XCTAssertEqual(last.dualInputGradientWithoutTangent, last.arrays["dual input gradient"]!,
                               "\(label) dual backward without X'")
            }
        }
    }

    struct PassResults {
        /// Activation-shaped values in NCHW, per-sample and per-channel values as they are.
        var arrays: [String: [Float]] = [:]
        var inPlaceOutput: [Float] = []
        var dualInputGradientWithoutTangent: [Float] = []
    }

    /// forward (and in place), backward, linearizedForward on samples 1..<N, dualBackward with and
    /// without X', on NCHW data converted to `layout`.
    func runAllPasses(_ layout: ActivationLayout, channels: Int, plane: Int, batch: Int, gamma: [Float], beta: [Float],
                      input: [Float], outputGradient: [Float], tangent: [Float], tangentOutputGradient: [Float]) -> PassResults {
        var parameterLayout = ParameterLayout()
        let norm = LayerNorm("norm", channels: channels, plane: plane, layout: &parameterLayout, activationLayout: layout)
        XCTAssertEqual(norm.activationLayout, layout)
        let store = ParameterStore(parameterLayout)
        store.set(norm.scale, gamma)
        store.set(norm.offset, beta)
        let n = channels * plane
        func tensor(_ values: [Float], batch: Int = batch) -> Tensor {
            Tensor(shape: [batch, n], values: LayoutComparison.converted(values, to: layout, batch: batch, channels: channels,
                                                                         plane: plane))
        }
        func back(_ pointer: UnsafePointer<Float>, batch: Int = batch) -> [Float] {
            LayoutComparison.channelsFirst(Array(UnsafeBufferPointer(start: pointer, count: batch * n)), from: layout,
                                           batch: batch, channels: channels, plane: plane)
        }
        var results = PassResults()
        let x = tensor(input), y = Tensor(shape: [batch, n])
        var cache = LayerNorm.Cache()
        let statistics = norm.forward(store, batch: batch, input: x.pointer, output: y.pointer, cache: &cache)
        results.arrays["output"] = back(y.pointer)
        results.arrays["h"] = back(statistics.h(itemSize: n))
        results.arrays["r"] = Array(UnsafeBufferPointer(start: statistics.r, count: batch))
        let inPlace = x.clone()
        var inPlaceCache = LayerNorm.Cache()
        norm.forward(store, batch: batch, input: inPlace.pointer, output: inPlace.pointer, cache: &inPlaceCache)
        results.inPlaceOutput = back(inPlace.pointer)

        let dy = tensor(outputGradient), dx = Tensor(shape: [batch, n])
        store.zeroGradients()
        norm.backward(store, outputGradient: dy.pointer, inputGradient: dx.pointer, statistics: statistics)
        results.arrays["input gradient"] = back(dx.pointer)
        results.arrays["scale gradient"] = store.gradientArray(norm.scale)
        results.arrays["offset gradient"] = store.gradientArray(norm.offset)

        // Samples 1..<N of the NCHW tangent, converted as a batch of N - 1.
        let sub = batch - 1
        let subTangent = tensor(Array(tangent[n...]), batch: sub), subTangentOutput = Tensor(shape: [sub, n])
        var subTangentCache = LayerNorm.TangentCache()
        let subTangentStatistics = norm.linearizedForward(store, tangent: subTangent.pointer, tangentOutput: subTangentOutput.pointer,
                                                          statistics: statistics.samples(1..<batch), tangentCache: &subTangentCache)
        results.arrays["sub-batch tangent output"] = back(subTangentOutput.pointer, batch: sub)
        results.arrays["sub-batch centered tangent"] = back(subTangentStatistics.centeredTangent.pointer, batch: sub)
        results.arrays["sub-batch h'"] = back(subTangentStatistics.normalizedTangent.pointer, batch: sub)
        results.arrays["sub-batch projection"] = subTangentStatistics.projection.array

        let xp = tensor(tangent), yp = Tensor(shape: [batch, n])
        var tangentCache = LayerNorm.TangentCache()
        let tangentStatistics = norm.linearizedForward(store, tangent: xp.pointer, tangentOutput: yp.pointer,
                                                       statistics: statistics, tangentCache: &tangentCache)
        results.arrays["tangent output"] = back(yp.pointer)
        let dyp = tensor(tangentOutputGradient), dualDx = Tensor(shape: [batch, n]), dualDxp = Tensor(shape: [batch, n])
        store.zeroGradients()
        norm.dualBackward(store, outputGradient: dy.pointer, tangentOutputGradient: dyp.pointer, inputGradient: dualDx.pointer,
                          tangentInputGradient: dualDxp.pointer, statistics: statistics, tangentStatistics: tangentStatistics)
        results.arrays["dual input gradient"] = back(dualDx.pointer)
        results.arrays["dual tangent input gradient"] = back(dualDxp.pointer)
        results.arrays["dual scale gradient"] = store.gradientArray(norm.scale)
        results.arrays["dual offset gradient"] = store.gradientArray(norm.offset)
        let alone = Tensor(shape: [batch, n])
        norm.dualBackward(store, outputGradient: dy.pointer, tangentOutputGradient: dyp.pointer, inputGradient: alone.pointer,
                          tangentInputGradient: nil, statistics: statistics, tangentStatistics: tangentStatistics)
        results.dualInputGradientWithoutTangent = back(alone.pointer)
        return results
    }
}
