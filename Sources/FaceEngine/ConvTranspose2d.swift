/// A transposed 2-D convolution (PyTorch `ConvTranspose2d`), weight [Cin, Cout, k, k], optional bias.
/// x: [N, Cin, H, W] -> y: [N, Cout, (H-1)*s - 2p + k, ...]. It is the adjoint of the convolution
/// from Cout to Cin channels with the same weight memory (`adjointGeometry`), so it reuses the
/// backend's three convolution kernels with the roles of data and gradient swapped.
public struct ConvTranspose2d {
    /// The geometry of the convolution this layer is the transpose of (its input is our output).
    public let adjointGeometry: ConvolutionGeometry
    public let weight: ParameterSlot
    public let bias: ParameterSlot?

    public init(_ name: String, inputChannels: Int, outputChannels: Int, inputHeight: Int, inputWidth: Int,
                kernelSize: Int = 4, stride: Int = 2, padding: Int = 1, bias: Bool, layout: inout ParameterLayout) {
        adjointGeometry = ConvolutionGeometry(
            inputChannels: outputChannels, outputChannels: inputChannels,
            inputHeight: (inputHeight - 1) * stride - 2 * padding + kernelSize,
            inputWidth: (inputWidth - 1) * stride - 2 * padding + kernelSize,
            kernelSize: kernelSize, stride: stride, padding: padding)
        precondition(adjointGeometry.outputHeight == inputHeight && adjointGeometry.outputWidth == inputWidth)
        weight = layout.add("\(name).weight", [inputChannels, outputChannels, kernelSize, kernelSize])
        self.bias = bias ? layout.add("\(name).bias", [outputChannels]) : nil
    }

    public var inputItemSize: Int { adjointGeometry.outputItemSize }
    public var outputItemSize: Int { adjointGeometry.inputItemSize }

    public func initialize(_ store: ParameterStore, random: inout RandomGenerator) {
        Initialization.uniformFanIn(store, weight: weight, bias: bias, random: &random)
    }

    public func forward(_ backend: ComputeBackend, _ store: ParameterStore, batch: Int,
                        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) throws {
        try backend.convolutionBackwardData(adjointGeometry, batch: batch, outputGradient: input,
                                        weight: store.value(weight), inputGradient: output)
        if let bias {
            ChannelBias.add(store.value(bias), to: output, batch: batch,
                            channels: adjointGeometry.inputChannels, plane: adjointGeometry.inputPlane,
                            layout: backend.activationLayout)
        }
    }

    /// Accumulates dW and db; writes dx when `inputGradient` is given.
    public func backward(_ backend: ComputeBackend, _ store: ParameterStore, batch: Int,
                         input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                         inputGradient: UnsafeMutablePointer<Float>?) throws {
        try backend.convolutionBackwardWeights(adjointGeometry, batch: batch, outputGradient: input, input: outputGradient,
                                               weightGradient: store.gradient(weight))
        if let bias {
            ChannelBias.accumulateGradient(outputGradient, into: store.gradient(bias), batch: batch,
                                           channels: adjointGeometry.inputChannels, plane: adjointGeometry.inputPlane,
                                           layout: backend.activationLayout)
        }
        if let inputGradient {
            try backend.convolutionForward(adjointGeometry, batch: batch, input: outputGradient,
                                       weight: store.value(weight), output: inputGradient)
        }
    }
}
