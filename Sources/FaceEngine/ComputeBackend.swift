/// The seam where the heavy kernels plug in. Layers call only these; the BLAS backend implements them
/// with im2col + SGEMM, and an accelerated backend (oneDNN) can replace it without touching a layer.
///
/// Every kernel throws `BackendError` when it cannot run; the BLAS backend never does.
///
/// Layouts: activations in the backend's `activationLayout` (BLAS: NCHW; oneDNN: NHWC), conv weights
/// [Cout, Cin, k, k] (PyTorch). A transposed convolution with
/// weight [Cin_t, Cout_t, k, k] is the adjoint of the convolution from Cout_t to Cin_t channels with the
/// same weight memory, so its forward is `convolutionBackwardData`, its input gradient is
/// `convolutionForward` and its weight gradient is `convolutionBackwardWeights` with the roles swapped.
public protocol ComputeBackend: AnyObject {
    /// Which backend this is, for messages, reports and benchmarks (never a type test).
    var kind: BackendKind { get }
    /// "blas" or "onednn": `kind`'s name, as `--backend` spells it.
    var name: String { get }
    /// The instruction set the kernels dispatch to, when the backend chooses one (oneDNN's ISA).
    var instructionSet: String? { get }
    /// Names of the implementations chosen for the operations run so far (for benchmarks).
    var implementations: [String] { get }
    /// The number format of the convolution and matmul operands (results are always fp32).
    var precision: ComputePrecision { get }
    /// The layout of the activations its convolutions read and write (weights are always OIHW). The
    /// models keep every feature map in it (`ActivationLayout`).
    var activationLayout: ActivationLayout { get }
    /// What picks the kernel of each convolution pass, for backends that choose (oneDNN).
    var kernelTuner: KernelTuner? { get }

    /// C[m, n] = alpha * op(A) * op(B) + beta * C, row-major.
    func matmul(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) throws

    /// output[N, Cout, Ho, Wo] = conv(input[N, Cin, H, W], weight) (no bias).
    func convolutionForward(_ geometry: ConvolutionGeometry, batch: Int, input: UnsafePointer<Float>,
                            weight: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) throws

    /// inputGradient[N, Cin, H, W] = conv^T(outputGradient) (overwritten, not accumulated).
    func convolutionBackwardData(_ geometry: ConvolutionGeometry, batch: Int, outputGradient: UnsafePointer<Float>,
                                 weight: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>) throws

    /// weightGradient[Cout, Cin, k, k] += sum over the batch of outputGradient (x) patches(input).
    func convolutionBackwardWeights(_ geometry: ConvolutionGeometry, batch: Int, outputGradient: UnsafePointer<Float>,
                                    input: UnsafePointer<Float>, weightGradient: UnsafeMutablePointer<Float>) throws
}

/// The backends there are.
public enum BackendKind: String, CaseIterable, Sendable {
    /// im2col + SGEMM on any CBLAS (`BLASBackend`).
    case blas
    /// oneDNN primitives (`OneDNNBackend`).
    case onednn
}

/// A kernel that could not run (oneDNN out of memory, or a primitive it cannot create for a shape):
/// an error for the user, never a crash, so a training run stops with its last checkpoint intact.
public struct BackendError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension ComputeBackend {
    public var name: String { kind.rawValue }
    public var instructionSet: String? { nil }
    public var implementations: [String] { [] }
    public var activationLayout: ActivationLayout { .channelsFirst }
    public var kernelTuner: KernelTuner? { nil }

    /// Y[N, out] = X[N, in] * W^T, with W [out, in] (a dense layer without bias).
    public func denseForward(batch: Int, inputs: Int, outputs: Int, input: UnsafePointer<Float>,
                             weight: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) throws {
        try matmul(transposeA: false, transposeB: true, m: batch, n: outputs, k: inputs, alpha: 1,
               a: input, lda: inputs, b: weight, ldb: inputs, beta: 0, c: output, ldc: outputs)
    }

    /// dX[N, in] = dY[N, out] * W.
    public func denseBackwardData(batch: Int, inputs: Int, outputs: Int, outputGradient: UnsafePointer<Float>,
                                  weight: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>) throws {
        try matmul(transposeA: false, transposeB: false, m: batch, n: inputs, k: outputs, alpha: 1,
               a: outputGradient, lda: outputs, b: weight, ldb: inputs, beta: 0, c: inputGradient, ldc: inputs)
    }

    /// dW[out, in] += dY^T * X.
    public func denseBackwardWeights(batch: Int, inputs: Int, outputs: Int, outputGradient: UnsafePointer<Float>,
                                     input: UnsafePointer<Float>, weightGradient: UnsafeMutablePointer<Float>) throws {
        try matmul(transposeA: true, transposeB: false, m: outputs, n: inputs, k: batch, alpha: 1,
               a: outputGradient, lda: outputs, b: input, ldb: inputs, beta: 1, c: weightGradient, ldc: inputs)
    }
}
