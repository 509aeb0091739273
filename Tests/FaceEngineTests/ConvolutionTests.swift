@testable import FaceEngine
import TestSupport
import XCTest

/// Conv2d and ConvTranspose2d against direct loops (forward) and finite differences (backward), on
/// every fp32 backend with the same tolerances. Comparisons with NCHW definitions run oneDNN in NCHW;
/// KernelCandidateTests cover its NHWC kernels.
final class ConvolutionTests: XCTestCase {
    /// Also BF16Tests' first geometries.
    static let geometries = [
        ConvolutionGeometry(inputChannels: 3, outputChannels: 5, inputHeight: 8, inputWidth: 8),  // 4x4 s2 p1
        // 16x16 outputs: the backend writes each sample's product straight into NCHW (planes >= 128).
        ConvolutionGeometry(inputChannels: 2, outputChannels: 3, inputHeight: 32, inputWidth: 32),
        ConvolutionGeometry(inputChannels: 2, outputChannels: 3, inputHeight: 7, inputWidth: 5, kernelSize: 3, stride: 1, padding: 1),
        ConvolutionGeometry(inputChannels: 2, outputChannels: 4, inputHeight: 7, inputWidth: 4, kernelSize: 5, stride: 3, padding: 2),
    ]

    /// Direct convolution in Double, the definition the backends must match.
    func referenceConvolution(_ g: ConvolutionGeometry, batch: Int, input: [Float], weight: [Float]) -> [Double] {
        ReferenceKernels.convolutionForward(g, batch: batch, input: input, weight: weight).values
    }

    func testConvolutionForwardMatchesDirectLoops() {
        defer { Parallel.setThreadCount(System.coreCount) }
        var random = RandomGenerator(seed: 1)
        for (index, geometry) in Self.geometries.enumerated() {
            // A tiny patch budget forces several chunks per BLAS worker.
            let backends = TestBackends.fp32(blas: BLASBackend(patchBudget: geometry.patchSize * geometry.outputPlane),
                                             oneDNNLayout: .channelsFirst)
            for backend in backends {
                for threads in [1, 2] {
                    Parallel.setThreadCount(threads)
                    let batch = 3
                    var layout = ParameterLayout()
                    let conv = Conv2d("conv", geometry, bias: true, layout: &layout)
                    let store = ParameterStore(layout)
                    conv.initialize(store, random: &random)
                    let input = Tensor.random([batch, geometry.inputItemSize], random: &random)
                    let output = Tensor(shape: [batch, geometry.outputItemSize])
                    try! conv.forward(backend, store, batch: batch, input: input.pointer, output: output.pointer)
                    let expected = referenceConvolution(geometry, batch: batch, input: input.array,
                                                        weight: store.array(conv.weight))
                    let bias = store.array(conv.bias!)
                    for position in 0..<output.count {
                        let channel = (position / geometry.outputPlane) % geometry.outputChannels
                        XCTAssertEqual(Double(output[position]), expected[position] + Double(bias[channel]), accuracy: 1e-4,
                                       "\(backend.name) threads \(threads) geometry \(index) position \(position)")
                    }
                }
            }
        }
    }

    /// Input and parameter gradients of the loss <w, forward(input)> (w random) against directional
    /// finite differences. The loss is linear in each argument, so a unit step has no truncation error
    /// and the least rounding: only Float rounding of the outputs separates the quotient from the derivative.
    func checkGradients(_ store: ParameterStore, slots: [ParameterSlot], input: Tensor, output: Tensor, label: String,
                        random: inout RandomGenerator, forward: () -> Void,
                        backward: (UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        let weights = GradientCheck.randomArray(output.count, random: &random)
        func loss() -> Double {
            forward()
            return GradientCheck.weightedSum(output.pointer, weights)
        }
        let outputGradient = Tensor(shape: [output.count], values: weights)
        let inputGradient = Tensor(shape: input.shape)
        store.zeroGradients()
        backward(outputGradient.pointer, inputGradient.pointer)
        GradientCheck.assertClose(GradientCheck.directional(values: input.pointer, count: input.count,
                                                            analytic: inputGradient.array, step: 1, loss: loss),
                                  relative: 1e-4, absolute: 1e-4, "\(label) input")
        for slot in slots {
            GradientCheck.assertClose(GradientCheck.directional(values: store.value(slot), count: slot.count,
                                                                analytic: store.gradientArray(slot), step: 1, loss: loss),
                                      relative: 1e-4, absolute: 1e-4, "\(label) \(slot.name)")
        }
    }

    func testConvolutionGradientsMatchFiniteDifferences() {
        var random = RandomGenerator(seed: 2)
        for backend in TestBackends.fp32() {
            for (index, geometry) in Self.geometries.enumerated() {
                let batch = 2
                var layout = ParameterLayout()
                let conv = Conv2d("conv", geometry, bias: true, layout: &layout)
                let store = ParameterStore(layout)
                conv.initialize(store, random: &random)
                let input = Tensor.random([batch, geometry.inputItemSize], random: &random)
                let output = Tensor(shape: [batch, geometry.outputItemSize])
                checkGradients(store, slots: [conv.weight, conv.bias!], input: input, output: output,
                               label: "\(backend.name) geometry \(index)", random: &random,
                               forward: { try! conv.forward(backend, store, batch: batch, input: input.pointer,
                                                       output: output.pointer) },
                               backward: { try! conv.backward(backend, store, batch: batch, input: input.pointer, outputGradient: $0,
                                                         inputGradient: $1) })
            }
        }
    }

    func testTransposedConvolutionIsTheAdjointAndHasCorrectGradients() {
        var random = RandomGenerator(seed: 3)
        for backend in TestBackends.fp32(oneDNNLayout: .channelsFirst) {
            for (index, geometry) in Self.geometries.enumerated() {
                let batch = 2
                var layout = ParameterLayout()
                let transposed = ConvTranspose2d("up", inputChannels: geometry.outputChannels,
                                                 outputChannels: geometry.inputChannels,
                                                 inputHeight: geometry.outputHeight, inputWidth: geometry.outputWidth,
                                                 kernelSize: geometry.kernelSize, stride: geometry.stride,
                                                 padding: geometry.padding, bias: true, layout: &layout)
                let store = ParameterStore(layout)
                transposed.initialize(store, random: &random)
                XCTAssertEqual(store.slots[0].shape, [geometry.outputChannels, geometry.inputChannels,
                                                     geometry.kernelSize, geometry.kernelSize])
                let input = Tensor.random([batch, transposed.inputItemSize], random: &random)
                let output = Tensor(shape: [batch, transposed.outputItemSize])
                try! transposed.forward(backend, store, batch: batch, input: input.pointer, output: output.pointer)
                // <convT(x), y> = <x, conv(y)> + <bias, sum y>: the defining property of the transpose.
                let probe = Tensor.random(output.shape, random: &random)
                let convolved = referenceConvolution(geometry, batch: batch, input: probe.array,
                                                     weight: store.array(transposed.weight))
                var left = 0.0, right = 0.0
                for position in 0..<output.count { left += Double(output[position]) * Double(probe[position]) }
                for position in 0..<input.count { right += Double(input[position]) * convolved[position] }
                let bias = store.array(transposed.bias!)
                for position in 0..<probe.count {
                    right += Double(bias[(position / geometry.inputPlane) % geometry.inputChannels]) * Double(probe[position])
                }
                XCTAssertEqual(left, right, accuracy: 1e-3 * max(1, abs(left)), "\(backend.name) geometry \(index)")

                checkGradients(store, slots: [transposed.weight, transposed.bias!], input: input, output: output,
                               label: "\(backend.name) geometry \(index)", random: &random,
                               forward: { try! transposed.forward(backend, store, batch: batch, input: input.pointer,
                                                             output: output.pointer) },
                               backward: { try! transposed.backward(backend, store, batch: batch, input: input.pointer,
                                                               outputGradient: $0, inputGradient: $1) })
            }
        }
    }

    func testLinearizedForwardIsTheForwardWithoutBias() {
        var random = RandomGenerator(seed: 4)
        for backend in TestBackends.fp32(oneDNNLayout: .channelsFirst) {
            let geometry = Self.geometries[0]
            var layout = ParameterLayout()
            let conv = Conv2d("conv", geometry, bias: true, layout: &layout)
            let store = ParameterStore(layout)
            conv.initialize(store, random: &random)
            let tangent = Tensor.random([2, geometry.inputItemSize], random: &random)
            let linearized = Tensor(shape: [2, geometry.outputItemSize])
            let forward = Tensor(shape: linearized.shape)
            try! conv.linearizedForward(backend, store, batch: 2, tangent: tangent.pointer, tangentOutput: linearized.pointer)
            try! conv.forward(backend, store, batch: 2, input: tangent.pointer, output: forward.pointer)
            let bias = store.array(conv.bias!)
            for position in 0..<linearized.count {
                let channel = (position / geometry.outputPlane) % geometry.outputChannels
                XCTAssertEqual(linearized[position], forward[position] - bias[channel], accuracy: 1e-5, backend.name)
            }
        }
    }
}
