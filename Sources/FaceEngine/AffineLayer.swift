/// One adjoint stream through a layer: `batch` samples of its input, the adjoint of its output, and
/// where the adjoint of its input goes (nil: not needed).
public struct AdjointStream {
    public var batch: Int
    public var input: UnsafePointer<Float>
    public var outputGradient: UnsafePointer<Float>
    public var inputGradient: UnsafeMutablePointer<Float>?

    public init(batch: Int, input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                inputGradient: UnsafeMutablePointer<Float>?) {
        self.batch = batch
        self.input = input
        self.outputGradient = outputGradient
        self.inputGradient = inputGradient
    }
}

/// A layer affine in its input (Conv2d, Dense): y = W*x + b. Its linearized forward is y' = W*x', and
/// its dual backward (DESIGN.md, "The exact penalty gradient") is one ordinary backward per stream,
/// because an affine map's second derivative is zero and the streams do not mix.
public protocol AffineLayer {
    /// Accumulates dW (and db when `includeBias`); writes dx when `inputGradient` is given.
    func backward(_ backend: ComputeBackend, _ store: ParameterStore, batch: Int, input: UnsafePointer<Float>,
                  outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                  includeBias: Bool) throws
}

extension AffineLayer {
    /// dW += Y (x) x + Y' (x) x', db += sum Y, X = W^T Y, X' = W^T Y' (for a convolution the outer
    /// products run over im2col columns). Conv and dense biases get the primal stream's sum only.
    public func dualBackward(_ backend: ComputeBackend, _ store: ParameterStore,
                             primal: AdjointStream, tangent: AdjointStream) throws {
        try backward(backend, store, batch: primal.batch, input: primal.input, outputGradient: primal.outputGradient,
                     inputGradient: primal.inputGradient, includeBias: true)
        try backward(backend, store, batch: tangent.batch, input: tangent.input, outputGradient: tangent.outputGradient,
                     inputGradient: tangent.inputGradient, includeBias: false)
    }
}
