/// A fully connected layer (PyTorch `Linear`): y[N, out] = x[N, in] * W^T + b, W: [out, in].
///
/// Forward, backward, input gradient and linearized forward side by side; the dual backward (DESIGN.md,
/// "The exact penalty gradient") is `AffineLayer`'s. Backward passes accumulate (+=) into the
/// parameter gradients.
public struct Dense: AffineLayer {
    public let inputs: Int
    public let outputs: Int
    public let weight: ParameterSlot
    public let bias: ParameterSlot?

    public init(_ name: String, inputs: Int, outputs: Int, bias: Bool = true, layout: inout ParameterLayout) {
        self.inputs = inputs
        self.outputs = outputs
        weight = layout.add("\(name).weight", [outputs, inputs])
        self.bias = bias ? layout.add("\(name).bias", [outputs]) : nil
    }

    public func initialize(_ store: ParameterStore, random: inout RandomGenerator) {
        Initialization.uniformFanIn(store, weight: weight, bias: bias, random: &random)
    }

    /// x: [N, in] -> y: [N, out]
    public func forward(_ backend: ComputeBackend, _ store: ParameterStore, batch: Int,
                        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) throws {
        try backend.denseForward(batch: batch, inputs: inputs, outputs: outputs, input: input,
                             weight: store.value(weight), output: output)
        if let bias { ChannelBias.add(store.value(bias), to: output, batch: batch, channels: outputs, plane: 1) }
    }

    /// Accumulates dW (and db when `includeBias`), and writes dx when `inputGradient` is given.
    public func backward(_ backend: ComputeBackend, _ store: ParameterStore, batch: Int,
                         input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                         inputGradient: UnsafeMutablePointer<Float>?, includeBias: Bool = true) throws {
        if batch == 0 { return }
        try backend.denseBackwardWeights(batch: batch, inputs: inputs, outputs: outputs, outputGradient: outputGradient,
                                         input: input, weightGradient: store.gradient(weight))
        if includeBias, let bias {
            ChannelBias.accumulateGradient(outputGradient, into: store.gradient(bias), batch: batch, channels: outputs, plane: 1)
        }
        if let inputGradient {
            try self.inputGradient(backend, store, batch: batch, outputGradient: outputGradient, inputGradient: inputGradient)
        }
    }

    /// dx = dY * W only, no parameter gradient (the critic's input gradient for the penalty).
    public func inputGradient(_ backend: ComputeBackend, _ store: ParameterStore, batch: Int,
                              outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>) throws {
        try backend.denseBackwardData(batch: batch, inputs: inputs, outputs: outputs, outputGradient: outputGradient,
                                      weight: store.value(weight), inputGradient: inputGradient)
    }

    /// The Jacobian applied to a tangent: y' = W x' (the bias does not move with x).
    public func linearizedForward(_ backend: ComputeBackend, _ store: ParameterStore, batch: Int,
                                  tangent: UnsafePointer<Float>, tangentOutput: UnsafeMutablePointer<Float>) throws {
        try backend.denseForward(batch: batch, inputs: inputs, outputs: outputs, input: tangent,
                             weight: store.value(weight), output: tangentOutput)
    }
}
