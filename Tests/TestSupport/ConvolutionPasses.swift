import FaceEngine

/// The three passes of one convolution on a backend, on seeded random operands: what the tuner and
/// plan-cache tests drive a backend with.
public enum ConvolutionPasses {
    /// The small 4x4 / stride-2 / padding-1 layer those tests use (every kernel applies to it).
    public static let geometry = ConvolutionGeometry(inputChannels: 4, outputChannels: 8, inputHeight: 8, inputWidth: 8)

    /// Runs forward, backward-data and backward-weights of `geometry` at batch 2 once and returns the
    /// accumulated weight gradient.
    @discardableResult
    public static func run(_ backend: ComputeBackend, geometry g: ConvolutionGeometry = geometry,
                           seed: UInt64 = 1) throws -> [Float] {
        var random = RandomGenerator(seed: seed)
        let batch = 2
        let input = Tensor.random([batch, g.inputItemSize], random: &random)
        let weight = Tensor.random([g.outputChannels * g.patchSize], random: &random)
        let output = Tensor(shape: [batch, g.outputItemSize])
        let inputGradient = Tensor(shape: [batch, g.inputItemSize])
        let weightGradient = Tensor(shape: [g.outputChannels * g.patchSize])
        try backend.convolutionForward(g, batch: batch, input: input.pointer, weight: weight.pointer, output: output.pointer)
        try backend.convolutionBackwardData(g, batch: batch, outputGradient: output.pointer, weight: weight.pointer,
                                            inputGradient: inputGradient.pointer)
        try backend.convolutionBackwardWeights(g, batch: batch, outputGradient: output.pointer, input: input.pointer,
                                               weightGradient: weightGradient.pointer)
        return weightGradient.array
    }

    /// The tuner's key of `pass` of `geometry` at batch 2 in fp32 NHWC on 2 threads.
    public static func key(_ pass: ConvolutionPass) -> KernelChoiceKey {
        KernelChoiceKey(pass: pass, geometry: geometry, batch: 2, precision: .fp32, layout: .channelsLast, threads: 2)
    }
}
