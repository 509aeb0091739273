/// The shape of one 2-D convolution (Conv2d semantics: cross-correlation, zero padding).
/// A transposed convolution is the adjoint of the convolution with input and output swapped,
/// so it is described by the geometry of that convolution.
public struct ConvolutionGeometry: Hashable, Sendable {
    public var inputChannels: Int
    public var outputChannels: Int
    public var inputHeight: Int
    public var inputWidth: Int
    public var kernelSize: Int
    public var stride: Int
    public var padding: Int

    public init(inputChannels: Int, outputChannels: Int, inputHeight: Int, inputWidth: Int,
                kernelSize: Int = 4, stride: Int = 2, padding: Int = 1) {
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
    }

    public var outputHeight: Int { (inputHeight + 2 * padding - kernelSize) / stride + 1 }
    public var outputWidth: Int { (inputWidth + 2 * padding - kernelSize) / stride + 1 }
    /// Rows of an im2col matrix: Cin * k * k.
    public var patchSize: Int { inputChannels * kernelSize * kernelSize }
    public var inputPlane: Int { inputHeight * inputWidth }
    public var outputPlane: Int { outputHeight * outputWidth }
    public var inputItemSize: Int { inputChannels * inputPlane }
    public var outputItemSize: Int { outputChannels * outputPlane }
    /// Multiply-adds of one sample's forward pass.
    public var multiplyAddsPerSample: Int { outputChannels * outputPlane * patchSize }
}
