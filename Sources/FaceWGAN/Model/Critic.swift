import FaceEngine

/// The WGAN-GP critic (DESIGN.md, "Model"): for i in 1..n `conv{i}` (4x4, stride 2, padding 1, bias),
/// then for i >= 2 `norm{i}` (layer norm, unless `--critic-norm none`), LeakyReLU(0.2); `fc` C0*4*4 -> 1.
///
/// Besides forward and backward it has the passes of the exact penalty gradient, each taking the
/// values the earlier ones returned, so the order of calls is visible in the types:
///
///     let pass = try critic.forward(batch: 3 * B)                        // after filling inputBuffer
///     let gradient = try critic.inputGradient(of: pass, samples: 2B..<3B, seed: ones)
///     // v from gradient.values into critic.tangentBuffer(count: B)
///     let tangent = try critic.linearizedForward(at: pass, samples: 2B..<3B)
///     try critic.dualBackward(pass, primalSeed: seeds, seededSamples: 2B, penalty: (gradient, tangent))
///
/// The dual backward reuses the input gradient's adjoints as its tangent adjoints instead of
/// recomputing them (docs/design-changes.md, "The penalty's dual backward reuses the first backward's
/// adjoints"). The values refer to storage the critic reuses from step to step, so each remembers
/// which pass made it: a value used after a newer pass of its kind overwrote that storage stops the
/// program with a message instead of computing with stale numbers.
///
/// Feature maps are kept in the backend's `activationLayout`. Images, tangents and input gradients are
/// NCHW for every caller, and `fc` reads PyTorch's flattening order, so in a channels-last layout the
/// critic converts at those two edges (3 channels at the bottom, C*4*4 values per sample at the top).
public final class Critic {
    public let configuration: ModelConfiguration
    public let parameters: ParameterStore
    public let backend: ComputeBackend
    /// The layout of every feature map between the images and `fc`.
    public let layout: ActivationLayout
    let convolutions: [Conv2d]
    let norms: [LayerNorm?]
    let fc: Dense

    /// stageInputs[i]: input of conv i (i = 0 is the image batch), stageInputs[n]: input of fc.
    private var stageInputs: [ReusableTensor]
    private var normCaches: [LayerNorm.Cache]
    private var scores = ReusableTensor()
    /// tangentInputs[i]: the tangent at the input of conv i (or fc).
    private var tangentInputs: [ReusableTensor]
    private var normTangentInputs: [ReusableTensor]
    private var tangentNormCaches: [LayerNorm.TangentCache]
    private var tangentScores = ReusableTensor()
    /// Adjoints of `inputGradient`, per stage: at the LeakyReLU's input (masked), at the convolution's
    /// output (after the normalization's backward) and the seed. The dual backward reads them back.
    private var adjointsAtActivation: [ReusableTensor]
    private var adjointsAtConvolution: [ReusableTensor]
    private var adjointSeed = ReusableTensor()
    private var imageGradient = ReusableTensor()
    private var primalAdjoints = (ReusableTensor(), ReusableTensor())
    /// In a channels-last layout: the images and tangents converted for conv1, fc's inputs in PyTorch's
    /// order (forward and tangent), and an adjoint on its way between the two orders.
    private var layoutImages = ReusableTensor()
    private var layoutTangents = ReusableTensor()
    private var layoutImageGradient = ReusableTensor()
    private var flattenedInputs = ReusableTensor()
    private var flattenedTangents = ReusableTensor()
    private var flattenedAdjoint = ReusableTensor()
    /// How many times each storage has been written: the passes' values carry the count they saw.
    private var forwardGeneration = 0
    private var adjointGeneration = 0
    private var tangentGeneration = 0

    public init(_ configuration: ModelConfiguration, backend: ComputeBackend) {
        self.configuration = configuration
        self.backend = backend
        let activationLayout = backend.activationLayout
        self.layout = activationLayout
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
                norms.append(LayerNorm("norm\(stage + 1)", channels: channels, plane: size * size, layout: &layout,
                                       activationLayout: activationLayout))
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
        normTangentInputs = (0..<stageCount).map { _ in ReusableTensor() }
        tangentNormCaches = (0..<stageCount).map { _ in LayerNorm.TangentCache() }
        adjointsAtActivation = (0..<stageCount).map { _ in ReusableTensor() }
        adjointsAtConvolution = (0..<stageCount).map { _ in ReusableTensor() }
    }

    /// PyTorch's default initialisation, from `random`.
    public func initialize(random: inout RandomGenerator) {
        for (convolution, norm) in zip(convolutions, norms) {
            convolution.initialize(parameters, random: &random)
            norm?.initialize(parameters)
        }
        fc.initialize(parameters, random: &random)
    }

    /// Values per sample at the input of conv `stage` (stage n: the input of fc).
    private func itemSize(stage: Int) -> Int {
        stage < convolutions.count ? convolutions[stage].geometry.inputItemSize : fc.inputs
    }

    /// Multiply-adds of one sample's forward pass (convolutions and fc).
    public var multiplyAddsPerSample: Int {
        convolutions.reduce(fc.inputs) { $0 + $1.geometry.multiplyAddsPerSample }
    }

    // MARK: - Layout edges

    /// `batch` images or tangents [N, 3, S, S] (NCHW) in the critic's layout: `source` itself in NCHW.
    private func inLayout(_ source: Tensor, batch: Int, into storage: inout ReusableTensor) -> Tensor {
        if layout == .channelsFirst { return source }
        let converted = storage.get(source.shape)
        ActivationLayout.convert(source.pointer, from: .channelsFirst, into: converted.pointer, as: layout, batch: batch,
                                 channels: 3, plane: configuration.imageSize * configuration.imageSize)
        return converted
    }

    private var topChannels: Int { convolutions.last!.geometry.outputChannels }
    private var topPlane: Int { convolutions.last!.geometry.outputPlane }

    /// The top feature maps [batch, C*P] in fc's (PyTorch's) order: `source` itself in NCHW.
    private func flattened(_ source: Tensor, batch: Int, into storage: inout ReusableTensor) -> Tensor {
        if layout == .channelsFirst { return source }
        let converted = storage.get(source.shape)
        ActivationLayout.convert(source.pointer, from: layout, into: converted.pointer, as: .channelsFirst, batch: batch,
                                 channels: topChannels, plane: topPlane)
        return converted
    }

    // MARK: - Forward

    /// What a forward pass keeps for the later passes: every stage's activations and the layer norms'
    /// statistics over the whole batch, and the scores.
    public struct ForwardPass {
        public let batch: Int
        /// D(x) per sample [batch].
        public let scores: Tensor
        /// In the critic's layout; stageInputs[0] is the images as conv1 reads them.
        fileprivate let stageInputs: [Tensor]
        /// fc's input in PyTorch's order (stageInputs.last itself in NCHW).
        fileprivate let flattenedInput: Tensor
        fileprivate let normStatistics: [LayerNorm.Statistics?]
        fileprivate let generation: Int
    }

    /// The buffer [batch, 3, S, S] the next `forward` reads; fill it, then call `forward(batch:)`.
    /// Values of earlier passes are spent from here on (their images are overwritten).
    public func inputBuffer(batch: Int) -> Tensor {
        forwardGeneration += 1
        return stageInputs[0].get([batch, 3, configuration.imageSize, configuration.imageSize])
    }

    /// Scores of the `batch` images in `inputBuffer(batch:)`, with what the later passes need.
    @discardableResult
    public func forward(batch: Int) throws -> ForwardPass {
        let images = stageInputs[0].current
        Self.require(images?.shape.first == batch, "forward(batch: \(batch)) without inputBuffer(batch: \(batch))")
        forwardGeneration += 1
        var inputs = [inLayout(images!, batch: batch, into: &layoutImages)]
        var statistics = [LayerNorm.Statistics?]()
        for stage in 0..<convolutions.count {
            let output = stageInputs[stage + 1].get([batch, itemSize(stage: stage + 1)])
            try convolutions[stage].forward(backend, parameters, batch: batch, input: inputs[stage].pointer,
                                            output: output.pointer)
            statistics.append(norms[stage]?.forward(parameters, batch: batch, input: output.pointer,
                                                    output: output.pointer, cache: &normCaches[stage]))
            LeakyReLU.forward(output.pointer, count: output.count)
            inputs.append(output)
        }
        let result = scores.get([batch])
        let top = flattened(inputs[convolutions.count], batch: batch, into: &flattenedInputs)
        try fc.forward(backend, parameters, batch: batch, input: top.pointer, output: result.pointer)
        return ForwardPass(batch: batch, scores: result, stageInputs: inputs, flattenedInput: top, normStatistics: statistics,
                           generation: forwardGeneration)
    }

    // MARK: - Input gradient (the penalty's first backward)

    /// d(sum_j seed_j * D(x_j))/dx over some samples of a forward pass, with every stage's adjoint kept
    /// (the tangent adjoints of a following dual backward).
    public struct InputGradient {
        public let samples: Range<Int>
        /// [samples.count, 3, S, S]
        public let values: Tensor
        fileprivate let seed: Tensor
        fileprivate let atActivation: [Tensor]
        fileprivate let atConvolution: [Tensor]
        fileprivate let forwardGeneration: Int
        fileprivate let generation: Int
    }

    /// The input gradient of the samples `samples` of `pass` for per-sample seeds [samples.count], no
    /// parameter gradients. Only the layers' data gradients run.
    public func inputGradient(of pass: ForwardPass, samples: Range<Int>, seed: UnsafePointer<Float>) throws -> InputGradient {
        requireCurrent(pass, "inputGradient")
        Self.require(samples.lowerBound >= 0 && samples.upperBound <= pass.batch && !samples.isEmpty,
                     "inputGradient: samples \(samples) of a batch of \(pass.batch)")
        adjointGeneration += 1
        let count = samples.count, stageCount = convolutions.count
        let seedCopy = adjointSeed.get([count])
        seedCopy.pointer.update(from: seed, count: count)
        var atActivation = [Tensor?](repeating: nil, count: stageCount)
        var atConvolution = [Tensor?](repeating: nil, count: stageCount)
        // above: the adjoint at the output of stage `stage`'s LeakyReLU, from the layer above.
        var above = adjointsAtActivation[stageCount - 1].get([count, itemSize(stage: stageCount)])
        if layout == .channelsFirst {
            try fc.inputGradient(backend, parameters, batch: count, outputGradient: seed, inputGradient: above.pointer)
        } else {
            let flat = flattenedAdjoint.get([count, itemSize(stage: stageCount)])
            try fc.inputGradient(backend, parameters, batch: count, outputGradient: seed, inputGradient: flat.pointer)
            ActivationLayout.convert(flat.pointer, from: .channelsFirst, into: above.pointer, as: layout, batch: count,
                                     channels: topChannels, plane: topPlane)
        }
        var result: Tensor! = nil
        for stage in stride(from: stageCount - 1, through: 0, by: -1) {
            let outputItem = itemSize(stage: stage + 1)
            let output = pass.stageInputs[stage + 1].pointer + samples.lowerBound * outputItem
            LeakyReLU.applyJacobian(output: output, to: above.pointer, count: count * outputItem)
            atActivation[stage] = above
            var atOutput = above
            if let norm = norms[stage] {
                atOutput = adjointsAtConvolution[stage].get([count, outputItem])
                norm.backward(parameters, outputGradient: above.pointer, inputGradient: atOutput.pointer,
                              statistics: pass.normStatistics[stage]!.samples(samples), parameterGradients: false)
            }
            atConvolution[stage] = atOutput
            let imageShape = [count, 3, configuration.imageSize, configuration.imageSize]
            let below: Tensor
            if stage > 0 {
                below = adjointsAtActivation[stage - 1].get([count, itemSize(stage: stage)])
            } else if layout == .channelsFirst {
                below = imageGradient.get(imageShape)
            } else {
                below = layoutImageGradient.get(imageShape)
            }
            try convolutions[stage].inputGradient(backend, parameters, batch: count, outputGradient: atOutput.pointer,
                                                  inputGradient: below.pointer)
            above = below
            result = below
        }
        if layout != .channelsFirst {
            let images = imageGradient.get([count, 3, configuration.imageSize, configuration.imageSize])
            ActivationLayout.convert(result.pointer, from: layout, into: images.pointer, as: .channelsFirst, batch: count,
                                     channels: 3, plane: configuration.imageSize * configuration.imageSize)
            result = images
        }
        return InputGradient(samples: samples, values: result, seed: seedCopy, atActivation: atActivation.map { $0! },
                             atConvolution: atConvolution.map { $0! }, forwardGeneration: pass.generation,
                             generation: adjointGeneration)
    }

    // MARK: - Linearized forward

    /// The critic's Jacobian applied to one tangent per sample, at the primal points of a forward pass.
    public struct TangentPass {
        public let samples: Range<Int>
        /// <grad D(x_j), tangent_j> per sample [samples.count].
        public let derivatives: Tensor
        /// In the critic's layout; tangentInputs[0] is the tangents as conv1 reads them.
        fileprivate let tangentInputs: [Tensor]
        /// fc's tangent input in PyTorch's order.
        fileprivate let flattenedTangent: Tensor
        fileprivate let normStatistics: [LayerNorm.TangentStatistics?]
        fileprivate let forwardGeneration: Int
        fileprivate let generation: Int
    }

    /// The buffer [count, 3, S, S] holding the tangent that the next `linearizedForward` pushes through.
    /// Values of earlier tangent passes are spent from here on.
    public func tangentBuffer(count: Int) -> Tensor {
        tangentGeneration += 1
        return tangentInputs[0].get([count, 3, configuration.imageSize, configuration.imageSize])
    }

    /// Pushes the tangents in `tangentBuffer(count:)` through the critic's Jacobian at the samples
    /// `samples` of `pass` (conv and fc without biases, the kept LeakyReLU slopes, the layer norms'
    /// Jacobians).
    @discardableResult
    public func linearizedForward(at pass: ForwardPass, samples: Range<Int>) throws -> TangentPass {
        requireCurrent(pass, "linearizedForward")
        let count = samples.count
        Self.require(samples.lowerBound >= 0 && samples.upperBound <= pass.batch
                     && tangentInputs[0].current?.shape.first == count,
                     "linearizedForward: fill tangentBuffer(count: \(count)) for samples \(samples) of a batch of \(pass.batch)")
        tangentGeneration += 1
        var tangents = [inLayout(tangentInputs[0].current!, batch: count, into: &layoutTangents)]
        var statistics = [LayerNorm.TangentStatistics?]()
        for stage in 0..<convolutions.count {
            let outputItem = itemSize(stage: stage + 1)
            let tangentOutput = tangentInputs[stage + 1].get([count, outputItem])
            if let norm = norms[stage] {
                let convolutionTangent = normTangentInputs[stage].get([count, outputItem])
                try convolutions[stage].linearizedForward(backend, parameters, batch: count, tangent: tangents[stage].pointer,
                                                          tangentOutput: convolutionTangent.pointer)
                statistics.append(norm.linearizedForward(parameters, tangent: convolutionTangent.pointer,
                                                         tangentOutput: tangentOutput.pointer,
                                                         statistics: pass.normStatistics[stage]!.samples(samples),
                                                         tangentCache: &tangentNormCaches[stage]))
            } else {
                try convolutions[stage].linearizedForward(backend, parameters, batch: count, tangent: tangents[stage].pointer,
                                                          tangentOutput: tangentOutput.pointer)
                statistics.append(nil)
            }
            let output = pass.stageInputs[stage + 1].pointer + samples.lowerBound * outputItem
            LeakyReLU.applyJacobian(output: output, to: tangentOutput.pointer, count: count * outputItem)
            tangents.append(tangentOutput)
        }
        let result = tangentScores.get([count])
        let top = flattened(tangents[convolutions.count], batch: count, into: &flattenedTangents)
        try fc.linearizedForward(backend, parameters, batch: count, tangent: top.pointer, tangentOutput: result.pointer)
        return TangentPass(samples: samples, derivatives: result, tangentInputs: tangents, flattenedTangent: top,
                           normStatistics: statistics, forwardGeneration: pass.generation, generation: tangentGeneration)
    }

    // MARK: - Dual backward

    /// Accumulates into `parameters.gradients` the gradient of
    ///   sum_{i < seededSamples} primalSeed_i * D(x_i) + sum_j gradient.seed_j * <grad D(x_j), tangent_j>
    /// where the second sum runs over the penalty's samples, which must be the rest of the batch
    /// (seededSamples..<pass.batch). Without `penalty` it is an ordinary backward of the seeded samples.
    ///
    /// The tangent adjoints need no pass of their own: they only ever meet first-order Jacobians
    /// (DESIGN.md: tangent adjoint in = J^T tangent adjoint out) from the same seed, so they are exactly
    /// the adjoints `inputGradient` kept. That saves the tangent stream's data gradients, so a critic
    /// step makes 10 passes of B samples through the critic's matrices instead of 11.
    public func dualBackward(_ pass: ForwardPass, primalSeed: UnsafePointer<Float>, seededSamples: Int,
                             penalty: (gradient: InputGradient, tangent: TangentPass)? = nil) throws {
        requireCurrent(pass, "dualBackward")
        let batch = pass.batch
        Self.require(seededSamples >= 0 && seededSamples <= batch, "dualBackward: \(seededSamples) seeded samples of \(batch)")
        if case let (gradient, tangent)? = penalty {
            Self.require(gradient.forwardGeneration == pass.generation && tangent.forwardGeneration == pass.generation,
                         "dualBackward: the input gradient and the tangents must come from this forward pass")
            Self.require(gradient.generation == adjointGeneration,
                         "dualBackward: another inputGradient has run since this one (its adjoints are overwritten)")
            Self.require(tangent.generation == tangentGeneration,
                         "dualBackward: another linearizedForward or tangentBuffer has run since this one")
            Self.require(gradient.samples == tangent.samples && gradient.samples == seededSamples..<batch,
                         "dualBackward: the penalty's samples \(gradient.samples) / \(tangent.samples) must be "
                            + "the batch after the seeded ones, \(seededSamples)..<\(batch)")
        }
        let tangentCount = penalty?.gradient.samples.count ?? 0
        let largest = (0...convolutions.count).map(itemSize(stage:)).max()!
        var current = primalAdjoints.0.get([batch * largest]).pointer
        var other = primalAdjoints.1.get([batch * largest]).pointer
        // Without a penalty the tangent stream has no samples and its pointers are never read.
        func tangentStream(input: (TangentPass) -> Tensor, adjoint: (InputGradient) -> Tensor) -> AdjointStream {
            guard case let (gradient, tangent)? = penalty else {
                return AdjointStream(batch: 0, input: current, outputGradient: current, inputGradient: nil)
            }
            return AdjointStream(batch: tangentCount, input: input(tangent).pointer,
                                 outputGradient: adjoint(gradient).pointer, inputGradient: nil)
        }
        let stageCount = convolutions.count
        var live = seededSamples
        try fc.dualBackward(backend, parameters,
                            primal: AdjointStream(batch: live, input: pass.flattenedInput.pointer,
                                                  outputGradient: primalSeed, inputGradient: current),
                            tangent: tangentStream(input: { $0.flattenedTangent }, adjoint: { $0.seed }))
        if layout != .channelsFirst {
            ActivationLayout.convert(current, from: .channelsFirst, into: other, as: layout, batch: live,
                                     channels: topChannels, plane: topPlane)
            swap(&current, &other)
        }
        for stage in stride(from: stageCount - 1, through: 0, by: -1) {
            let outputItem = itemSize(stage: stage + 1)
            LeakyReLU.applyJacobian(output: pass.stageInputs[stage + 1].pointer, to: current, count: live * outputItem)
            if let norm = norms[stage], let statistics = pass.normStatistics[stage] {
                let seeded = statistics.samples(0..<seededSamples)
                if case let (gradient, tangent)? = penalty {
                    // The penalty's samples: a primal adjoint only below the first norm (zero up to it),
                    // always a tangent adjoint, and the second-order term between them.
                    let penaltyAdjoint = current + seededSamples * outputItem
                    if live == seededSamples { penaltyAdjoint.update(repeating: 0, count: tangentCount * outputItem) }
                    norm.backward(parameters, outputGradient: current, inputGradient: other, statistics: seeded)
                    norm.dualBackward(parameters, outputGradient: penaltyAdjoint,
                                      tangentOutputGradient: gradient.atActivation[stage].pointer,
                                      inputGradient: other + seededSamples * outputItem, tangentInputGradient: nil,
                                      statistics: statistics.samples(seededSamples..<batch),
                                      tangentStatistics: tangent.normStatistics[stage]!)
                    live = batch
                } else {
                    norm.backward(parameters, outputGradient: current, inputGradient: other, statistics: seeded)
                }
                swap(&current, &other)
            }
            try convolutions[stage].dualBackward(
                backend, parameters,
                primal: AdjointStream(batch: live, input: pass.stageInputs[stage].pointer, outputGradient: current,
                                      inputGradient: stage > 0 ? other : nil),
                tangent: tangentStream(input: { $0.tangentInputs[stage] }, adjoint: { $0.atConvolution[stage] }))
            swap(&current, &other)
        }
    }

    // MARK: - Checks

    private func requireCurrent(_ pass: ForwardPass, _ caller: String) {
        Self.require(pass.generation == forwardGeneration,
                     "\(caller): the critic has run another forward (or handed out its input buffer) since this pass")
    }

    /// A misuse of the passes stops the program with a message, in every build (-Ounchecked drops
    /// preconditions), since going on would compute with overwritten numbers.
    private static func require(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { fatalError("Critic: \(message())") }
    }

    /// The LeakyReLU outputs of the last forward. The critic is smooth in its inputs and parameters
    /// only while their signs stay fixed, so finite-difference checks (after a whole loss) watch them.
    func activationValues() -> [Float] {
        (1...convolutions.count).flatMap { stage in stageInputs[stage].current!.array }
    }
}
