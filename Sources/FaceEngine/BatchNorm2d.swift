import Foundation

/// Batch normalization over (N, H, W) per channel, with PyTorch's semantics:
/// training normalizes with the batch mean and biased variance, and moves the running statistics by
/// `momentum` (0.1) toward the batch mean and the unbiased variance; evaluation uses the running
/// statistics, so each sample's output depends on that sample alone. eps = 1e-5.
public struct BatchNorm2d {
    public let channels: Int
    public let plane: Int
    public let scale: ParameterSlot      // PyTorch "weight" (gamma)
    public let offset: ParameterSlot     // PyTorch "bias" (beta)
    public let runningMean: ParameterSlot
    public let runningVariance: ParameterSlot
    public let epsilon: Float = 1e-5
    public let momentum: Float = 0.1

    /// What backward needs: the normalized input and each channel's 1/sqrt(var + eps).
    public struct Cache {
        public var normalized = ReusableTensor()
        public var inverseDeviation = ReusableTensor()
        public init() {}
    }

    public init(_ name: String, channels: Int, plane: Int, layout: inout ParameterLayout, buffers: inout ParameterLayout) {
        self.channels = channels
        self.plane = plane
        scale = layout.add("\(name).weight", [channels])
        offset = layout.add("\(name).bias", [channels])
        runningMean = buffers.add("\(name).running_mean", [channels])
        runningVariance = buffers.add("\(name).running_var", [channels])
    }

    public func initialize(_ store: ParameterStore, buffers: ParameterStore) {
        Initialization.constant(store, scale, 1)
        Initialization.constant(store, offset, 0)
        Initialization.constant(buffers, runningMean, 0)
        Initialization.constant(buffers, runningVariance, 1)
    }

    /// Per-channel mean and biased variance of x: [N, C, plane], accumulated in Double.
    public func statistics(batch: Int, input: UnsafePointer<Float>) -> (mean: [Double], variance: [Double]) {
        var mean = [Double](repeating: 0, count: channels)
        var variance = [Double](repeating: 0, count: channels)
        let count = Double(batch * plane)
        mean.withUnsafeMutableBufferPointer { means in
            variance.withUnsafeMutableBufferPointer { variances in
                Parallel.forEach(channels) { c in
                    var sum = 0.0
                    for n in 0..<batch {
                        sum += Double(VectorReduction.sum(input + (n * channels + c) * plane, count: plane))
                    }
                    let mu = sum / count
                    var squares = 0.0
                    for n in 0..<batch {
                        squares += Double(VectorReduction.squaredDeviations(input + (n * channels + c) * plane,
                                                                            count: plane, center: Float(mu)))
                    }
                    means[c] = mu
                    variances[c] = squares / count
                }
            }
        }
        return (mean, variance)
    }

    /// Training forward: normalizes with batch statistics, caches what backward needs, and (when
    /// `updateRunningStatistics`) moves the running statistics as PyTorch does.
    public func forwardTraining(_ store: ParameterStore, _ buffers: ParameterStore, batch: Int,
                                input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                                cache: inout Cache, updateRunningStatistics: Bool = true) {
        let (mean, variance) = statistics(batch: batch, input: input)
        let normalized = cache.normalized.get([batch, channels, plane])
        let inverse = cache.inverseDeviation.get([channels])
        for c in 0..<channels { inverse[c] = Float(1 / (variance[c] + Double(epsilon)).squareRoot()) }
        let gamma = store.value(scale), beta = store.value(offset)
        let h = normalized.pointer, r = inverse.pointer
        mean.withUnsafeBufferPointer { means in
            Parallel.forEach(batch * channels) { item in
                let c = item % channels
                let mu = Float(means[c]), rc = r[c], g = gamma[c], b = beta[c]
                let x = input + item * plane, hRow = h + item * plane, y = output + item * plane
                for index in 0..<plane {
                    let value = (x[index] - mu) * rc
                    hRow[index] = value
                    y[index] = g * value + b
                }
            }
        }
        if updateRunningStatistics {
            let count = Double(batch * plane)
            let unbiased = count > 1 ? count / (count - 1) : 1
            let runningMeans = buffers.value(runningMean), runningVariances = buffers.value(runningVariance)
            for c in 0..<channels {
                runningMeans[c] = (1 - momentum) * runningMeans[c] + momentum * Float(mean[c])
                runningVariances[c] = (1 - momentum) * runningVariances[c] + momentum * Float(variance[c] * unbiased)
            }
        }
    }

    /// Evaluation forward with the running statistics.
    public func forwardEvaluation(_ store: ParameterStore, _ buffers: ParameterStore, batch: Int,
                                  input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        let gamma = store.value(scale), beta = store.value(offset)
        let means = buffers.value(runningMean), variances = buffers.value(runningVariance)
        Parallel.forEach(batch * channels) { item in
            let c = item % channels
            let multiplier = gamma[c] / (variances[c] + epsilon).squareRoot()
            let shift = beta[c] - means[c] * multiplier
            let x = input + item * plane, y = output + item * plane
            for index in 0..<plane { y[index] = x[index] * multiplier + shift }
        }
    }

    /// Training backward: dgamma += sum dy*h, dbeta += sum dy,
    /// dx = gamma*r/M * (M*dy - sum dy - h*sum(dy*h)) with M = N*plane.
    public func backward(_ store: ParameterStore, batch: Int, outputGradient: UnsafePointer<Float>,
                         inputGradient: UnsafeMutablePointer<Float>?, cache: Cache) {
        guard let normalized = cache.normalized.current, let inverse = cache.inverseDeviation.current else {
            preconditionFailure("BatchNorm2d.backward before forwardTraining")
        }
        let gamma = store.value(scale)
        let gradScale = store.gradient(scale), gradOffset = store.gradient(offset)
        let h = normalized.pointer, r = inverse.pointer
        let count = Float(batch * plane)
        Parallel.forEach(channels) { c in
            var sumDy: Float = 0, sumDyH: Float = 0
            for n in 0..<batch {
                let base = (n * channels + c) * plane
                let (dy, dyh) = VectorReduction.sumAndDot(outputGradient + base, h + base, count: plane)
                sumDy += dy
                sumDyH += dyh
            }
            gradScale[c] += sumDyH
            gradOffset[c] += sumDy
            guard let inputGradient else { return }
            let factor = gamma[c] * r[c] / count
            let meanDy = sumDy, meanDyH = sumDyH
            for n in 0..<batch {
                let base = (n * channels + c) * plane
                for index in 0..<plane {
                    inputGradient[base + index] = factor * (count * outputGradient[base + index] - meanDy - h[base + index] * meanDyH)
                }
            }
        }
    }
}
