import FaceEngine

/// The WGAN-GP critic (DESIGN.md, "Model"): for i in 1..n `conv{i}` (4x4, stride 2, padding 1, bias),
/// then for i >= 2 `norm{i}` (layer norm, unless `--critic-norm none`), LeakyReLU(0.2); `fc` C0*4*4 -> 1.
///
/// Besides forward and backward it has the two extra passes of the exact penalty gradient: the
/// linearized forward of a tangent at cached primal points, and the dual backward that carries a
/// primal and a tangent adjoint together. Caches belong to the critic and are reused between steps.
public final class Critic {
    public let configuration: ModelConfiguration
    public let parameters: ParameterStore
    public let backend: ComputeBackend
    let convolutions: [Conv2d]
    let norms: [LayerNorm?]
    let fc: Dense

    /// stageInputs[i]: input of conv i (i = 0 is the image batch), stageInputs[n]: input of fc.
    private var stageInputs: [ReusableTensor]
    private var normCaches: [LayerNorm.Cache]
    private var tangentInputs: [ReusableTensor]
    private var tangentNormCaches: [LayerNorm.TangentCache]
    private var scores = ReusableTensor()
    private var tangentScores = ReusableTensor()
    private var normTangentInput = ReusableTensor()
    private var primalAdjoint = (ReusableTensor(), ReusableTensor())
    /// Adjoints of the last recording `inputGradient`, per stage: at the convolution's output and at
    /// the normalization's output (after the LeakyReLU mask), and the seed it started from. They are
    /// the dual backward's tangent adjoints (see `dualBackward`).
    private var recordedAtConvolution: [ReusableTensor]
    private var recordedAtNormalization: [ReusableTensor]
    private var recordedSeed = ReusableTensor()
    private var recordedSamples: Range<Int>?
    private var primalBatch = 0

    public init(_ configuration: ModelConfiguration, backend: ComputeBackend) {
        self.configuration = configuration
        self.backend = backend
        var layout = ParameterLayout()
        var convolutions = [Conv2d]()
        var norms = [LayerNorm?]()
        var channels = 3, size = configuration.imageSize
        for stage in 0..<configuration.stages {
            let outputChannels = configuration.width << stage
            let geometry = ConvolutionGeometry(inputChannels: channels, outputChannels: outputChannels,
                                               inputHeight: size, inputWidth: size)
            convolutions.append(Conv2d("conv\(stage + 1)", geometry, bias: true, layout: &layout))
            size /= 2
            channels = outputChannels
            if stage >= 1 && configuration.criticNorm == .layer {
                norms.append(LayerNorm("norm\(stage + 1)", channels: channels, plane: size * size, layout: &layout))
            } else {
                norms.append(nil)
            }
        }
        fc = Dense("fc", inputs: channels * size * size, outputs: 1, layout: &layout)
        self.convolutions = convolutions
        self.norms = norms
        parameters = ParameterStore(layout)
        let stageCount = configuration.stages
        stageInputs = (0...stageCount).map { _ in ReusableTensor() }
        tangentInputs = (0...stageCount).map { _ in ReusableTensor() }
        normCaches = (0..<stageCount).map { _ in LayerNorm.Cache() }
        tangentNormCaches = (0..<stageCount).map { _ in LayerNorm.TangentCache() }
        recordedAtConvolution = (0..<stageCount).map { _ in ReusableTensor() }
        recordedAtNormalization = (0..<stageCount).map { _ in ReusableTensor() }
    }

    /// PyTorch's default initialisation, from `random`.
    public func initialize(random: inout RandomGenerator) {
        for (convolution, norm) in zip(convolutions, norms) {
            convolution.initialize(parameters, random: &random)
            norm?.initialize(parameters)
        }
        fc.initialize(parameters, random: &random)
    }

    private func itemSize(stage: Int) -> Int {
        stage < convolutions.count ? convolutions[stage].geometry.inputItemSize : fc.inputs
    }

    /// Multiply-adds of one sample's forward pass (convolutions and fc).
    public var multiplyAddsPerSample: Int {
        convolutions.reduce(fc.inputs) { $0 + $1.geometry.multiplyAddsPerSample }
    }

    /// The buffer [batch, 3, S, S] the next `forward` reads; fill it, then call `forward(batch:)`.
    public func inputBuffer(batch: Int) -> Tensor {
        stageInputs[0].get([batch, 3, configuration.imageSize, configuration.imageSize])
    }

    /// Scores [batch] of the images in `inputBuffer(batch:)`, caching what the later passes need.
    @discardableResult
    public func forward(batch: Int) -> Tensor {
        primalBatch = batch
        for stage in 0..<convolutions.count {
            let input = stageInputs[stage].current!
            let output = stageInputs[stage + 1].get([batch, itemSize(stage: stage + 1)])
            convolutions[stage].forward(backend, parameters, batch: batch, input: input.pointer, output: output.pointer)
            norms[stage]?.forward(parameters, batch: batch, input: output.pointer, output: output.pointer,
                                  cache: &normCaches[stage])
            LeakyReLU.forward(output.pointer, count: output.count)
        }
        let result = scores.get([batch])
        fc.forward(backend, parameters, batch: batch, input: stageInputs[convolutions.count].current!.pointer,
                   output: result.pointer)
        return result
    }

    /// Two ping-pong buffers able to hold `batch` samples of any stage.
    private func adjointBuffers(_ pair: inout (ReusableTensor, ReusableTensor), batch: Int)
        -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) {
        let largest = (0...convolutions.count).map(itemSize(stage:)).max()!
        return (pair.0.get([batch * largest]).pointer, pair.1.get([batch * largest]).pointer)
    }

    /// d(sum_i seed_i * D(x_i))/dx for the cached samples sampleOffset..<sampleOffset+count, no parameter
    /// gradients. Returns [count, 3, S, S] in a buffer that the next call reuses. With
    /// `recordingTangentAdjoints`, keeps every stage's adjoint for a following `dualBackward`.
    public func inputGradient(sampleOffset: Int, count: Int, outputGradient: UnsafePointer<Float>,
                              recordingTangentAdjoints: Bool = false) -> UnsafeMutablePointer<Float> {
        var (current, other) = adjointBuffers(&primalAdjoint, batch: count)
        func record(_ slot: inout ReusableTensor, _ values: UnsafeMutablePointer<Float>, _ item: Int) {
            slot.get([count, item]).pointer.update(from: values, count: count * item)
        }
        if recordingTangentAdjoints {
            recordedSamples = sampleOffset..<(sampleOffset + count)
            recordedSeed.get([count]).pointer.update(from: outputGradient, count: count)
        }
        backend.denseBackwardData(batch: count, inputs: fc.inputs, outputs: 1, outputGradient: outputGradient,
                                  weight: parameters.value(fc.weight), inputGradient: current)
        for stage in stride(from: convolutions.count - 1, through: 0, by: -1) {
            let outputItem = itemSize(stage: stage + 1)
            let output = stageInputs[stage + 1].current!.pointer + sampleOffset * outputItem
            LeakyReLU.applyJacobian(output: output, to: current, count: count * outputItem)
            if let norm = norms[stage] {
                if recordingTangentAdjoints { record(&recordedAtNormalization[stage], current, outputItem) }
                norm.backward(parameters, batch: count, sampleOffset: sampleOffset, outputGradient: current,
                              inputGradient: other, cache: normCaches[stage], parameterGradients: false)
                swap(&current, &other)
            }
            if recordingTangentAdjoints { record(&recordedAtConvolution[stage], current, outputItem) }
            backend.convolutionBackwardData(convolutions[stage].geometry, batch: count, outputGradient: current,
                                            weight: parameters.value(convolutions[stage].weight), inputGradient: other)
            swap(&current, &other)
        }
        return current
    }

    /// The buffer [count, 3, S, S] holding the tangent that `linearizedForward` pushes through.
    public func tangentBuffer(count: Int) -> Tensor {
        tangentInputs[0].get([count, 3, configuration.imageSize, configuration.imageSize])
    }

    /// Pushes the tangent in `tangentBuffer(count:)` through the critic's Jacobian at the cached samples
    /// sampleOffset..<sampleOffset+count. Returns the directional derivatives [count].
    @discardableResult
    public func linearizedForward(sampleOffset: Int, count: Int) -> Tensor {
        for stage in 0..<convolutions.count {
            let tangent = tangentInputs[stage].current!
            let outputItem = itemSize(stage: stage + 1)
            let tangentOutput = tangentInputs[stage + 1].get([count, outputItem])
            if let norm = norms[stage] {
                let convolutionTangent = normTangentInput.get([count * outputItem])
                convolutions[stage].linearizedForward(backend, parameters, batch: count, tangent: tangent.pointer,
                                                      tangentOutput: convolutionTangent.pointer)
                norm.linearizedForward(parameters, batch: count, sampleOffset: sampleOffset,
                                       tangent: convolutionTangent.pointer, tangentOutput: tangentOutput.pointer,
                                       cache: normCaches[stage], tangentCache: &tangentNormCaches[stage])
            } else {
                convolutions[stage].linearizedForward(backend, parameters, batch: count, tangent: tangent.pointer,
                                                      tangentOutput: tangentOutput.pointer)
            }
            let output = stageInputs[stage + 1].current!.pointer + sampleOffset * outputItem
            LeakyReLU.applyJacobian(output: output, to: tangentOutput.pointer, count: count * outputItem)
        }
        let result = tangentScores.get([count])
        fc.linearizedForward(backend, parameters, batch: count, tangent: tangentInputs[convolutions.count].current!.pointer,
                             tangentOutput: result.pointer)
        return result
    }

    /// Accumulates into `parameters.gradients` the gradient of
    ///   sum_i primalSeed_i * D(x_i) + sum_j seed_j * <grad D(x_{offset+j}), tangent_j>
    /// where primalSeed is live (nonzero) for the first `livePrimalBatch` cached samples, the tangents
    /// are those of the last `linearizedForward`, and seed_j is the seed of the last recording
    /// `inputGradient` over the same samples (pass tangentCount 0 for a plain backward).
    ///
    /// The tangent adjoints need no pass of their own: they only ever meet first-order Jacobians
    /// (DESIGN.md: tangent adjoint in = J^T tangent adjoint out) from the same seed, so they are exactly
    /// the adjoints that recording `inputGradient` kept. That saves the tangent stream's data gradients,
    /// so a critic step makes 10 passes of B samples through the critic's matrices instead of 11.
    public func dualBackward(livePrimalBatch: Int, primalSeed: UnsafePointer<Float>, tangentOffset: Int, tangentCount: Int) {
        let batch = primalBatch
        var live = livePrimalBatch
        if tangentCount > 0 {
            precondition(recordedSamples == tangentOffset..<(tangentOffset + tangentCount),
                         "dualBackward needs the adjoints of a recording inputGradient over the tangent samples")
        }
        var (current, other) = adjointBuffers(&primalAdjoint, batch: batch)
        // Without tangents, the tangent arguments are never read (batch 0): any pointer will do.
        func tangentInput(_ stage: Int) -> UnsafePointer<Float> {
            UnsafePointer(tangentCount > 0 ? tangentInputs[stage].current!.pointer : current)
        }
        func recorded(_ slot: ReusableTensor) -> UnsafePointer<Float> {
            UnsafePointer(tangentCount > 0 ? slot.current!.pointer : current)
        }
        fc.dualBackward(backend, parameters, primalBatch: live, input: stageInputs[convolutions.count].current!.pointer,
                        outputGradient: primalSeed, inputGradient: current,
                        tangentBatch: tangentCount, tangent: tangentInput(convolutions.count),
                        tangentOutputGradient: recorded(recordedSeed), tangentInputGradient: nil)
        for stage in stride(from: convolutions.count - 1, through: 0, by: -1) {
            let outputItem = itemSize(stage: stage + 1)
            let output = stageInputs[stage + 1].current!.pointer
            LeakyReLU.applyJacobian(output: output, to: current, count: live * outputItem)
            if let norm = norms[stage] {
                norm.dualBackward(parameters, batch: batch, livePrimalBatch: live, tangentOffset: tangentOffset,
                                  tangentBatch: tangentCount, outputGradient: current,
                                  tangentOutputGradient: recorded(recordedAtNormalization[stage]),
                                  inputGradient: other, tangentInputGradient: nil,
                                  cache: normCaches[stage], tangentCache: tangentNormCaches[stage])
                swap(&current, &other)
                if tangentCount > 0 { live = batch }
            }
            convolutions[stage].dualBackward(
                backend, parameters, primalBatch: live, input: stageInputs[stage].current!.pointer,
                outputGradient: current, inputGradient: stage > 0 ? other : nil,
                tangentBatch: tangentCount, tangent: tangentInput(stage),
                tangentOutputGradient: recorded(recordedAtConvolution[stage]), tangentInputGradient: nil)
            swap(&current, &other)
        }
    }

    /// The LeakyReLU outputs of the last forward. The critic is smooth in its inputs and parameters
    /// only while their signs stay fixed, so finite-difference checks watch them.
    func activationValues() -> [Float] {
        (1...convolutions.count).flatMap { stage in stageInputs[stage].current!.array }
    }
}
