@testable import FaceEngine
import TestSupport
import XCTest

/// Every kernel the tuner can choose, pinned, against the convolution's definition on every geometry
/// the backends are tested on and the model's own shapes: exact in fp32 (the BLAS reference's
/// tolerance), within bf16's rounding in bf16. The definitions are NCHW; the operands go through the
/// backend's own layout and back.
final class KernelCandidateTests: XCTestCase {
    static let geometries = ConvolutionTests.geometries + [
        // The model's 4x4 / stride-2 / padding-1 layers at small width: 64 -> 32 and 8 -> 4 pixels.
        ConvolutionGeometry(inputChannels: 3, outputChannels: 4, inputHeight: 64, inputWidth: 64),
        ConvolutionGeometry(inputChannels: 16, outputChannels: 32, inputHeight: 8, inputWidth: 8),
        // Odd sizes: the parity lowering does not apply, every other kernel must.
        ConvolutionGeometry(inputChannels: 3, outputChannels: 2, inputHeight: 9, inputWidth: 7),
    ]

    func check(_ kernel: ConvolutionKernel, precision: ComputePrecision, layout: ActivationLayout, relative: Double) throws {
        defer { Parallel.setThreadCount(System.coreCount) }
        var random = RandomGenerator(seed: 5)
        for (index, g) in Self.geometries.enumerated() {
            for pass in ConvolutionPass.allCases where kernel.applies(to: pass, g, precision: precision, layout: layout) {
                for threads in [1, 2] {
                    Parallel.setThreadCount(threads)
                    let backend = try OneDNNBackend(precision: precision, tuner: KernelTuner(pinning: kernel), layout: layout)
                    let batch = 3
                    let label = "\(kernel.rawValue) \(pass.rawValue) \(layout.rawValue) geometry \(index) threads \(threads)"
                    let input = Tensor.random([batch, g.inputItemSize], random: &random)
                    let outputGradient = Tensor.random([batch, g.outputItemSize], random: &random)
                    let weight = Tensor.random([g.outputChannels * g.patchSize], random: &random)
                    let layout = backend.activationLayout
                    // NCHW values in the backend's layout, and results from it back to NCHW.
                    func toBackend(_ tensor: Tensor, channels: Int, plane: Int) -> Tensor {
                        Tensor(shape: tensor.shape, values: LayoutComparison.converted(
                            tensor.array, to: layout, batch: batch, channels: channels, plane: plane))
                    }
                    func fromBackend(_ tensor: Tensor, channels: Int, plane: Int) -> [Float] {
                        LayoutComparison.channelsFirst(tensor.array, from: layout, batch: batch, channels: channels, plane: plane)
                    }
                    let backendInput = toBackend(input, channels: g.inputChannels, plane: g.inputPlane)
                    let backendOutputGradient = toBackend(outputGradient, channels: g.outputChannels, plane: g.outputPlane)
                    switch pass {
                    case .forward:
                        let output = Tensor(shape: [batch, g.outputItemSize])
                        output.buffer.update(repeating: .nan)
                        try backend.convolutionForward(g, batch: batch, input: backendInput.pointer, weight: weight.pointer,
                                                       output: output.pointer)
                        ReferenceKernels.assertWithinMagnitude(
                            fromBackend(output, channels: g.outputChannels, plane: g.outputPlane),
                            ReferenceKernels.convolutionForward(g, batch: batch, input: input.array, weight: weight.array),
                            relative: relative, label)
                    case .backwardData:
                        let result = Tensor(shape: [batch, g.inputItemSize])
                        result.buffer.update(repeating: .nan)
                        try backend.convolutionBackwardData(g, batch: batch, outputGradient: backendOutputGradient.pointer,
                                                            weight: weight.pointer, inputGradient: result.pointer)
                        ReferenceKernels.assertWithinMagnitude(
                            fromBackend(result, channels: g.inputChannels, plane: g.inputPlane),
                            ReferenceKernels.convolutionBackwardData(
                                g, batch: batch, outputGradient: outputGradient.array, weight: weight.array),
                            relative: relative, label)
                    case .backwardWeights:
                        let gradient = Tensor.random([g.outputChannels * g.patchSize], random: &random)
                        let initial = gradient.array
                        try backend.convolutionBackwardWeights(g, batch: batch, outputGradient: backendOutputGradient.pointer,
                                                               input: backendInput.pointer, weightGradient: gradient.pointer)
                        ReferenceKernels.assertWithinMagnitude(
                            gradient.array, ReferenceKernels.convolutionBackwardWeights(
                                g, batch: batch, outputGradient: outputGradient.array, input: input.array,
                                initial: initial),
                            relative: relative, label)
                    }
                    XCTAssertEqual(backend.tuner.plan.map(\.kernel), [kernel], label)
                }
            }
        }
    }

    func testEveryFP32KernelIsExact() throws {
        for layout in ActivationLayout.allCases {
            for kernel in ConvolutionKernel.allCases {
                try check(kernel, precision: .fp32, layout: layout, relative: 1e-5)
            }
        }
    }

    func testEveryBF16KernelIsWithinBF16Rounding() throws {
        _ = try TestBackends.bf16()
        for layout in ActivationLayout.allCases {
            for kernel in ConvolutionKernel.allCases where kernel != .blas {
                try check(kernel, precision: .bf16, layout: layout, relative: 1e-2)
            }
        }
    }

    func testTheParityLoweringAppliesOnlyToEvenDownsamplingByTwo() {
        let even = ConvolutionGeometry(inputChannels: 3, outputChannels: 4, inputHeight: 8, inputWidth: 6)
        for layout in ActivationLayout.allCases {
            XCTAssertTrue(ConvolutionKernel.onednnParity.applies(to: .backwardData, even, precision: .fp32, layout: layout))
            XCTAssertFalse(ConvolutionKernel.onednnParity.applies(to: .forward, even, precision: .fp32, layout: layout))
            XCTAssertFalse(ConvolutionKernel.onednnParity.applies(to: .backwardWeights, even, precision: .fp32, layout: layout))
        }
        for odd in [ConvolutionGeometry(inputChannels: 3, outputChannels: 4, inputHeight: 9, inputWidth: 8),
                    ConvolutionGeometry(inputChannels: 3, outputChannels: 4, inputHeight: 8, inputWidth: 8, kernelSize: 3,
                                        stride: 2, padding: 1)] {
            XCTAssertFalse(ConvolutionKernel.onednnParity.applies(to: .backwardData, odd, precision: .fp32, layout: .channelsLast))
        }
        XCTAssertFalse(ConvolutionKernel.blas.applies(to: .forward, even, precision: .bf16, layout: .channelsLast),
                       "never a silent fp32")
        XCTAssertFalse(ConvolutionKernel.onednnMatmul.applies(to: .forward, even, precision: .fp32, layout: .channelsFirst))
    }
}
