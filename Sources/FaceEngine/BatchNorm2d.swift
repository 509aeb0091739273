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
    /// How the activations it normalizes lie in memory (its parameters and buffers are per channel either way).
    public let activationLayout: ActivationLayout
    public let epsilon: Float = 1e-5
    public let momentum: Float = 0.1

    /// What backward needs: the normalized input (in the layer's activation layout), each channel's 1/sqrt(var + eps) and how many values
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

    public init(_ name: String, channels: Int, plane: Int, layout: inout ParameterLayout, buffers: inout ParameterLayout,
                activationLayout: ActivationLayout = .channelsFirst) {
        self.channels = channels
        self.plane = plane
        self.activationLayout = activationLayout
        scale = layout.add("\(name).weight", [channels])
        offset = layout.add("\(name).bias", [channels])
        runningMean = buffers.add("\(name).running_mean", [channels])
        runningVariance = buffers.add("\(name).running_var", [channels])
    }

    /// Whether the passes take the NHWC loops (see `ChannelsLastRows.applies`).
    private var channelsLast: Bool { ChannelsLastRows.applies(activationLayout, channels: channels, plane: plane) }

    public func initialize(_ store: ParameterStore, buffers: ParameterStore) {
        Initialization.constant(store, scale, 1)
        Initialization.constant(store, offset, 0)
        Initialization.constant(buffers, runningMean, 0)
        Initialization.constant(buffers, runningVariance, 1)
    }

    /// Per-channel mean and biased variance of x: [N, C, plane] (or [N, plane, C]), accumulated in Double (two passes:
    /// the mean, then squared deviations from it). With `synchronization`, over every process's part
    /// of the batch; `count` is the number of values per channel they ran over.
    public func statistics(batch: Int, input: UnsafePointer<Float>, synchronization: Synchronization? = nil)
        -> (mean: [Double], variance: [Double], count: Double) {
        if channelsLast { return channelsLastStatistics(batch: batch, input: input, synchronization: synchronization) }
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

    private func channelsLastStatistics(batch: Int, input: UnsafePointer<Float>, synchronization: Synchronization?)
        -> (mean: [Double], variance: [Double], count: Double) {
        let channels = channels, rows = batch * plane
        // The same hook payloads as NCHW's: [sum per channel..., count], then [squared deviations per channel...].
        var sums = ChannelsLastRows.channelSums(input, rows: rows, channels: channels)
        sums.append(Double(rows))
        sums.withUnsafeMutableBufferPointer { synchronization?($0) }
        let count = sums[channels]
        let mean = (0..<channels).map { sums[$0] / count }
        // Deviations from the Float mean, as NCHW's squaredDeviations takes them.
        let centers = mean.map { Float($0) }
        var squares = centers.withUnsafeBufferPointer { centers in
            let center = centers.baseAddress!
            return ChannelsLastRows.sums(rows: rows, channels: channels, terms: 1) { range, partial in
                for row in range {
                    let x = input + row * channels
                    for c in 0..<channels {
                        let d = x[c] - center[c]
                        partial[c] += Double(d * d)
                    }
                }
            }
        }
        squares.withUnsafeMutableBufferPointer { synchronization?($0) }
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
        let channelsLast = channelsLast
        let normalized = cache.normalized.get(channelsLast ? [batch, plane, channels] : [batch, channels, plane])
        let inverse = cache.inverseDeviation.get([channels])
        for c in 0..<channels { inverse[c] = Float(1 / (variance[c] + Double(epsilon)).squareRoot()) }
        let gamma = store.value(scale), beta = store.value(offset)
        let h = normalized.pointer, r = inverse.pointer
        if channelsLast {
            let channels = channels
            let means = mean.map { Float($0) }
            means.withUnsafeBufferPointer { means in
                let mu = means.baseAddress!
                Parallel.forRanges(batch * plane, grain: ChannelsLastRows.grain(channels: channels)) { rows in
                    for row in rows {
                        let base = row * channels
                        let x = input + base, hRow = h + base, y = output + base
                        for c in 0..<channels {
                            let value = (x[c] - mu[c]) * r[c]
                            hRow[c] = value
                            y[c] = gamma[c] * value + beta[c]
                        }
                    }
                }
            }
        } else {
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
        if channelsLast {
            let channels = channels
            // Per channel once, with the NCHW loop's expressions, so that each output is the same value.
            var affine = [Float](repeating: 0, count: 2 * channels)
            for c in 0..<channels {
                let multiplier = gamma[c] / (variances[c] + epsilon).squareRoot()
                affine[c] = multiplier
                affine[channels + c] = beta[c] - means[c] * multiplier
            }
            affine.withUnsafeBufferPointer { affine in
                let multiplier = affine.baseAddress!, shift = multiplier + channels
                Parallel.forRanges(batch * plane, grain: ChannelsLastRows.grain(channels: channels)) { rows in
                    for row in rows {
                        let x = input + row * channels, y = output + row * channels
                        for c in 0..<channels { y[c] = x[c] * multiplier[c] + shift[c] }
                    }
                }
            }
            return
        }
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
        let channelsLast = channelsLast
        if channelsLast {
            let totals = ChannelsLastRows.sumsAndDots(outputGradient, h, rows: batch * plane, channels: channels)
            for c in 0..<channels {
                sums[c] = Float(totals[c])
                sums[channels + c] = Float(totals[channels + c])
                gradScale[c] += sums[channels + c]
                gradOffset[c] += sums[c]
            }
        } else {
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
        }
        guard let inputGradient else { return }
        if let synchronization {
            var global = sums.map(Double.init)
            global.withUnsafeMutableBufferPointer { synchronization($0) }
            for index in sums.indices { sums[index] = Float(global[index]) }
        }
        let count = Float(cache.statisticsCount)
        if channelsLast {
            let factors = (0..<channels).map { gamma[$0] * r[$0] / count }
            factors.withUnsafeBufferPointer { factors in
                sums.withUnsafeBufferPointer { sums in
                    let factor = factors.baseAddress!, sumDy = sums.baseAddress!, sumDyH = sumDy + channels
                    Parallel.forRanges(batch * plane, grain: ChannelsLastRows.grain(channels: channels)) { rows in
                        for row in rows {
                            let base = row * channels
                            let dy = outputGradient + base, hRow = h + base, dx = inputGradient + base
                            for c in 0..<channels {
                                dx[c] = factor[c] * (count * dy[c] - sumDy[c] - hRow[c] * sumDyH[c])
                            }
                        }
                    }
                }
            }
            return
        }
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
