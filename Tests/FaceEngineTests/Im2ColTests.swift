@testable import FaceEngine
import TestSupport
import XCTest

/// Patch lowering and its adjoint, the layout reorders, and the BLAS backend's split of a batch into
/// per-worker chunks (the result must not depend on the thread count or the patch budget); the oneDNN
/// backend must give the same results on every geometry.
final class Im2ColTests: XCTestCase {
    let geometries = [
        ConvolutionGeometry(inputChannels: 3, outputChannels: 4, inputHeight: 8, inputWidth: 8),  // 4x4 s2 p1
        ConvolutionGeometry(inputChannels: 2, outputChannels: 3, inputHeight: 7, inputWidth: 5, kernelSize: 3, stride: 1, padding: 2),
        ConvolutionGeometry(inputChannels: 2, outputChannels: 2, inputHeight: 9, inputWidth: 6, kernelSize: 3, stride: 3, padding: 2),
        // Padding beyond the kernel: whole patch rows and columns fall outside the image.
        ConvolutionGeometry(inputChannels: 1, outputChannels: 2, inputHeight: 5, inputWidth: 7, kernelSize: 2, stride: 2, padding: 3),
        ConvolutionGeometry(inputChannels: 3, outputChannels: 2, inputHeight: 6, inputWidth: 6, kernelSize: 5, stride: 2, padding: 3),
        // The floored output size leaves the last input row unread: the far side's padding is -1.
        ConvolutionGeometry(inputChannels: 2, outputChannels: 3, inputHeight: 8, inputWidth: 9, kernelSize: 3, stride: 2, padding: 0),
    ]
    let samples = 2

    func lowered(_ g: ConvolutionGeometry, _ input: Tensor) -> Tensor {
        let columns = Tensor(shape: [g.patchSize, samples * g.outputPlane])
        columns.fill(.nan)  // every entry must be written
        Im2Col.lower(g, samples: samples, input: input.pointer, columns: columns.pointer)
        return columns
    }

    func testLowerMatchesDefinition() {
        var random = RandomGenerator(seed: 51)
        for (index, g) in geometries.enumerated() {
            let input = Tensor.random([samples, g.inputItemSize], random: &random)
            let columns = lowered(g, input)
            let k = g.kernelSize, width = samples * g.outputPlane
            var mismatches = 0
            for row in 0..<g.patchSize {
                let c = row / (k * k), ki = (row / k) % k, kj = row % k
                for n in 0..<samples {
                    for oh in 0..<g.outputHeight {
                        for ow in 0..<g.outputWidth {
                            let ih = oh * g.stride - g.padding + ki, iw = ow * g.stride - g.padding + kj
                            let inside = ih >= 0 && ih < g.inputHeight && iw >= 0 && iw < g.inputWidth
                            let expected = inside ? input[n * g.inputItemSize + (c * g.inputHeight + ih) * g.inputWidth + iw] : 0
                            // A pure copy: exact.
                            if columns[row * width + (n * g.outputHeight + oh) * g.outputWidth + ow] != expected { mismatches += 1 }
                        }
                    }
                }
            }
            XCTAssertEqual(mismatches, 0, "geometry \(index)")
        }
    }

    /// <lower(x), C> == <x, raise(C)> for random x and C: raise is the adjoint of lower.
    func testRaiseIsTheAdjointOfLower() {
        var random = RandomGenerator(seed: 52)
        for (index, g) in geometries.enumerated() {
            let input = Tensor.random([samples, g.inputItemSize], random: &random)
            let probe = Tensor.random([g.patchSize, samples * g.outputPlane], random: &random)
            let columns = lowered(g, input)
            let raised = Tensor(shape: input.shape)
            raised.fill(.nan)  // raise overwrites
            Im2Col.raise(g, samples: samples, columns: probe.pointer, output: raised.pointer)
            var left = 0.0, right = 0.0
            for position in 0..<columns.count { left += Double(columns[position]) * Double(probe[position]) }
            for position in 0..<input.count { right += Double(input[position]) * Double(raised[position]) }
            // raise sums at most ceil(k/s)^2 <= 9 Float values per pixel (relative rounding ~1e-7);
            // the inner products are accumulated in Double over a few hundred O(1) terms.
            XCTAssertEqual(left, right, accuracy: 1e-5 * max(1, abs(left)), "geometry \(index)")
        }
    }

    func testChannelMajorToBatchInvertsBatchToChannelMajor() {
        var random = RandomGenerator(seed: 53)
        let channels = 3, count = 4, plane = 5
        let source = Tensor.random([count, channels, plane], random: &random)
        let reordered = Tensor(shape: [channels, count * plane]), back = Tensor(shape: source.shape)
        Im2Col.batchToChannelMajor(channels: channels, samples: count, plane: plane, source: source.pointer,
                                   destination: reordered.pointer)
        // [n, c, p] lands at [c, n*plane + p].
        XCTAssertEqual(reordered[(2 * count + 1) * plane + 3], source[(1 * channels + 2) * plane + 3])
        Im2Col.channelMajorToBatch(channels: channels, samples: count, plane: plane, source: reordered.pointer,
                                   destination: back.pointer)
        XCTAssertEqual(back.array, source.array)
    }

    struct ConvolutionResults {
        var output: [Float], inputGradient: [Float], weightGradientOnce: [Float], weightGradientTwice: [Float]
    }

    func runBackend(_ backend: ComputeBackend, _ g: ConvolutionGeometry, batch: Int,
                    input: Tensor, weight: Tensor, outputGradient: Tensor) -> ConvolutionResults {
        let output = Tensor(shape: [batch, g.outputItemSize])
        try! backend.convolutionForward(g, batch: batch, input: input.pointer, weight: weight.pointer, output: output.pointer)
        let inputGradient = Tensor(shape: input.shape)
        inputGradient.fill(123)  // overwritten, not accumulated
        try! backend.convolutionBackwardData(g, batch: batch, outputGradient: outputGradient.pointer, weight: weight.pointer,
                                        inputGradient: inputGradient.pointer)
        let weightGradient = Tensor(shape: weight.shape)
        try! backend.convolutionBackwardWeights(g, batch: batch, outputGradient: outputGradient.pointer, input: input.pointer,
                                           weightGradient: weightGradient.pointer)
        let once = weightGradient.array
        try! backend.convolutionBackwardWeights(g, batch: batch, outputGradient: outputGradient.pointer, input: input.pointer,
                                           weightGradient: weightGradient.pointer)
        return ConvolutionResults(output: output.array, inputGradient: inputGradient.array,
                                  weightGradientOnce: once, weightGradientTwice: weightGradient.array)
    }

    /// Threads 1, 2, 3 and patch budgets of 0 (one sample per chunk), one sample, and 2.5 samples
    /// (uneven chunks) against one thread and one big chunk. Weight gradients accumulate: a second
    /// call adds the same amount again (per-worker partials must be re-zeroed).
    func testChunkingAndThreadsDoNotChangeTheResults() {
        defer { Parallel.setThreadCount(System.coreCount) }
        var random = RandomGenerator(seed: 54)
        let batch = 7
        for (index, g) in [geometries[0], geometries[2], geometries[4]].enumerated() {
            let input = Tensor.random([batch, g.inputItemSize], random: &random)
            let weight = Tensor.random([g.outputChannels, g.inputChannels, g.kernelSize, g.kernelSize], random: &random)
            let outputGradient = Tensor.random([batch, g.outputItemSize], random: &random)
            Parallel.setThreadCount(1)
            let reference = runBackend(BLASBackend(), g, batch: batch, input: input, weight: weight, outputGradient: outputGradient)
            let perSample = g.patchSize * g.outputPlane
            for threads in 1...3 {
                Parallel.setThreadCount(threads)
                for budget in [0, perSample, perSample * 5 / 2] {
                    let label = "geometry \(index) threads \(threads) budget \(budget)"
                    let result = runBackend(BLASBackend(patchBudget: budget), g, batch: batch, input: input,
                                            weight: weight, outputGradient: outputGradient)
                    assertSameResults(result, reference, label)
                }
            }
        }
    }

    /// oneDNN fp32 against the same reference on every geometry, with 1-3 threads: oneDNN is given the
    /// far side's padding that the floored output size implies, which may exceed the kernel or be negative.
    func testOneDNNMatchesTheReferenceOnEveryGeometry() {
        defer { Parallel.setThreadCount(System.coreCount) }
        var random = RandomGenerator(seed: 55)
        let batch = 7
        for (index, g) in geometries.enumerated() {
            let input = Tensor.random([batch, g.inputItemSize], random: &random)
            let weight = Tensor.random([g.outputChannels, g.inputChannels, g.kernelSize, g.kernelSize], random: &random)
            let outputGradient = Tensor.random([batch, g.outputItemSize], random: &random)
            Parallel.setThreadCount(1)
            let reference = runBackend(BLASBackend(), g, batch: batch, input: input, weight: weight, outputGradient: outputGradient)
            let backend = TestBackends.oneDNN(.fp32, layout: .channelsFirst)
            for threads in 1...3 {
                Parallel.setThreadCount(threads)
                let result = runBackend(backend, g, batch: batch, input: input, weight: weight, outputGradient: outputGradient)
                assertSameResults(result, reference, "\(backend.name) geometry \(index) threads \(threads)")
            }
        }
    }

    func assertSameResults(_ result: ConvolutionResults, _ reference: ConvolutionResults, _ label: String,
                           file: StaticString = #filePath, line: UInt = #line) {
        // Forward and data gradient: the same dot products of <= 75 O(1) terms (results up to ~25),
        // blocked differently by SGEMM at another width or by another backend: measured up to 4e-6.
        assertClose(result.output, reference.output, accuracy: 1e-5, "\(label) forward", file: file, line: line)
        assertClose(result.inputGradient, reference.inputGradient, accuracy: 1e-5, "\(label) data", file: file, line: line)
        // Weight gradients sum over up to 7*63 positions (results up to ~40), in partials of another
        // order: measured up to 1.1e-5; a lost or doubled chunk is O(1).
        assertClose(result.weightGradientOnce, reference.weightGradientOnce, accuracy: 1e-4, "\(label) weights",
                    file: file, line: line)
        assertClose(result.weightGradientTwice, reference.weightGradientOnce.map { 2 * $0 }, accuracy: 2e-4,
                    "\(label) weights accumulated twice", file: file, line: line)
    }

    func assertClose(_ actual: [Float], _ expected: [Float], accuracy: Float, _ label: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, label, file: file, line: line)
        let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, accuracy, label, file: file, line: line)
        XCTAssertFalse(actual.contains { !$0.isFinite }, label, file: file, line: line)
    }
}

/// The parity-plane path for 4x4 / stride 2 / padding 1 must equal the general lowering exactly.
final class Im2ColDownsamplingByTwoTests: XCTestCase {
    func testParityPlanePathEqualsTheGeneralPath() {
        var random = RandomGenerator(seed: 61)
        for (height, width) in [(8, 8), (4, 6), (2, 2)] {
            let g = ConvolutionGeometry(inputChannels: 3, outputChannels: 5, inputHeight: height, inputWidth: width)
            let samples = 2
            let input = Tensor.random([samples * g.inputItemSize], random: &random)
            let general = Tensor(shape: [g.patchSize * samples * g.outputPlane])
            let fast = Tensor(shape: general.shape)
            let scratch = Tensor(shape: [Im2Col.scratchCount(g, samples: samples)])
            Im2Col.lower(g, samples: samples, input: input.pointer, columns: general.pointer)
            Im2Col.lower(g, samples: samples, input: input.pointer, columns: fast.pointer, scratch: scratch.pointer)
            XCTAssertEqual(general.array, fast.array, "lower \(height)x\(width)")
            let columns = Tensor.random(general.shape, random: &random)
            let raisedGeneral = Tensor(shape: input.shape), raisedFast = Tensor(shape: input.shape)
            Im2Col.raise(g, samples: samples, columns: columns.pointer, output: raisedGeneral.pointer)
            Im2Col.raise(g, samples: samples, columns: columns.pointer, output: raisedFast.pointer, scratch: scratch.pointer)
            // Sums of up to four terms, added in another order: equal to rounding.
            for index in 0..<input.count {
                XCTAssertEqual(raisedGeneral[index], raisedFast[index], accuracy: 1e-5, "raise \(height)x\(width) [\(index)]")
            }
        }
    }
}
