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

    /// What backward needs: the normalized input, each channel's 1/sqrt(var + eps) and how many values
    /// per channel the statistics ran over (more than this batch's when they were synchronised).
    public struct Cache {
        public var normalized = ReusableTensor()
        public var inverseDeviation = ReusableTensor()
        public var statisticsCount = 0.0
        public init() {}
    }

    /// Synchronised batch norm for data-parallel training: sums `values` in place over every process
    /// that holds a part of the batch, so that statistics and backward sums are the whole batch's.
    /// nil (the default) in one process.
    public typealias Synchronization = (UnsafeMutableBufferPointer<Double>) -> Void

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

    /// Per-channel mean and biased variance of x: [N, C, plane], accumulated in Double (two passes:
    /// the mean, then squared deviations from it). With `synchronization`, over every process's part
    /// of the batch; `count` is the number of values per channel they ran over.
    public func statistics(batch: Int, input: UnsafePointer<Float>, synchronization: Synchronization? = nil)
        -> (mean: [Double], variance: [Double], count: Double) {
        let channels = channels, plane = plane
        // [sum per channel..., count], then [squared deviations per channel...]
        var sums = [Double](repeating: 0, count: channels + 1)
        sums.withUnsafeMutableBufferPointer { sums in
            Parallel.forEach(channels) { c in
                var sum = 0.0
                for n in 0..<batch { sum += Double(VectorReduction.sum(input + (n * channels + c) * plane, count: plane)) }
                sums[c] = sum
            }
            sums[channels] = Double(batch * plane)
            synchronization?(sums)
        }
        let count = sums[channels]
        let mean = (0..<channels).map { sums[$0] / count }
        var squares = [Double](repeating: 0, count: channels)
        squares.withUnsafeMutableBufferPointer { squares in
            Parallel.forEach(channels) { c in
                var total = 0.0
                for n in 0..<batch {
                    total += Double(VectorReduction.squaredDeviations(input + (n * channels + c) * plane,
                                                                      count: plane, center: Float(mean[c])))
                }
                squares[c] = total
            }
            synchronization?(squares)
        }
        return (mean, squares.map { $0 / count }, count)
    }

    /// Training forward: normalizes with batch statistics (the whole batch's under `synchronization`),
    /// caches what backward needs, and (when `updateRunningStatistics`) moves the running statistics
    /// as PyTorch does.
    public func forwardTraining(_ store: ParameterStore, _ buffers: ParameterStore, batch: Int,
                                input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                                cache: inout Cache, updateRunningStatistics: Bool = true,
                                synchronization: Synchronization? = nil) {
        let (mean, variance, count) = statistics(batch: batch, input: input, synchronization: synchronization)
        cache.statisticsCount = count
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
    /// dx = gamma*r/M * (M*dy - sum dy - h*sum(dy*h)) with M the values per channel of the statistics.
    /// Under `synchronization` the two sums in dx are the whole batch's (each process's parameter
    /// gradients keep its own part: averaging them over processes gives the whole batch's).
    public func backward(_ store: ParameterStore, batch: Int, outputGradient: UnsafePointer<Float>,
                         inputGradient: UnsafeMutablePointer<Float>?, cache: Cache,
                         synchronization: Synchronization? = nil) {
        guard let normalized = cache.normalized.current, let inverse = cache.inverseDeviation.current else {
            preconditionFailure("BatchNorm2d.backward before forwardTraining")
        }
        let channels = channels, plane = plane
        let gamma = store.value(scale)
        let gradScale = store.gradient(scale), gradOffset = store.gradient(offset)
        let h = normalized.pointer, r = inverse.pointer
        // [sum dy per channel..., sum dy*h per channel...]
        var sums = [Float](repeating: 0, count: 2 * channels)
        sums.withUnsafeMutableBufferPointer { sums in
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
                sums[c] = sumDy
                sums[channels + c] = sumDyH
            }
        }
        guard let inputGradient else { return }
        if let synchronization {
            var global = sums.map(Double.init)
            global.withUnsafeMutableBufferPointer { synchronization($0) }
            for index in sums.indices { sums[index] = Float(global[index]) }
        }
        let count = Float(cache.statisticsCount)
        sums.withUnsafeBufferPointer { sums in
            Parallel.forEach(channels) { c in
                let factor = gamma[c] * r[c] / count
                let sumDy = sums[c], sumDyH = sums[channels + c]
                for n in 0..<batch {
                    let base = (n * channels + c) * plane
                    for index in 0..<plane {
                        inputGradient[base + index] = factor * (count * outputGradient[base + index] - sumDy - h[base + index] * sumDyH)
                    }
                }
            }
        }
    }
}
