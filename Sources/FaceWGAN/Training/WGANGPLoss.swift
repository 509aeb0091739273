import FaceEngine

/// The terms of one critic loss evaluation (DESIGN.md, "Training").
public struct CriticLossTerms: Equatable, Sendable {
    /// W = mean D(x) - mean D(x~), the Wasserstein estimate reported to users.
    /// (Reductions over the batch are accumulated in Double, so the terms are reported as Double.)
    public var wasserstein: Double
    /// lambda * mean_i (||grad D(x^_i)|| - 1)^2
    public var penalty: Double
    /// L_D = mean D(x~) - mean D(x) + penalty
    public var loss: Double { -wasserstein + penalty }
    /// mean_i ||grad D(x^_i)||
    public var meanGradientNorm: Double
    /// false on the critic steps that `--penalty-every` leaves without the penalty (then `penalty` and
    /// `meanGradientNorm` are 0: not evaluated).
    public var penalized = true

    public init(wasserstein: Double, penalty: Double, meanGradientNorm: Double, penalized: Bool = true) {
        self.wasserstein = wasserstein
        self.penalty = penalty
        self.meanGradientNorm = meanGradientNorm
        self.penalized = penalized
    }
}

/// The WGAN-GP losses and their exact gradients for a generator / critic pair.
///
/// The critic sees real, fake and interpolated images in one concatenated batch [3B, 3, S, S].
/// The penalty's parameter gradient is computed forward-over-reverse: backward to the interpolates'
/// input gradients g_i, v_i = lambda*2*(||g_i|| - 1)/(B*||g_i||)*g_i, a linearized forward of v, then a
/// dual backward whose parameter gradients are exactly d(penalty)/d(theta).
public final class WGANGPLoss {
    public let generator: Generator
    public let critic: Critic
    public var lambda: Float
    private var seeds = ReusableTensor()

    public init(generator: Generator, critic: Critic, lambda: Float = 10) {
        self.generator = generator
        self.critic = critic
        self.lambda = lambda
    }

    /// Sets `critic.parameters.gradients` to dL_D/dtheta for real and fake batches [B, 3, S, S] and
    /// interpolation weights t [B] (x^ = t*real + (1-t)*fake). Returns the loss terms.
    ///
    /// `penaltyScale`: the lazy regularisation of StyleGAN2 (`--penalty-every K`): nil leaves the penalty
    /// out of this step (real and fake only, t unused), K weights it by K, so that over K steps its
    /// gradient has the weight it has when every step carries it.
    public func criticLossAndGradients(real: UnsafePointer<Float>, fake: UnsafePointer<Float>,
                                       interpolation t: UnsafePointer<Float>, batch: Int,
                                       penaltyScale: Float? = 1) throws -> CriticLossTerms {
        guard let penaltyScale else { return try wassersteinLossAndGradients(real: real, fake: fake, batch: batch) }
        let item = critic.configuration.imageItemSize
        let input = critic.inputBuffer(batch: 3 * batch).pointer
        input.update(from: real, count: batch * item)
        (input + batch * item).update(from: fake, count: batch * item)
        let interpolates = input + 2 * batch * item
        Parallel.forEach(batch) { sample in
            let weight = t[sample], base = sample * item
            for index in base..<(base + item) {
                interpolates[index] = weight * real[index] + (1 - weight) * fake[index]
            }
        }
        let pass = try critic.forward(batch: 3 * batch)
        let scores = pass.scores
        var realSum = 0.0, fakeSum = 0.0
        for sample in 0..<batch {
            realSum += Double(scores[sample])
            fakeSum += Double(scores[batch + sample])
        }
        let wasserstein = (realSum - fakeSum) / Double(batch)

        // g_i = grad_x D(x^_i): backward from seed 1 over the interpolates, input gradients only.
        let seed = seeds.get([4 * batch])
        let ones = seed.pointer + 3 * batch
        ones.update(repeating: 1, count: batch)
        let penaltySamples = (2 * batch)..<(3 * batch)
        let inputGradient = try critic.inputGradient(of: pass, samples: penaltySamples, seed: ones)
        let gradient = inputGradient.values.pointer

        // v_i into the tangent buffer; the penalty and mean norm on the way.
        let tangent = critic.tangentBuffer(count: batch).pointer
        var penaltySum = 0.0, normSum = 0.0
        let lambda = lambda, weight = lambda * penaltyScale
        for sample in 0..<batch {
            let g = gradient + sample * item, v = tangent + sample * item
            var squares: Double = 0
            for index in 0..<item { squares += Double(g[index] * g[index]) }
            let norm = squares.squareRoot()
            penaltySum += (norm - 1) * (norm - 1)
            normSum += norm
            let scale = Float(norm > 0 ? Double(weight) * 2 * (norm - 1) / (Double(batch) * norm) : 0)
            for index in 0..<item { v[index] = scale * g[index] }
        }
        let tangentPass = try critic.linearizedForward(at: pass, samples: penaltySamples)

        // Seeds: d L_D / d D(x) = -1/B for real, +1/B for fake; the tangent output's seed is 1 (`ones`).
        let primal = seed.pointer
        primal.update(repeating: -1 / Float(batch), count: batch)
        (primal + batch).update(repeating: 1 / Float(batch), count: batch)
        critic.parameters.zeroGradients()
        try critic.dualBackward(pass, primalSeed: primal, seededSamples: 2 * batch,
                                penalty: (gradient: inputGradient, tangent: tangentPass))
        return CriticLossTerms(wasserstein: wasserstein, penalty: Double(lambda) * penaltySum / Double(batch),
                               meanGradientNorm: normSum / Double(batch))
    }

    /// A critic step without the penalty: L = mean D(x~) - mean D(x), forward and backward of the real
    /// and fake samples only.
    private func wassersteinLossAndGradients(real: UnsafePointer<Float>, fake: UnsafePointer<Float>,
                                             batch: Int) throws -> CriticLossTerms {
        let item = critic.configuration.imageItemSize
        let input = critic.inputBuffer(batch: 2 * batch).pointer
        input.update(from: real, count: batch * item)
        (input + batch * item).update(from: fake, count: batch * item)
        let pass = try critic.forward(batch: 2 * batch)
        var realSum = 0.0, fakeSum = 0.0
        for sample in 0..<batch {
            realSum += Double(pass.scores[sample])
            fakeSum += Double(pass.scores[batch + sample])
        }
        let primal = seeds.get([4 * batch]).pointer
        primal.update(repeating: -1 / Float(batch), count: batch)
        (primal + batch).update(repeating: 1 / Float(batch), count: batch)
        critic.parameters.zeroGradients()
        try critic.dualBackward(pass, primalSeed: primal, seededSamples: 2 * batch)
        return CriticLossTerms(wasserstein: (realSum - fakeSum) / Double(batch), penalty: 0, meanGradientNorm: 0, penalized: false)
    }

    /// Sets `generator.parameters.gradients` to dL_G/dtheta, L_G = -mean D(G(z)), where `fake` is the
    /// generator's latest training-mode forward (B images). Returns L_G.
    public func generatorLossAndGradients(fake: Generator.ForwardPass) throws -> Double {
        let batch = fake.count
        let input = critic.inputBuffer(batch: batch)
        input.pointer.update(from: fake.images.pointer, count: input.count)
        let pass = try critic.forward(batch: batch)
        var sum = 0.0
        for sample in 0..<batch { sum += Double(pass.scores[sample]) }
        let seed = seeds.get([4 * batch])
        seed.pointer.update(repeating: -1 / Float(batch), count: batch)
        let imageGradient = try critic.inputGradient(of: pass, samples: 0..<batch, seed: seed.pointer)
        generator.parameters.zeroGradients()
        try generator.backward(fake, imageGradient: imageGradient.values.pointer)
        return -sum / Double(batch)
    }
}
