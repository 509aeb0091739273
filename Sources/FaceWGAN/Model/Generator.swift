import FaceEngine

/// The DCGAN-style generator (DESIGN.md, "Model"): `fc` Z -> C0*4*4, reshape [C0, 4, 4], `bn0`, ReLU,
/// then for i in 1..n-1 `up{i}` (ConvTranspose2d without bias, channels halve), `bn{i}`, ReLU, and
/// `out` (ConvTranspose2d w -> 3 with bias), tanh. Output images [N, 3, S, S] in [-1, 1].
///
/// Feature maps are kept in the backend's `activationLayout`; only the fc's output (PyTorch's
/// reshape order) and the images (NCHW for every caller) are converted, at the edges.
public final class Generator {
    public enum Mode {
        /// Batch statistics; caches for backward; moves the running statistics when asked.
        case training(updateRunningStatistics: Bool)
        /// Running statistics: each image depends on its own latent alone.
        case evaluation
    }

    public let configuration: ModelConfiguration
    public let parameters: ParameterStore
    /// BatchNorm running statistics (`bn{i}.running_mean`, `bn{i}.running_var`).
    public let buffers: ParameterStore
    public let backend: ComputeBackend
    /// The layout of every feature map between `fc` and the images.
    public let layout: ActivationLayout
    let fc: Dense
    let norms: [BatchNorm2d]
    let upsamplings: [ConvTranspose2d]
    let output: ConvTranspose2d

    private var latents = ReusableTensor()
    private var preNormalization = ReusableTensor()
    /// activations[i]: ReLU output after bn{i}, the input of up{i+1} (or of out).
    private var activations: [ReusableTensor]
    private var normCaches: [BatchNorm2d.Cache]
    private var images = ReusableTensor()
    /// In a channels-last layout: fc's output in PyTorch order, and the images before their conversion.
    private var fcOutput = ReusableTensor()
    private var layoutImages = ReusableTensor()
    private var gradients = (ReusableTensor(), ReusableTensor())
    /// Counts the forwards (and statistics passes) that overwrite the storage a `ForwardPass` refers to.
    private var forwardGeneration = 0
    /// Set by data-parallel training: training-mode BatchNorm statistics and backward sums then cover
    /// the whole batch across processes (synchronised batch norm), so each process's part of the batch
    /// is normalized exactly as in one process. nil in one process.
    public let batchNormSynchronization: BatchNorm2d.Synchronization?

    public init(_ configuration: ModelConfiguration, backend: ComputeBackend,
                batchNormSynchronization: BatchNorm2d.Synchronization? = nil) {
        self.configuration = configuration
        self.batchNormSynchronization = batchNormSynchronization
        self.backend = backend
        let activationLayout = backend.activationLayout
        self.layout = activationLayout
        var layout = ParameterLayout(), bufferLayout = ParameterLayout()
        var channels = configuration.topChannels, size = 4
        fc = Dense("fc", inputs: configuration.latentDimension, outputs: channels * 16, layout: &layout)
        var norms = [BatchNorm2d("bn0", channels: channels, plane: 16, layout: &layout, buffers: &bufferLayout,
                                 activationLayout: activationLayout)]
        var upsamplings = [ConvTranspose2d]()
        for stage in 1..<configuration.stages {
            upsamplings.append(ConvTranspose2d("up\(stage)", inputChannels: channels, outputChannels: channels / 2,
                                               inputHeight: size, inputWidth: size, bias: false, layout: &layout))
            channels /= 2
            size *= 2
            norms.append(BatchNorm2d("bn\(stage)", channels: channels, plane: size * size, layout: &layout,
                                     buffers: &bufferLayout, activationLayout: activationLayout))
        }
        output = ConvTranspose2d("out", inputChannels: channels, outputChannels: 3, inputHeight: size, inputWidth: size,
                                 bias: true, layout: &layout)
        self.norms = norms
        self.upsamplings = upsamplings
        parameters = ParameterStore(layout)
        buffers = ParameterStore(bufferLayout, withGradients: false)
        activations = norms.map { _ in ReusableTensor() }
        normCaches = norms.map { _ in BatchNorm2d.Cache() }
    }

    public func initialize(random: inout RandomGenerator) {
        fc.initialize(parameters, random: &random)
        for norm in norms { norm.initialize(parameters, buffers: buffers) }
        for upsampling in upsamplings { upsampling.initialize(parameters, random: &random) }
        output.initialize(parameters, random: &random)
    }

    /// Multiply-adds of one sample's forward pass.
    public var multiplyAddsPerSample: Int {
        upsamplings.reduce(fc.inputs * fc.outputs + output.adjointGeometry.multiplyAddsPerSample) {
            $0 + $1.adjointGeometry.multiplyAddsPerSample
        }
    }

    private func itemSize(normalization index: Int) -> Int { norms[index].channels * norms[index].plane }

    /// Normalizes layer `index`'s input in `preNormalization` into `activations[index]`, then ReLU.
    private func normalize(_ index: Int, mode: Mode, count: Int) -> Tensor {
        let input = preNormalization.current!.pointer
        let activation = activations[index].get([count, itemSize(normalization: index)])
        switch mode {
        case .training(let update):
            norms[index].forwardTraining(parameters, buffers, batch: count, input: input, output: activation.pointer,
                                         cache: &normCaches[index], updateRunningStatistics: update,
                                         synchronization: batchNormSynchronization)
        case .evaluation:
            norms[index].forwardEvaluation(parameters, buffers, batch: count, input: input, output: activation.pointer)
        }
        ReLU.forward(activation.pointer, count: activation.count)
        return activation
    }

    /// Runs the layers before bn{index} and returns its input (preNormalization) [count, C, plane].
    private func forwardToNormalization(_ index: Int, latents z: UnsafePointer<Float>, count: Int, mode: Mode) throws -> Tensor {
        forwardGeneration += 1
        let top = preNormalization.get([count * itemSize(normalization: 0)])
        if layout == .channelsFirst {
            try fc.forward(backend, parameters, batch: count, input: z, output: top.pointer)
        } else {
            let flat = fcOutput.get([count * itemSize(normalization: 0)])
            try fc.forward(backend, parameters, batch: count, input: z, output: flat.pointer)
            ActivationLayout.convert(flat.pointer, from: .channelsFirst, into: top.pointer, as: layout, batch: count,
                                     channels: norms[0].channels, plane: norms[0].plane)
        }
        for stage in 0..<index {
            let activation = normalize(stage, mode: mode, count: count)
            let next = preNormalization.get([count * itemSize(normalization: stage + 1)])
            try upsamplings[stage].forward(backend, parameters, batch: count, input: activation.pointer, output: next.pointer)
        }
        return preNormalization.current!
    }

    /// What a forward keeps for its backward: the latents, every stage's activations (and, in the
    /// generator's storage, the BatchNorm caches) and the images. It refers to storage the next forward
    /// (or statistics pass) overwrites; a backward checks that it was given the latest pass.
    public struct ForwardPass {
        public let count: Int
        /// [count, 3, S, S] in [-1, 1].
        public let images: Tensor
        fileprivate let latents: Tensor
        /// activations[i]: the ReLU output after bn{i}, the input of up{i+1} (or of out).
        fileprivate let activations: [Tensor]
        fileprivate let training: Bool
        fileprivate let generation: Int
    }

    /// Images [count, 3, S, S] for latents z [count, Z], with what a backward needs in training mode.
    public func forward(latents z: UnsafePointer<Float>, count: Int, mode: Mode) throws -> ForwardPass {
        let kept = latents.get([count, configuration.latentDimension])
        kept.pointer.update(from: z, count: kept.count)
        _ = try forwardToNormalization(norms.count - 1, latents: kept.pointer, count: count, mode: mode)
        let last = normalize(norms.count - 1, mode: mode, count: count)
        let result = images.get([count, 3, configuration.imageSize, configuration.imageSize])
        if layout == .channelsFirst {
            try output.forward(backend, parameters, batch: count, input: last.pointer, output: result.pointer)
        } else {
            let produced = layoutImages.get([result.count])
            try output.forward(backend, parameters, batch: count, input: last.pointer, output: produced.pointer)
            ActivationLayout.convert(produced.pointer, from: layout, into: result.pointer, as: .channelsFirst, batch: count,
                                     channels: 3, plane: configuration.imageSize * configuration.imageSize)
        }
        Tanh.forward(result.pointer, count: result.count)
        var training = false
        if case .training = mode { training = true }
        return ForwardPass(count: count, images: result, latents: kept, activations: activations.map { $0.current! },
                           training: training, generation: forwardGeneration)
    }

    /// Accumulates into `parameters.gradients` the gradient given dL/dimages [count, 3, S, S] of a
    /// training-mode `pass`, which must be this generator's latest. `imageGradient` is overwritten.
    public func backward(_ pass: ForwardPass, imageGradient: UnsafeMutablePointer<Float>) throws {
        Self.require(pass.training, "backward of an evaluation-mode forward (it keeps no batch statistics)")
        Self.require(isCurrent(pass), "backward: the generator has run another forward (or a statistics pass) since this pass")
        let count = pass.count
        let largest = max(norms.indices.map(itemSize(normalization:)).max()!, configuration.imageItemSize)
        var current = gradients.0.get([count * largest]).pointer
        var other = gradients.1.get([count * largest]).pointer
        Tanh.backward(output: pass.images.pointer, gradient: imageGradient, count: count * configuration.imageItemSize)
        var outputGradient = UnsafePointer(imageGradient)
        if layout != .channelsFirst {
            let converted = layoutImages.get([count * configuration.imageItemSize])
            ActivationLayout.convert(imageGradient, from: .channelsFirst, into: converted.pointer, as: layout, batch: count,
                                     channels: 3, plane: configuration.imageSize * configuration.imageSize)
            outputGradient = UnsafePointer(converted.pointer)
        }
        let last = norms.count - 1
        try output.backward(backend, parameters, batch: count, input: pass.activations[last].pointer,
                            outputGradient: outputGradient, inputGradient: current)
        for index in stride(from: last, through: 0, by: -1) {
            let activation = pass.activations[index]
            ReLU.backward(output: activation.pointer, gradient: current, count: activation.count)
            norms[index].backward(parameters, batch: count, outputGradient: current, inputGradient: other,
                                  cache: normCaches[index], synchronization: batchNormSynchronization)
            swap(&current, &other)
            if index > 0 {
                try upsamplings[index - 1].backward(backend, parameters, batch: count,
                                                    input: pass.activations[index - 1].pointer,
                                                    outputGradient: current, inputGradient: other)
                swap(&current, &other)
            }
        }
        if layout != .channelsFirst {
            ActivationLayout.convert(current, from: layout, into: other, as: .channelsFirst, batch: count,
                                     channels: norms[0].channels, plane: norms[0].plane)
            swap(&current, &other)
        }
        try fc.backward(backend, parameters, batch: count, input: pass.latents.pointer, outputGradient: current,
                        inputGradient: nil)
    }

    /// Whether `pass` is still this generator's latest (its storage not overwritten since).
    func isCurrent(_ pass: ForwardPass) -> Bool { pass.generation == forwardGeneration }

    /// A misuse of the passes stops the program with a message, in every build (-Ounchecked drops
    /// preconditions), since going on would compute with overwritten numbers.
    private static func require(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { fatalError("Generator: \(message())") }
    }

    /// Sets every BatchNorm's running statistics to exactly what one training-mode pass over all of
    /// `latents` [M, Z] would use: mean and biased variance over the whole set, layer by layer (each
    /// later layer sees the earlier ones normalized by the full-set statistics), computed in chunks
    /// of `chunk` latents (a training batch's worth, so no buffer grows past training's). The stored
    /// variance is unbiased, as PyTorch's.
    public func recomputeBatchNormStatistics(latents z: UnsafePointer<Float>, count: Int, chunk: Int = 64) throws {
        let zDim = configuration.latentDimension
        for index in norms.indices {
            let channels = norms[index].channels, plane = norms[index].plane
            var sums = [Double](repeating: 0, count: channels)
            var squares = [Double](repeating: 0, count: channels)
            var first = 0
            while first < count {
                let size = min(chunk, count - first)
                let input = try forwardToNormalization(index, latents: z + first * zDim, count: size, mode: .evaluation)
                let pointer = input.pointer
                sums.withUnsafeMutableBufferPointer { sumsBuffer in
                    squares.withUnsafeMutableBufferPointer { squaresBuffer in
                        let layout = layout
                        Parallel.forEach(channels) { c in
                            var sum = 0.0, square = 0.0
                            for n in 0..<size {
                                for position in 0..<plane {
                                    let value = Double(pointer[layout.index(sample: n, channel: c, position: position,
                                                                            channels: channels, plane: plane)])
                                    sum += value
                                    square += value * value
                                }
                            }
                            sumsBuffer[c] += sum
                            squaresBuffer[c] += square
                        }
                    }
                }
                first += size
            }
            // Until all layers are done, running_var holds the biased variance: that is what a
            // training-mode pass normalizes with.
            let total = Double(count * plane)
            let means = buffers.value(norms[index].runningMean), variances = buffers.value(norms[index].runningVariance)
            for c in 0..<channels {
                let mean = sums[c] / total
                means[c] = Float(mean)
                variances[c] = Float(max(squares[c] / total - mean * mean, 0))
            }
        }
        for norm in norms {
            let total = Double(count * norm.plane)
            let unbiased = Float(total > 1 ? total / (total - 1) : 1)
            let variances = buffers.value(norm.runningVariance)
            for c in 0..<norm.channels { variances[c] *= unbiased }
        }
    }

    /// The inputs of the ReLUs of the latest forward (see `Critic.activationValues`), from the caches of
    /// batch normalization: their signs decide the ReLU pattern.
    func activationValues() -> [Float] {
        zip(norms, normCaches).flatMap { norm, cache -> [Float] in
            let normalized = cache.normalized.current!.array
            let gamma = parameters.array(norm.scale), beta = parameters.array(norm.offset)
            return normalized.enumerated().map { index, h in
                let channel = layout == .channelsFirst ? (index / norm.plane) % norm.channels : index % norm.channels
                return gamma[channel] * h + beta[channel]
            }
        }
    }
}
