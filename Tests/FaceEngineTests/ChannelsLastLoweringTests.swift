@testable import FaceEngine
import TestSupport
import XCTest

/// The NHWC lowering (im2row + GEMM) against the convolution's NCHW definition: operands drawn in
/// NCHW, converted to NHWC for the call and the results back, on both GEMMs it runs on (OpenBLAS split
/// over our workers, oneDNN's matmul), with one and two workers and patch budgets that force one, two
/// and three chunks. Exact in fp32: within 1e-5 of each result's magnitude.
final class ChannelsLastLoweringTests: XCTestCase {
    static let geometries = ConvolutionTests.geometries + [
        // The model's 4x4 / stride-2 / padding-1 layers at small width, and odd sizes.
        ConvolutionGeometry(inputChannels: 3, outputChannels: 4, inputHeight: 64, inputWidth: 64),
        ConvolutionGeometry(inputChannels: 16, outputChannels: 32, inputHeight: 8, inputWidth: 8),
        ConvolutionGeometry(inputChannels: 3, outputChannels: 2, inputHeight: 9, inputWidth: 7),
        // Other kernels, strides and paddings than ConvolutionTests' with more channels, so that runs
        // of Cin values, not single floats, are what crosses the image's edges.
        ConvolutionGeometry(inputChannels: 5, outputChannels: 6, inputHeight: 6, inputWidth: 9, kernelSize: 3, stride: 1,
                            padding: 1),
        ConvolutionGeometry(inputChannels: 4, outputChannels: 3, inputHeight: 11, inputWidth: 10, kernelSize: 5, stride: 3,
                            padding: 2),
    ]

    func testEveryPassMatchesTheDefinitionOnBothGEMMs() throws {
        defer { Parallel.setThreadCount(System.coreCount) }
        let blas = BLASBackend(), oneDNN = TestBackends.oneDNN(.fp32)
        let gemms: [(String, ChannelsLastLowering.GEMM)] = [
            ("blas", { transposeA, transposeB, m, n, k, a, lda, b, ldb, beta, c, ldc in
                blas.parallelMatmul(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: lda,
                                    b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            }),
            ("onednn", { transposeA, transposeB, m, n, k, a, lda, b, ldb, beta, c, ldc in
                try oneDNN.matmul(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1, a: a,
                                  lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            }),
        ]
        var random = RandomGenerator(seed: 17)
        let batch = 3
        for (index, g) in Self.geometries.enumerated() {
            let input = GradientCheck.randomArray(batch * g.inputItemSize, random: &random)
            let outputGradient = GradientCheck.randomArray(batch * g.outputItemSize, random: &random)
            let weight = Tensor.random([g.outputChannels * g.patchSize], random: &random)
            let initial = GradientCheck.randomArray(g.outputChannels * g.patchSize, random: &random)
            let forward = ReferenceKernels.convolutionForward(g, batch: batch, input: input, weight: weight.array)
            let backwardData = ReferenceKernels.convolutionBackwardData(g, batch: batch, outputGradient: outputGradient,
                                                                        weight: weight.array)
            let backwardWeights = ReferenceKernels.convolutionBackwardWeights(
                g, batch: batch, outputGradient: outputGradient, input: input, initial: initial)
            let inputNHWC = Tensor(shape: [input.count], values: LayoutComparison.converted(
                input, from: .channelsFirst, to: .channelsLast, batch: batch, channels: g.inputChannels, plane: g.inputPlane))
            let outputGradientNHWC = Tensor(shape: [outputGradient.count], values: LayoutComparison.converted(
                outputGradient, from: .channelsFirst, to: .channelsLast, batch: batch, channels: g.outputChannels,
                plane: g.outputPlane))

            let perSample = g.patchSize * g.outputPlane
            // One chunk of 3 samples (the default budget), chunks of 2 and 1, of 1 each, and of 1 each when
            // a single sample's patches exceed the budget.
            for (budget, chunks) in [(1 << 23, 1), (2 * perSample, 2), (perSample, 3), (perSample / 2, 3)] {
                // One lowering through every pass, worker count and GEMM: its scratch is reused across them.
                let lowering = ChannelsLastLowering(patchBudget: budget)
                for threads in [1, 2] {
                    Parallel.setThreadCount(threads)
                    for (name, gemm) in gemms {
                        let label = "\(name) geometry \(index) budget \(budget) threads \(threads)"
                        var calls = 0
                        let counted: ChannelsLastLowering.GEMM = { transposeA, transposeB, m, n, k, a, lda, b, ldb, beta, c, ldc in
                            calls += 1
                            try gemm(transposeA, transposeB, m, n, k, a, lda, b, ldb, beta, c, ldc)
                        }

                        let output = Tensor(shape: [batch * g.outputItemSize])
                        output.fill(.nan)
                        try lowering.forward(g, batch: batch, input: inputNHWC.pointer, weight: weight.pointer,
                                             output: output.pointer, gemm: counted)
                        ReferenceKernels.assertWithinMagnitude(
                            LayoutComparison.converted(output.array, from: .channelsLast, to: .channelsFirst, batch: batch,
                                      channels: g.outputChannels, plane: g.outputPlane),
                            forward, relative: 1e-5, "forward \(label)")
                        XCTAssertEqual(calls, chunks, "forward GEMMs \(label)")

                        // Overwritten, not accumulated: NaN anywhere the pass does not write shows.
                        calls = 0
                        let inputGradient = Tensor(shape: [batch * g.inputItemSize])
                        inputGradient.fill(.nan)
                        try lowering.backwardData(g, batch: batch, outputGradient: outputGradientNHWC.pointer,
                                                  weight: weight.pointer, inputGradient: inputGradient.pointer, gemm: counted)
                        ReferenceKernels.assertWithinMagnitude(
                            LayoutComparison.converted(inputGradient.array, from: .channelsLast, to: .channelsFirst, batch: batch,
                                      channels: g.inputChannels, plane: g.inputPlane),
                            backwardData, relative: 1e-5, "backward-data \(label)")
                        XCTAssertEqual(calls, chunks, "backward-data GEMMs \(label)")

                        // Accumulated onto a non-zero gradient, which stays OIHW.
                        calls = 0
                        let weightGradient = Tensor(shape: [initial.count], values: initial)
                        try lowering.backwardWeights(g, batch: batch, outputGradient: outputGradientNHWC.pointer,
                                                     input: inputNHWC.pointer, weightGradient: weightGradient.pointer,
                                                     gemm: counted)
                        ReferenceKernels.assertWithinMagnitude(weightGradient.array, backwardWeights, relative: 1e-5,
                                                               "backward-weights \(label)")
                        XCTAssertEqual(calls, chunks, "backward-weights GEMMs \(label)")
                    }
                }
            }
        }
    }

    /// parallelMatmul over the cblas_sgemm contract the lowering uses (alpha 1): every transpose, leading
    /// dimensions wider than the matrices (NaN beyond A's and B's rows, values beyond C's that must
    /// survive), beta 0 over a NaN C and beta 1. With two workers, the first two shapes are above the
    /// smallest share worth a thread (32k multiply-adds), so their rows are split: evenly, and 128 / 129;
    /// the last one is not.
    func testParallelMatmulMatchesTheDefinition() {
        defer { Parallel.setThreadCount(System.coreCount) }
        var random = RandomGenerator(seed: 23)
        let blas = BLASBackend()
        for threads in [1, 2] {
            Parallel.setThreadCount(threads)
            for shape in [(m: 70, n: 40, k: 30), (m: 257, n: 16, k: 16), (m: 3, n: 5, k: 7)] {
                for transposeA in [false, true] {
                    for transposeB in [false, true] {
                        for beta: Float in [0, 1] {
                            let matmul = MatmulCase(transposeA: transposeA, transposeB: transposeB, m: shape.m, n: shape.n,
                                                    k: shape.k, alpha: 1, beta: beta, random: &random)
                            var result = matmul.c
                            result.withUnsafeMutableBufferPointer { c in
                                blas.parallelMatmul(transposeA: transposeA, transposeB: transposeB, m: matmul.m,
                                                    n: matmul.n, k: matmul.k, a: matmul.a, lda: matmul.lda, b: matmul.b,
                                                    ldb: matmul.ldb, beta: beta, c: c.baseAddress!, ldc: matmul.ldc)
                            }
                            ReferenceKernels.assertWithinMagnitude(result, matmul.exact(), relative: 1e-5,
                                                                   "parallelMatmul threads \(threads) \(matmul)")
                        }
                    }
                }
            }
        }
    }
}
