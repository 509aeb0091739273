/// A fully connected layer (PyTorch `Linear`): y[N, out] = x[N, in] * W^T + b, W: [out, in].
///
/// Forward, backward, linearized forward and dual backward (DESIGN.md, "The exact penalty gradient")
/// side by side. Backward passes accumulate (+=) into the parameter gradients.
public struct Dense {
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
                        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        backend.denseForward(batch: batch, inputs: inputs, outputs: outputs, input: input,
                             weight: store.value(weight), output: output)
        if let bias { ChannelBias.add(store.value(bias), to: output, batch: batch, channels: outputs, plane: 1) }
    }

    /// Accumulates dW (and db when `includeBias`), and writes dx when `inputGradient` is given.
    public func backward(_ backend: ComputeBackend, _ store: ParameterStore, batch: Int,
                         input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                         inputGradient: UnsafeMutablePointer<Float>?, includeBias: Bool = true) {
        if batch == 0 { return }
        backend.denseBackwardWeights(batch: batch, inputs: inputs, outputs: outputs, outputGradient: outputGradient,
                                     input: input, weightGradient: store.gradient(weight))
        if includeBias, let bias {
            ChannelBias.accumulateGradient(outputGradient, into: store.gradient(bias), batch: batch, channels: outputs, plane: 1)
        }
        if let inputGradient {
            backend.denseBackwardData(batch: batch, inputs: inputs, outputs: outputs, outputGradient: outputGradient,
                                      weight: store.value(weight), inputGradient: inputGradient)
        }
    }

    /// The Jacobian applied to a tangent: y' = W x' (the bias does not move with x).
    public func linearizedForward(_ backend: ComputeBackend, _ store: ParameterStore, batch: Int,
                                  tangent: UnsafePointer<Float>, tangentOutput: UnsafeMutablePointer<Float>) {
        backend.denseForward(batch: batch, inputs: inputs, outputs: outputs, input: tangent,
                             weight: store.value(weight), output: tangentOutput)
    }

    /// Dual backward: the primal adjoint Y over `primalBatch` samples and the tangent adjoint Y' over
    /// `tangentBatch` samples. dW += Y^T x + Y'^T x', db += sum Y, X = W^T Y, X' = W^T Y'
    /// (the second derivative of an affine map is zero, so the streams do not mix).
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
