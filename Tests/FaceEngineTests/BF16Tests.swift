import FaceEngine
import TestSupport
import XCTest

/// The oneDNN backend in bf16 against the exact (Double) kernels: convolution forward, backward data
/// and backward weights (which accumulates), the dense passes and matmul with every transpose, alpha and
/// beta.
///
/// Tolerance. bf16 keeps 8 significant bits (7 stored and the implicit one), so rounding an operand to
/// nearest moves it by at most u = 2^-8 of itself (0.39%; fp32's u is 2^-24 likewise), and a product of
/// two rounded operands by at most (1 + u)^2 - 1 ≈ 2^-7 ≈ 0.78% (measured up to 0.58% where a result is a
/// single product). The products are exact in fp32 and accumulate in fp32 (k terms: at most k * 2^-24 of
/// the magnitude, < 2e-5 for k <= 300 here), and alpha, beta and the accumulated value add a few 2^-24.
/// So each result is within 0.8% of its magnitude (the sum of the absolute values of its terms) of the
/// exact value, whatever the cancellation; we require 1e-2 of the magnitude, elementwise.
///
/// That bf16 really ran is shown twice: the result differs from oneDNN's fp32 result, and it matches
/// the exact kernel applied to the operands rounded to bf16 (nearest even) within fp32 accumulation
/// error, 1e-4 of the magnitude: only the operands' rounding separates it from fp32 arithmetic. The
/// second is the proof: oneDNN's fp32 primitives block their sums differently from one another, so an
/// fp32 result can differ bitwise from another fp32 result too.
final class BF16Tests: XCTestCase {
    let geometries = ConvolutionTests.geometries + [
        // The networks' 4x4 stride-2 padding-1 layers: the critic's convolutions, and the generator's
        // transposed convolutions (their backward data).
        ConvolutionGeometry(inputChannels: 3, outputChannels: 8, inputHeight: 8, inputWidth: 8),
        ConvolutionGeometry(inputChannels: 3, outputChannels: 8, inputHeight: 16, inputWidth: 16),
        ConvolutionGeometry(inputChannels: 16, outputChannels: 32, inputHeight: 8, inputWidth: 8),
        ConvolutionGeometry(inputChannels: 16, outputChannels: 32, inputHeight: 16, inputWidth: 16),
    ]
    let accuracy = 1e-2, accumulationAccuracy = 1e-4

    /// The nearest bfloat16 (ties to even), as oneDNN's conversion rounds; inputs are finite.
    func roundedToBF16(_ value: Float) -> Float {
        let bits = value.bitPattern
        return Float(bitPattern: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000)
    }

    /// The worst |bf16 - exact| / magnitude per operation, printed for the record.
    var worstRatios: [String: Double] = [:]

    func check(_ bf16: [Float], fp32: [Float], exact: ReferenceKernels.Result,
               exactOnBF16Operands: ReferenceKernels.Result, operation: String, _ label: String,
               file: StaticString = #filePath, line: UInt = #line) {
        let ratio = ReferenceKernels.assertWithinMagnitude(bf16, exact, relative: accuracy, "\(label) vs exact",
                                                           file: file, line: line)
        worstRatios[operation] = max(worstRatios[operation] ?? 0, ratio)
        ReferenceKernels.assertWithinMagnitude(bf16, exactOnBF16Operands, relative: accumulationAccuracy,
                                               "\(label) vs exact on bf16-rounded operands", file: file, line: line)
        XCTAssertTrue(bf16 != fp32, "\(label): the bf16 result is bitwise the fp32 one", file: file, line: line)
    }

    override func tearDown() {
        if !worstRatios.isEmpty {
            print("\(name) worst |bf16 - exact| / magnitude: "
                  + worstRatios.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        super.tearDown()
    }

    func testConvolutionsAgreeWithTheExactKernels() throws {
        let bf16 = try TestBackends.bf16(layout: .channelsFirst), fp32 = TestBackends.oneDNN(.fp32, layout: .channelsFirst)
        var random = RandomGenerator(seed: 81)
        let batch = 2
        for (index, g) in geometries.enumerated() {
            let label = "geometry \(index) (\(g.inputChannels)->\(g.outputChannels) \(g.inputHeight)x\(g.inputWidth) "
                + "k\(g.kernelSize) s\(g.stride) p\(g.padding))"
            let input = GradientCheck.randomArray(batch * g.inputItemSize, random: &random)
            let weight = GradientCheck.randomArray(g.outputChannels * g.patchSize, random: &random)
            let outputGradient = GradientCheck.randomArray(batch * g.outputItemSize, random: &random)
            // Nonzero, so that the accumulation shows.
            let initialWeightGradient = GradientCheck.randomArray(weight.count, random: &random)
            let (roundedInput, roundedWeight, roundedOutputGradient) =
                (input.map(roundedToBF16), weight.map(roundedToBF16), outputGradient.map(roundedToBF16))

            // Results start as NaN where the backend must overwrite them.
            func forward(_ backend: ComputeBackend) -> [Float] {
                var output = [Float](repeating: .nan, count: batch * g.outputItemSize)
                try! backend.convolutionForward(g, batch: batch, input: input, weight: weight, output: &output)
                return output
            }
            check(forward(bf16), fp32: forward(fp32),
                  exact: ReferenceKernels.convolutionForward(g, batch: batch, input: input, weight: weight),
                  exactOnBF16Operands: ReferenceKernels.convolutionForward(g, batch: batch, input: roundedInput,
                                                                           weight: roundedWeight),
                  operation: "forward", "forward \(label)")

            func backwardData(_ backend: ComputeBackend) -> [Float] {
                var inputGradient = [Float](repeating: .nan, count: input.count)
                try! backend.convolutionBackwardData(g, batch: batch, outputGradient: outputGradient, weight: weight,
                                                inputGradient: &inputGradient)
                return inputGradient
            }
            check(backwardData(bf16), fp32: backwardData(fp32),
                  exact: ReferenceKernels.convolutionBackwardData(g, batch: batch, outputGradient: outputGradient,
                                                                  weight: weight),
                  exactOnBF16Operands: ReferenceKernels.convolutionBackwardData(g, batch: batch,
                                                                                outputGradient: roundedOutputGradient,
                                                                                weight: roundedWeight),
                  operation: "backward data", "backward data \(label)")

            func backwardWeights(_ backend: ComputeBackend) -> [Float] {
                var weightGradient = initialWeightGradient
                try! backend.convolutionBackwardWeights(g, batch: batch, outputGradient: outputGradient, input: input,
                                                   weightGradient: &weightGradient)
                return weightGradient
            }
            check(backwardWeights(bf16), fp32: backwardWeights(fp32),
                  exact: ReferenceKernels.convolutionBackwardWeights(g, batch: batch, outputGradient: outputGradient,
                                                                     input: input, initial: initialWeightGradient),
                  exactOnBF16Operands: ReferenceKernels.convolutionBackwardWeights(
                      g, batch: batch, outputGradient: roundedOutputGradient, input: roundedInput,
                      initial: initialWeightGradient),
                  operation: "backward weights (accumulated)", "backward weights \(label)")
        }
    }

    /// The dense layers' three products (ComputeBackend's dense extension) at the networks' shapes: the
    /// critic's head (256 -> 1), the generator's stem (8 -> 256), and a wide one.
    func testDensePassesAgreeWithTheExactKernels() throws {
        let bf16 = try TestBackends.bf16(), fp32 = TestBackends.oneDNN(.fp32)
        var random = RandomGenerator(seed: 82)
        for (batch, inputs, outputs) in [(4, 256, 1), (4, 8, 256), (64, 200, 48)] {
            let label = "batch \(batch) \(inputs) -> \(outputs)"
            let input = GradientCheck.randomArray(batch * inputs, random: &random)
            let weight = GradientCheck.randomArray(outputs * inputs, random: &random)
            let outputGradient = GradientCheck.randomArray(batch * outputs, random: &random)
            let initialWeightGradient = GradientCheck.randomArray(weight.count, random: &random)

            // The definitions: Y = X W^T, dX = dY W, dW += dY^T X.
            func exactForward(_ round: (Float) -> Float) -> ReferenceKernels.Result {
                ReferenceKernels.matmul(transposeA: false, transposeB: true, m: batch, n: outputs, k: inputs, alpha: 1,
                                        a: input.map(round), lda: inputs, b: weight.map(round), ldb: inputs, beta: 0,
                                        c: [Float](repeating: 0, count: batch * outputs), ldc: outputs)
            }
            func exactBackwardData(_ round: (Float) -> Float) -> ReferenceKernels.Result {
                ReferenceKernels.matmul(transposeA: false, transposeB: false, m: batch, n: inputs, k: outputs, alpha: 1,
                                        a: outputGradient.map(round), lda: outputs, b: weight.map(round), ldb: inputs,
                                        beta: 0, c: [Float](repeating: 0, count: batch * inputs), ldc: inputs)
            }
            func exactBackwardWeights(_ round: (Float) -> Float) -> ReferenceKernels.Result {
                ReferenceKernels.matmul(transposeA: true, transposeB: false, m: outputs, n: inputs, k: batch, alpha: 1,
                                        a: outputGradient.map(round), lda: outputs, b: input.map(round), ldb: inputs,
                                        beta: 1, c: initialWeightGradient, ldc: inputs)
            }

            func forward(_ backend: ComputeBackend) -> [Float] {
                var output = [Float](repeating: .nan, count: batch * outputs)
                try! backend.denseForward(batch: batch, inputs: inputs, outputs: outputs, input: input, weight: weight,
                                     output: &output)
                return output
            }
            check(forward(bf16), fp32: forward(fp32), exact: exactForward { $0 },
                  exactOnBF16Operands: exactForward(roundedToBF16), operation: "dense forward", "forward \(label)")

            func backwardData(_ backend: ComputeBackend) -> [Float] {
                var inputGradient = [Float](repeating: .nan, count: input.count)
                try! backend.denseBackwardData(batch: batch, inputs: inputs, outputs: outputs, outputGradient: outputGradient,
                                          weight: weight, inputGradient: &inputGradient)
                return inputGradient
            }
            check(backwardData(bf16), fp32: backwardData(fp32), exact: exactBackwardData { $0 },
                  exactOnBF16Operands: exactBackwardData(roundedToBF16), operation: "dense backward data",
                  "backward data \(label)")

            func backwardWeights(_ backend: ComputeBackend) -> [Float] {
                var weightGradient = initialWeightGradient
                try! backend.denseBackwardWeights(batch: batch, inputs: inputs, outputs: outputs, outputGradient: outputGradient,
                                             input: input, weightGradient: &weightGradient)
                return weightGradient
            }
            check(backwardWeights(bf16), fp32: backwardWeights(fp32), exact: exactBackwardWeights { $0 },
                  exactOnBF16Operands: exactBackwardWeights(roundedToBF16),
                  operation: "dense backward weights (accumulated)", "backward weights \(label)")
        }
    }

    /// Every transpose, alpha and beta, with leading dimensions wider than the rows (MatmulCase).
    func testMatmulAgreesWithTheExactProduct() throws {
        let bf16 = try TestBackends.bf16(), fp32 = TestBackends.oneDNN(.fp32)
        var random = RandomGenerator(seed: 83)
        for matmul in MatmulCase.all(shapes: [(m: 5, n: 7, k: 70), (m: 17, n: 9, k: 300)], random: &random) {
            check(matmul.run(bf16), fp32: matmul.run(fp32), exact: matmul.exact(),
                  exactOnBF16Operands: matmul.exact(operands: roundedToBF16), operation: "matmul", "\(matmul)")
        }
    }
}
