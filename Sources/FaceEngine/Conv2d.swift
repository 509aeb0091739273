/// A 2-D convolution (PyTorch `Conv2d`), weight [Cout, Cin, k, k], optional bias [Cout].
/// x: [N, Cin, H, W] -> y: [N, Cout, Ho, Wo], in the backend's activation layout. The heavy work goes through the `ComputeBackend`; the
/// dual backward of the penalty gradient is `AffineLayer`'s.
public struct Conv2d: AffineLayer {
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
                        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) throws {
        try backend.convolutionForward(geometry, batch: batch, input: input, weight: store.value(weight), output: output)
        if let bias {
            ChannelBias.add(store.value(bias), to: output, batch: batch,
                            channels: geometry.outputChannels, plane: geometry.outputPlane, layout: backend.activationLayout)
        }
    }

    /// Accumulates dW (and db when `includeBias`); writes dx when `inputGradient` is given.
    public func backward(_ backend: ComputeBackend, _ store: ParameterStore, batch: Int,
                         input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                         inputGradient: UnsafeMutablePointer<Float>?, includeBias: Bool = true) throws {
        if batch == 0 { return }
        try backend.convolutionBackwardWeights(geometry, batch: batch, outputGradient: outputGradient, input: input,
                                               weightGradient: store.gradient(weight))
        if includeBias, let bias {
            ChannelBias.accumulateGradient(outputGradient, into: store.gradient(bias), batch: batch,
                                           channels: geometry.outputChannels, plane: geometry.outputPlane,
                                           layout: backend.activationLayout)
        }
        if let inputGradient {
            try self.inputGradient(backend, store, batch: batch, outputGradient: outputGradient, inputGradient: inputGradient)
        }
    }

    /// dx = W^T dY only, no parameter gradient (the critic's input gradient for the penalty).
    public func inputGradient(_ backend: ComputeBackend, _ store: ParameterStore, batch: Int,
                              outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>) throws {
        try backend.convolutionBackwardData(geometry, batch: batch, outputGradient: outputGradient,
                                            weight: store.value(weight), inputGradient: inputGradient)
    }

    /// y' = W * x' (no bias).
    public func linearizedForward(_ backend: ComputeBackend, _ store: ParameterStore, batch: Int,
                                  tangent: UnsafePointer<Float>, tangentOutput: UnsafeMutablePointer<Float>) throws {
        try backend.convolutionForward(geometry, batch: batch, input: tangent, weight: store.value(weight), output: tangentOutput)
    }
}
