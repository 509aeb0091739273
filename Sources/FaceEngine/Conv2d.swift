/// A 2-D convolution (PyTorch `Conv2d`), weight [Cout, Cin, k, k], optional bias [Cout].
/// x: [N, Cin, H, W] -> y: [N, Cout, Ho, Wo]. The heavy work goes through the `ComputeBackend`.
public struct Conv2d {
    public let geometry: ConvolutionGeometry
    public let weight: ParameterSlot
    public let bias: ParameterSlot?

    public init(_ name: String, _ geometry: ConvolutionGeometry, bias: Bool = true, layout: inout ParameterLayout) {
        self.geometry = geometry
        weight = layout.add("\(name).weight", [geometry.outputChannels, geometry.inputChannels,
                                                geometry.kernelSize, geometry.kernelSize])
        self.bias = bias ? layout.add("\(name).bias", [geometry.outputChannels]) : nil
    }

    public func initialize(_ store: ParameterStore, random: inout RandomGenerator) {
        Initialization.uniformFanIn(store, weight: weight, bias: bias, random: &random)
    }

    public func forward(_ backend: ComputeBackend, _ store: ParameterStore, batch: Int,
                        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        backend.convolutionForward(geometry, batch: batch, input: input, weight: store.value(weight), output: output)
        if let bias {
            ChannelBias.add(store.value(bias), to: output, batch: batch,
                            channels: geometry.outputChannels, plane: geometry.outputPlane)
        }
    }

    /// Accumulates dW (and db when `includeBias`); writes dx when `inputGradient` is given.
    public func backward(_ backend: ComputeBackend, _ store: ParameterStore, batch: Int,
                         input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                         inputGradient: UnsafeMutablePointer<Float>?, includeBias: Bool = true) {
        if batch == 0 { return }
        backend.convolutionBackwardWeights(geometry, batch: batch, outputGradient: outputGradient, input: input,
                                           weightGradient: store.gradient(weight))
        if includeBias, let bias {
            ChannelBias.accumulateGradient(outputGradient, into: store.gradient(bias), batch: batch,
                                           channels: geometry.outputChannels, plane: geometry.outputPlane)
        }
        if let inputGradient {
            backend.convolutionBackwardData(geometry, batch: batch, outputGradient: outputGradient,
                                            weight: store.value(weight), inputGradient: inputGradient)
        }
    }

    /// y' = W * x' (no bias).
    public func linearizedForward(_ backend: ComputeBackend, _ store: ParameterStore, batch: Int,
                                  tangent: UnsafePointer<Float>, tangentOutput: UnsafeMutablePointer<Float>) {
        backend.convolutionForward(geometry, batch: batch, input: tangent, weight: store.value(weight), output: tangentOutput)
    }

    /// dW += Y (x) patches(x) + Y' (x) patches(x'), db += sum Y, X = W^T Y, X' = W^T Y'.
    public func dualBackward(_ backend: ComputeBackend, _ store: ParameterStore,
                             primalBatch: Int, input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                             inputGradient: UnsafeMutablePointer<Float>?,
                             tangentBatch: Int, tangent: UnsafePointer<Float>, tangentOutputGradient: UnsafePointer<Float>,
                             tangentInputGradient: UnsafeMutablePointer<Float>?) {
        backward(backend, store, batch: primalBatch, input: input, outputGradient: outputGradient,
                 inputGradient: inputGradient)
        backward(backend, store, batch: tangentBatch, input: tangent, outputGradient: tangentOutputGradient,
                 inputGradient: tangentInputGradient, includeBias: false)
    }
}
