@testable import FaceEngine
import TestSupport
import XCTest

/// The generator's batch normalization with PyTorch's semantics: training normalizes with batch
/// statistics and moves the running ones (momentum 0.1, unbiased variance); evaluation uses the
/// running statistics; backward includes the batch statistics' dependence on the input.
final class BatchNorm2dTests: XCTestCase {
    let channels = 3, plane = 4, batch = 3

    func makeLayer(random: inout RandomGenerator) -> (BatchNorm2d, ParameterStore, ParameterStore) {
        var layout = ParameterLayout(), bufferLayout = ParameterLayout()
        let norm = BatchNorm2d("bn", channels: channels, plane: plane, layout: &layout, buffers: &bufferLayout)
        let store = ParameterStore(layout), buffers = ParameterStore(bufferLayout, withGradients: false)
        norm.initialize(store, buffers: buffers)
        // Non-trivial scale, offset and running statistics, so that a swapped or missing term shows.
        store.set(norm.scale, GradientCheck.randomArray(channels, random: &random, scale: 0.5).map { $0 + 1 })
        store.set(norm.offset, GradientCheck.randomArray(channels, random: &random, scale: 0.5))
        buffers.set(norm.runningMean, GradientCheck.randomArray(channels, random: &random))
        buffers.set(norm.runningVariance, GradientCheck.randomArray(channels, random: &random).map { 0.5 + abs($0) })
        return (norm, store, buffers)
    }

    /// An input whose channels have different means and spreads: x[n, c, :] = 2*c - 1 + (1 + c) * noise.
    func makeInput(random: inout RandomGenerator) -> Tensor {
        let input = Tensor.random([batch, channels, plane], random: &random)
        for index in 0..<input.count {
            let c = (index / plane) % channels
            input[index] = Float(2 * c - 1) + Float(1 + c) * input[index]
        }
        return input
    }

    /// Values of channel c over the batch and the plane, in Double.
    func channelValues(_ tensor: Tensor, _ c: Int) -> [Double] {
        (0..<batch).flatMap { n in (0..<plane).map { Double(tensor[(n * channels + c) * plane + $0]) } }
    }

    func testTrainingForwardNormalizesEachChannel() {
        var random = RandomGenerator(seed: 31)
        let (norm, store, buffers) = makeLayer(random: &random)
        let input = makeInput(random: &random)
        let output = Tensor(shape: input.shape)
        var cache = BatchNorm2d.Cache()
        norm.forwardTraining(store, buffers, batch: batch, input: input.pointer, output: output.pointer, cache: &cache)
        let gamma = store.array(norm.scale), beta = store.array(norm.offset)
        for c in 0..<channels {
            let normalized = channelValues(output, c).map { ($0 - Double(beta[c])) / Double(gamma[c]) }
            let mean = normalized.reduce(0, +) / Double(normalized.count)
            let variance = normalized.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(normalized.count)
            // Float rounding of 12 O(1) values: ~1e-7 each. The biased variance is var/(var + eps),
            // 1 - eps/var >= 1 - 1e-5 for these spreads, so 1e-4 holds it but not an unbiased 12/11.
            XCTAssertEqual(mean, 0, accuracy: 1e-5, "channel \(c) mean")
            XCTAssertEqual(variance, 1, accuracy: 1e-4, "channel \(c) variance")
        }
    }

    func testRunningStatisticsFollowPyTorchMomentum() {
        var random = RandomGenerator(seed: 32)
        let (norm, store, buffers) = makeLayer(random: &random)
        let input = makeInput(random: &random)
        let output = Tensor(shape: input.shape)
        let oldMean = buffers.array(norm.runningMean), oldVariance = buffers.array(norm.runningVariance)
        var cache = BatchNorm2d.Cache()
        norm.forwardTraining(store, buffers, batch: batch, input: input.pointer, output: output.pointer, cache: &cache)
        let newMean = buffers.array(norm.runningMean), newVariance = buffers.array(norm.runningVariance)
        for c in 0..<channels {
            let values = channelValues(input, c)
            let count = Double(values.count)
            let mean = values.reduce(0, +) / count
            let unbiased = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (count - 1)
            // Float arithmetic on O(1..10) values: ~1e-6; biased instead of unbiased would be off by
            // 0.1 * var / 11, above 1e-2 here.
            XCTAssertEqual(Double(newMean[c]), 0.9 * Double(oldMean[c]) + 0.1 * mean, accuracy: 1e-5, "mean \(c)")
            XCTAssertEqual(Double(newVariance[c]), 0.9 * Double(oldVariance[c]) + 0.1 * unbiased,
                           accuracy: 1e-5 * max(1, unbiased), "variance \(c)")
        }
    }

    func testTrainingWithoutUpdateLeavesRunningStatistics() {
        var random = RandomGenerator(seed: 33)
        let (norm, store, buffers) = makeLayer(random: &random)
        let input = makeInput(random: &random)
        let output = Tensor(shape: input.shape)
        let before = buffers.values.array
        var cache = BatchNorm2d.Cache()
        norm.forwardTraining(store, buffers, batch: batch, input: input.pointer, output: output.pointer, cache: &cache,
                             updateRunningStatistics: false)
        XCTAssertEqual(buffers.values.array, before)
    }

    func testEvaluationUsesRunningStatisticsPerSample() {
        var random = RandomGenerator(seed: 34)
        let (norm, store, buffers) = makeLayer(random: &random)
        let input = makeInput(random: &random)
        let output = Tensor(shape: input.shape)
        norm.forwardEvaluation(store, buffers, batch: batch, input: input.pointer, output: output.pointer)
        let gamma = store.array(norm.scale), beta = store.array(norm.offset)
        let mean = buffers.array(norm.runningMean), variance = buffers.array(norm.runningVariance)
        for index in 0..<input.count {
            let c = (index / plane) % channels
            let expected = (Double(input[index]) - Double(mean[c])) / (Double(variance[c]) + 1e-5).squareRoot()
                * Double(gamma[c]) + Double(beta[c])
            // A Float multiply-add on values up to ~10: a few 1e-6.
            XCTAssertEqual(Double(output[index]), expected, accuracy: 1e-5, "y[\(index)]")
        }
        // Sample 1 alone, and sample 1 among different companions: the same values, bit for bit.
        let itemSize = channels * plane
        let alone = Tensor(shape: [1, channels, plane]), aloneOutput = Tensor(shape: alone.shape)
        alone.pointer.update(from: input.pointer + itemSize, count: itemSize)
        norm.forwardEvaluation(store, buffers, batch: 1, input: alone.pointer, output: aloneOutput.pointer)
        let companions = makeInput(random: &random), companionsOutput = Tensor(shape: input.shape)
        (companions.pointer + itemSize).update(from: input.pointer + itemSize, count: itemSize)
        norm.forwardEvaluation(store, buffers, batch: batch, input: companions.pointer, output: companionsOutput.pointer)
        for index in 0..<itemSize {
            XCTAssertEqual(aloneOutput[index], output[itemSize + index])
            XCTAssertEqual(companionsOutput[itemSize + index], output[itemSize + index])
        }
    }

    /// L = sum w * forwardTraining(x): every evaluation recomputes the batch statistics, so the input
    /// gradient must carry their dependence on x (the -mean dy and -h*mean(dy*h) terms).
    func testBackwardMatchesFiniteDifferences() {
        var random = RandomGenerator(seed: 35)
        let (norm, store, buffers) = makeLayer(random: &random)
        let input = makeInput(random: &random)
        let output = Tensor(shape: input.shape)
        let weights = GradientCheck.randomArray(output.count, random: &random)
        func loss() -> Double {
            var scratch = BatchNorm2d.Cache()
            norm.forwardTraining(store, buffers, batch: batch, input: input.pointer, output: output.pointer,
                                 cache: &scratch, updateRunningStatistics: false)
            return GradientCheck.weightedSum(output.pointer, weights)
        }
        var cache = BatchNorm2d.Cache()
        norm.forwardTraining(store, buffers, batch: batch, input: input.pointer, output: output.pointer, cache: &cache,
                             updateRunningStatistics: false)
        let outputGradient = Tensor(shape: output.shape, values: weights)
        let inputGradient = Tensor(shape: input.shape)
        store.zeroGradients()
        norm.backward(store, batch: batch, outputGradient: outputGradient.pointer, inputGradient: inputGradient.pointer,
                      cache: cache)
        // h = 1e-2 along a unit direction over 36 values: truncation h^2/6 * L''' is ~1e-5 (each
        // channel's spread is >= 1), and Float rounding of the loss (~1e-6) over 2h is ~5e-5. The
        // directional derivatives are O(1); dropping the statistics' terms changes them by O(1).
        GradientCheck.assertClose(GradientCheck.directional(values: input.pointer, count: input.count,
                                                            analytic: inputGradient.array, loss: loss),
                                  relative: 1e-3, absolute: 2e-4, "input")
        for slot in [norm.scale, norm.offset] {
            // Linear in gamma and beta: rounding only.
            GradientCheck.assertClose(GradientCheck.directional(values: store.value(slot), count: slot.count,
                                                                analytic: store.gradientArray(slot), loss: loss),
                                      relative: 1e-4, absolute: 1e-4, slot.name)
        }
    }

    /// Every pass in NHWC against the same pass in NCHW on the same data (inputs converted, outputs
    /// converted back): the statistics, the training forward with its cache and the running statistics
    /// it moves, the evaluation forward, and backward, alone and under a synchronization hook, at
    /// several shapes and one and two threads. The hook stands for a second process holding the same
    /// part of the batch (it doubles every sum); what it is handed must agree between the layouts too.
    func testChannelsLastMatchesChannelsFirst() {
        defer { Parallel.setThreadCount(System.coreCount) }
        var random = RandomGenerator(seed: 36)
        for (channels, plane, batch) in LayoutComparison.shapes {
            let count = batch * channels * plane
            let gamma = GradientCheck.randomArray(channels, random: &random, scale: 0.5).map { $0 + 1 }
            let beta = GradientCheck.randomArray(channels, random: &random, scale: 0.5)
            let runningMean = GradientCheck.randomArray(channels, random: &random)
            let runningVariance = GradientCheck.randomArray(channels, random: &random).map { 0.5 + abs($0) }
            // Per-channel means and spreads, as makeInput's.
            let input = GradientCheck.randomArray(count, random: &random).enumerated().map { index, value in
                let c = (index / plane) % channels
                return Float(c % 5) - 2 + Float(1 + c % 3) * value
            }
            let outputGradient = GradientCheck.randomArray(count, random: &random)
            for threads in [1, 2] {
                Parallel.setThreadCount(threads)
                let label = "C \(channels) P \(plane) N \(batch) threads \(threads)"
                func run(_ layout: ActivationLayout) -> [String: [Double]] {
                    runAllPasses(layout, channels: channels, plane: plane, batch: batch, gamma: gamma, beta: beta,
                                 runningMean: runningMean, runningVariance: runningVariance, input: input,
                                 outputGradient: outputGradient)
                }
                let first = run(.channelsFirst), last = run(.channelsLast)
                XCTAssertEqual(Set(last.keys), Set(first.keys), label)
                for (name, value) in first {
                    LayoutComparison.assertClose(last[name]!, value, "\(label) \(name)")
                }
            }
        }
    }

    /// The passes on NCHW data converted to `layout`; activation-shaped results converted back to NCHW.
    func runAllPasses(_ layout: ActivationLayout, channels: Int, plane: Int, batch: Int, gamma: [Float], beta: [Float],
                      runningMean: [Float], runningVariance: [Float], input: [Float], outputGradient: [Float])
        -> [String: [Double]] {
        var parameterLayout = ParameterLayout(), bufferLayout = ParameterLayout()
        let norm = BatchNorm2d("bn", channels: channels, plane: plane, layout: &parameterLayout, buffers: &bufferLayout,
                               activationLayout: layout)
        XCTAssertEqual(norm.activationLayout, layout)
        let store = ParameterStore(parameterLayout), buffers = ParameterStore(bufferLayout, withGradients: false)
        store.set(norm.scale, gamma)
        store.set(norm.offset, beta)
        buffers.set(norm.runningMean, runningMean)
        buffers.set(norm.runningVariance, runningVariance)
        let count = batch * channels * plane
        func tensor(_ values: [Float]) -> Tensor {
            Tensor(shape: [batch, channels * plane],
                   values: LayoutComparison.converted(values, to: layout, batch: batch, channels: channels, plane: plane))
        }
        func back(_ pointer: UnsafePointer<Float>) -> [Double] {
            LayoutComparison.channelsFirst(Array(UnsafeBufferPointer(start: pointer, count: count)), from: layout,
                                           batch: batch, channels: channels, plane: plane).map(Double.init)
        }
        func floats(_ values: [Float]) -> [Double] { values.map(Double.init) }
        var results: [String: [Double]] = [:]
        let x = tensor(input), y = Tensor(shape: x.shape)

        let alone = norm.statistics(batch: batch, input: x.pointer)
        results["mean"] = alone.mean
        results["variance"] = alone.variance
        results["count"] = [alone.count]

        var cache = BatchNorm2d.Cache()
        norm.forwardTraining(store, buffers, batch: batch, input: x.pointer, output: y.pointer, cache: &cache)
        results["training output"] = back(y.pointer)
        results["normalized"] = back(cache.normalized.current!.pointer)
        results["inverse deviation"] = floats(cache.inverseDeviation.current!.array)
        results["statistics count"] = [cache.statisticsCount]
        results["running mean"] = floats(buffers.array(norm.runningMean))
        results["running variance"] = floats(buffers.array(norm.runningVariance))

        let evaluation = Tensor(shape: x.shape)
        norm.forwardEvaluation(store, buffers, batch: batch, input: x.pointer, output: evaluation.pointer)
        results["evaluation output"] = back(evaluation.pointer)

        let dy = tensor(outputGradient), dx = Tensor(shape: x.shape)
        store.zeroGradients()
        norm.backward(store, batch: batch, outputGradient: dy.pointer, inputGradient: dx.pointer, cache: cache)
        results["input gradient"] = back(dx.pointer)
        results["scale gradient"] = floats(store.gradientArray(norm.scale))
        results["offset gradient"] = floats(store.gradientArray(norm.offset))

        // Under the hook: each call's payload recorded as handed over, then doubled.
        var payloads: [[Double]] = []
        let twin: BatchNorm2d.Synchronization = { values in
            payloads.append(Array(values))
            for index in values.indices { values[index] *= 2 }
        }
        var synchronizedCache = BatchNorm2d.Cache()
        let synchronizedOutput = Tensor(shape: x.shape), synchronizedDx = Tensor(shape: x.shape)
        norm.forwardTraining(store, buffers, batch: batch, input: x.pointer, output: synchronizedOutput.pointer,
                             cache: &synchronizedCache, updateRunningStatistics: false, synchronization: twin)
        XCTAssertEqual(synchronizedCache.statisticsCount, 2 * Double(count / channels))
        results["synchronized output"] = back(synchronizedOutput.pointer)
        store.zeroGradients()
        norm.backward(store, batch: batch, outputGradient: dy.pointer, inputGradient: synchronizedDx.pointer,
                      cache: synchronizedCache, synchronization: twin)
        results["synchronized input gradient"] = back(synchronizedDx.pointer)
        results["synchronized scale gradient"] = floats(store.gradientArray(norm.scale))
        XCTAssertEqual(payloads.map(\.count), [channels + 1, channels, 2 * channels])
        for (index, payload) in payloads.enumerated() { results["payload \(index)"] = payload }
        return results
    }
}
