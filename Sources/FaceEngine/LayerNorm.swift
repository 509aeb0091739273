/// Layer normalization over each sample's (C, H, W) values with a per-channel scale and offset:
/// PyTorch's `GroupNorm(1, C)`, the critic's `norm{i}` layers. eps = 1e-5.
///
/// Per sample with n = C*H*W: mu = mean x, xc = x - mu, r = (mean xc^2 + eps)^-1/2, h = r*xc,
/// y = gamma_c*h + beta_c. The linearized forward and the dual backward implement DESIGN.md's
/// second-order formulas, which the penalty gradient needs.
///
/// Activations are NCHW or NHWC (`activationLayout`). A sample's C*H*W values are contiguous either
/// way, so the per-sample statistics do not depend on the layout; only gamma_c and beta_c (and their
/// gradients) follow each value's channel.
public struct LayerNorm {
    public let channels: Int
    public let plane: Int
    public let activationLayout: ActivationLayout
    public let scale: ParameterSlot
    public let offset: ParameterSlot
    public let epsilon: Float = 1e-5

    public var itemSize: Int { channels * plane }

    /// Storage for what forward keeps, reused from call to call.
    public struct Cache {
        var normalized = ReusableTensor()
        var inverseDeviation = ReusableTensor()
        public init() {}
    }

    /// What a forward pass keeps for the later passes, per sample of its batch: h [N, C*H*W] (in the
    /// layer's activation layout) and r [N].
    public struct Statistics {
        public let batch: Int
        let normalized: Tensor
        let inverseDeviation: Tensor
        let firstSample: Int

        /// Samples `range` of this batch, as a batch of their own.
        public func samples(_ range: Range<Int>) -> Statistics {
            precondition(range.lowerBound >= 0 && range.upperBound <= batch, "samples \(range) of a batch of \(batch)")
            return Statistics(batch: range.count, normalized: normalized, inverseDeviation: inverseDeviation,
                              firstSample: firstSample + range.lowerBound)
        }

        func h(itemSize: Int) -> UnsafeMutablePointer<Float> { normalized.pointer + firstSample * itemSize }
        var r: UnsafeMutablePointer<Float> { inverseDeviation.pointer + firstSample }
    }

    /// Storage for what the linearized forward keeps, reused from call to call.
    public struct TangentCache {
        var centeredTangent = ReusableTensor()
        var normalizedTangent = ReusableTensor()
        var projection = ReusableTensor()
        public init() {}
    }

    /// What a linearized forward keeps, per sample of its batch: x'c = x' - mean x', h', and m = mean(h*x').
    public struct TangentStatistics {
        public let batch: Int
        let centeredTangent: Tensor
        let normalizedTangent: Tensor
        let projection: Tensor
    }

    public init(_ name: String, channels: Int, plane: Int, layout: inout ParameterLayout,
                activationLayout: ActivationLayout = .channelsFirst) {
        self.channels = channels
        self.plane = plane
        self.activationLayout = activationLayout
        scale = layout.add("\(name).weight", [channels])
        offset = layout.add("\(name).bias", [channels])
    }

    /// Whether the passes take the NHWC loops (see `ChannelsLastRows.applies`).
    private var channelsLast: Bool { ChannelsLastRows.applies(activationLayout, channels: channels, plane: plane) }

    public func initialize(_ store: ParameterStore) {
        Initialization.constant(store, scale, 1)
        Initialization.constant(store, offset, 0)
    }

    /// x: [N, C, H, W] (or [N, H, W, C]) -> y (may alias x). Returns what the later passes need, held in `cache`'s storage.
    @discardableResult
    public func forward(_ store: ParameterStore, batch: Int, input: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>, cache: inout Cache) -> Statistics {
        let normalized = cache.normalized.get([batch, itemSize])
        let inverse = cache.inverseDeviation.get([batch])
        let gamma = store.value(scale), beta = store.value(offset)
        let n = itemSize, plane = plane, channels = channels, epsilon = epsilon, channelsLast = channelsLast
        let h = normalized.pointer, r = inverse.pointer
        Parallel.forEach(batch) { sample in
            let x = input + sample * n, hRow = h + sample * n, y = output + sample * n
            // Float lanes within a channel, Double across channels: exact enough at every size. In NHWC
            // the runs of `plane` values are not channels, but the sums cover the whole sample, and runs
            // of the same length keep the same precision.
            var sum = 0.0
            for c in 0..<channels { sum += Double(VectorReduction.sum(x + c * plane, count: plane)) }
            let mu = Float(sum / Double(n))
            var squares = 0.0
            for c in 0..<channels {
                squares += Double(VectorReduction.squaredDeviations(x + c * plane, count: plane, center: mu))
            }
            let rSample = Float(1 / (squares / Double(n) + Double(epsilon)).squareRoot())
            r[sample] = rSample
            if channelsLast {
                for p in 0..<plane {
                    let row = p * channels
                    for c in 0..<channels {
                        let value = (x[row + c] - mu) * rSample
                        hRow[row + c] = value
                        y[row + c] = gamma[c] * value + beta[c]
                    }
                }
                return
            }
            for c in 0..<channels {
                let g = gamma[c], b = beta[c]
                for index in (c * plane)..<((c + 1) * plane) {
                    let value = (x[index] - mu) * rSample
                    hRow[index] = value
                    y[index] = g * value + b
                }
            }
        }
        return Statistics(batch: batch, normalized: normalized, inverseDeviation: inverse, firstSample: 0)
    }

    /// Parameter gradients from one adjoint stream: dgamma_c += sum Y*h, dbeta_c += sum Y (when `offsetToo`).
    private func accumulateParameterGradients(_ store: ParameterStore, batch: Int, outputGradient: UnsafePointer<Float>,
                                              normalized: UnsafePointer<Float>, offsetToo: Bool) {
        let gradScale = store.gradient(scale), gradOffset = store.gradient(offset)
        let n = itemSize, plane = plane
        if channelsLast {
            let channels = channels
            let sums = ChannelsLastRows.sumsAndDots(outputGradient, normalized, rows: batch * plane, channels: channels)
            for c in 0..<channels {
                gradScale[c] += Float(sums[channels + c])
                if offsetToo { gradOffset[c] += Float(sums[c]) }
            }
            return
        }
        Parallel.forEach(channels) { c in
            var sumY: Float = 0, sumYH: Float = 0
            for sample in 0..<batch {
                let base = sample * n + c * plane
                let (y, yh) = VectorReduction.sumAndDot(outputGradient + base, normalized + base, count: plane)
                sumY += y
                sumYH += yh
            }
            gradScale[c] += sumYH
            if offsetToo { gradOffset[c] += sumY }
        }
    }

    /// X = r*(g - mean g - h*mean(g*h)) with g = gamma_c*Y, for one sample.
    @inline(__always)
    private func firstOrderInputGradient(gamma: UnsafePointer<Float>, y: UnsafePointer<Float>, h: UnsafePointer<Float>,
                                         r: Float, x: UnsafeMutablePointer<Float>) {
        let n = itemSize
        var sumG: Float = 0, sumGH: Float = 0
        for c in 0..<channels {
            let (sumY, sumYH) = VectorReduction.sumAndDot(y + c * plane, h + c * plane, count: plane)
            sumG += gamma[c] * sumY
            sumGH += gamma[c] * sumYH
        }
        let meanG = sumG / Float(n), meanGH = sumGH / Float(n)
        for c in 0..<channels {
            let g = gamma[c]
            for index in (c * plane)..<((c + 1) * plane) {
                x[index] = r * (g * y[index] - meanG - h[index] * meanGH)
            }
        }
    }

    /// The same for an NHWC sample. A channel's values are `channels` floats apart, so its sums run
    /// over the rows with all channels side by side, in Double (as precise as the NCHW lanes or more).
    @inline(__always)
    private func firstOrderInputGradientChannelsLast(gamma: UnsafePointer<Float>, y: UnsafePointer<Float>,
                                                     h: UnsafePointer<Float>, r: Float, x: UnsafeMutablePointer<Float>) {
        let n = itemSize, channels = channels, plane = plane
        let (sumG, sumGH) = withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * channels) { buffer in
            let sumY = buffer.baseAddress!, sumYH = sumY + channels
            sumY.initialize(repeating: 0, count: 2 * channels)
            for p in 0..<plane {
                let row = p * channels
                for c in 0..<channels {
                    sumY[c] += Double(y[row + c])
                    sumYH[c] += Double(y[row + c] * h[row + c])
                }
            }
            var sumG = 0.0, sumGH = 0.0
            for c in 0..<channels {
                sumG += Double(gamma[c]) * sumY[c]
                sumGH += Double(gamma[c]) * sumYH[c]
            }
            return (sumG, sumGH)
        }
        let meanG = Float(sumG / Double(n)), meanGH = Float(sumGH / Double(n))
        for p in 0..<plane {
            let row = p * channels
            for c in 0..<channels {
                x[row + c] = r * (gamma[c] * y[row + c] - meanG - h[row + c] * meanGH)
            }
        }
    }

    /// Ordinary backward over the batch of `statistics`: accumulates dgamma, dbeta (when
    /// `parameterGradients`); writes X when `inputGradient` is given.
    public func backward(_ store: ParameterStore, outputGradient: UnsafePointer<Float>,
                         inputGradient: UnsafeMutablePointer<Float>?, statistics: Statistics, parameterGradients: Bool = true) {
        let n = itemSize, batch = statistics.batch
        let h = statistics.h(itemSize: n), r = statistics.r
        if parameterGradients {
            accumulateParameterGradients(store, batch: batch, outputGradient: outputGradient, normalized: h, offsetToo: true)
        }
        guard let inputGradient else { return }
        let gamma = store.value(scale), channelsLast = channelsLast
        Parallel.forEach(batch) { sample in
            if channelsLast {
                firstOrderInputGradientChannelsLast(gamma: gamma, y: outputGradient + sample * n, h: h + sample * n,
                                                    r: r[sample], x: inputGradient + sample * n)
                return
            }
            firstOrderInputGradient(gamma: gamma, y: outputGradient + sample * n, h: h + sample * n, r: r[sample],
                                    x: inputGradient + sample * n)
        }
    }

    /// Tangent pass at the primal points of `statistics`, one tangent per sample of its batch:
    /// m = mean(h*x'), h' = r*(x'c - h*m), y' = gamma_c*h'. Returns what the dual backward needs.
    @discardableResult
    public func linearizedForward(_ store: ParameterStore, tangent: UnsafePointer<Float>, tangentOutput: UnsafeMutablePointer<Float>,
                                  statistics: Statistics, tangentCache: inout TangentCache) -> TangentStatistics {
        let n = itemSize, plane = plane, channels = channels, batch = statistics.batch, channelsLast = channelsLast
        let h = statistics.h(itemSize: n), r = statistics.r
        let centeredTensor = tangentCache.centeredTangent.get([batch, n])
        let hPrimeTensor = tangentCache.normalizedTangent.get([batch, n])
        let projectionTensor = tangentCache.projection.get([batch])
        let centered = centeredTensor.pointer, hPrime = hPrimeTensor.pointer, projection = projectionTensor.pointer
        let gamma = store.value(scale)
        Parallel.forEach(batch) { sample in
            let xp = tangent + sample * n, hRow = h + sample * n
            let xc = centered + sample * n, hp = hPrime + sample * n, yp = tangentOutput + sample * n
            let (sum, sumHX) = VectorReduction.sumAndDot(xp, hRow, count: n)
            let meanX = sum / Float(n), m = sumHX / Float(n), rSample = r[sample]
            projection[sample] = m
            if channelsLast {
                for p in 0..<plane {
                    let row = p * channels
                    for c in 0..<channels {
                        let index = row + c
                        let centeredValue = xp[index] - meanX
                        xc[index] = centeredValue
                        let value = rSample * (centeredValue - hRow[index] * m)
                        hp[index] = value
                        yp[index] = gamma[c] * value
                    }
                }
                return
            }
            for c in 0..<channels {
                let g = gamma[c]
                for index in (c * plane)..<((c + 1) * plane) {
                    let centeredValue = xp[index] - meanX
                    xc[index] = centeredValue
                    let value = rSample * (centeredValue - hRow[index] * m)
                    hp[index] = value
                    yp[index] = g * value
                }
            }
        }
        return TangentStatistics(batch: batch, centeredTangent: centeredTensor, normalizedTangent: hPrimeTensor,
                                 projection: projectionTensor)
    }

    /// Dual backward over a batch in which every sample carries a primal adjoint Y (zero where the
    /// loss does not see the sample's output) and a tangent adjoint Y'. Writes X (first-order term plus
    /// the second-order term of how the Jacobian moves with x) and, when asked, X'; accumulates
    /// dgamma = sum(Y*h + Y'*h'), dbeta = sum Y.
    public func dualBackward(_ store: ParameterStore, outputGradient: UnsafePointer<Float>,
                             tangentOutputGradient: UnsafePointer<Float>,
                             inputGradient: UnsafeMutablePointer<Float>?, tangentInputGradient: UnsafeMutablePointer<Float>?,
                             statistics: Statistics, tangentStatistics: TangentStatistics) {
        precondition(statistics.batch == tangentStatistics.batch,
                     "dual backward: \(statistics.batch) primal samples but \(tangentStatistics.batch) tangents")
        let n = itemSize, plane = plane, channels = channels, batch = statistics.batch, channelsLast = channelsLast
        let h = statistics.h(itemSize: n), r = statistics.r
        let centered = tangentStatistics.centeredTangent.pointer
        let hPrime = tangentStatistics.normalizedTangent.pointer
        let projection = tangentStatistics.projection.pointer
        let gamma = store.value(scale)
        accumulateParameterGradients(store, batch: batch, outputGradient: outputGradient, normalized: h, offsetToo: true)
        accumulateParameterGradients(store, batch: batch, outputGradient: tangentOutputGradient,
                                     normalized: hPrime, offsetToo: false)
        guard let inputGradient else { return }
        if channelsLast {
            Parallel.forEach(batch) { sample in
                dualInputGradientChannelsLast(gamma: gamma, y: outputGradient + sample * n, yp: tangentOutputGradient + sample * n,
                                              h: h + sample * n, xc: centered + sample * n, r: r[sample], m: projection[sample],
                                              x: inputGradient + sample * n, xp: tangentInputGradient.map { $0 + sample * n })
            }
            return
        }
        Parallel.forEach(batch) { sample in
            let y = outputGradient + sample * n, hRow = h + sample * n, rSample = r[sample]
            let x = inputGradient + sample * n
            firstOrderInputGradient(gamma: gamma, y: y, h: hRow, r: rSample, x: x)
            let yp = tangentOutputGradient + sample * n, xc = centered + sample * n
            let m = projection[sample]
            // a = gamma_c*Y'; A1 = sum(a*x'c), A2 = sum(a*h)
            var sumA: Float = 0, a1: Float = 0, a2: Float = 0
            for c in 0..<channels {
                let offset = c * plane
                let sums = VectorReduction.sumAndTwoDots(yp + offset, xc + offset, hRow + offset, count: plane)
                sumA += gamma[c] * sums.sum
                a1 += gamma[c] * sums.dotB
                a2 += gamma[c] * sums.dotC
            }
            let meanA = sumA / Float(n)
            let factor = rSample * rSample / Float(n)
            let hCoefficient = a1 - 3 * m * a2
            let nm = Float(n) * m
            for c in 0..<channels {
                let g = gamma[c]
                for index in (c * plane)..<((c + 1) * plane) {
                    let aCentered = g * yp[index] - meanA
                    x[index] -= factor * (hCoefficient * hRow[index] + a2 * xc[index] + nm * aCentered)
                }
            }
            if let tangentInputGradient {
                let xp = tangentInputGradient + sample * n
                let meanAH = a2 / Float(n)
                for c in 0..<channels {
                    let g = gamma[c]
                    for index in (c * plane)..<((c + 1) * plane) {
                        xp[index] = rSample * (g * yp[index] - meanA - hRow[index] * meanAH)
                    }
                }
            }
        }
    }

    /// dualBackward's X and X' for one NHWC sample, with its formulas; the per-channel sums over the
    /// rows are in Double, as in `firstOrderInputGradientChannelsLast`.
    @inline(__always)
    private func dualInputGradientChannelsLast(gamma: UnsafePointer<Float>, y: UnsafePointer<Float>, yp: UnsafePointer<Float>,
                                               h: UnsafePointer<Float>, xc: UnsafePointer<Float>, r rSample: Float, m: Float,
                                               x: UnsafeMutablePointer<Float>, xp: UnsafeMutablePointer<Float>?) {
        let n = itemSize, channels = channels, plane = plane
        firstOrderInputGradientChannelsLast(gamma: gamma, y: y, h: h, r: rSample, x: x)
        // a = gamma_c*Y'; A1 = sum(a*x'c), A2 = sum(a*h)
        let (sumA, a1, a2) = withUnsafeTemporaryAllocation(of: Double.self, capacity: 3 * channels) { buffer in
            let sumYp = buffer.baseAddress!, dotXc = sumYp + channels, dotH = dotXc + channels
            sumYp.initialize(repeating: 0, count: 3 * channels)
            for p in 0..<plane {
                let row = p * channels
                for c in 0..<channels {
                    let value = yp[row + c]
                    sumYp[c] += Double(value)
                    dotXc[c] += Double(value * xc[row + c])
                    dotH[c] += Double(value * h[row + c])
                }
            }
            var sumA = 0.0, a1 = 0.0, a2 = 0.0
            for c in 0..<channels {
                let g = Double(gamma[c])
                sumA += g * sumYp[c]
                a1 += g * dotXc[c]
                a2 += g * dotH[c]
            }
            return (Float(sumA), Float(a1), Float(a2))
        }
        let meanA = sumA / Float(n)
        let factor = rSample * rSample / Float(n)
        let hCoefficient = a1 - 3 * m * a2
        let nm = Float(n) * m
        for p in 0..<plane {
            let row = p * channels
            for c in 0..<channels {
                let index = row + c
                let aCentered = gamma[c] * yp[index] - meanA
                x[index] -= factor * (hCoefficient * h[index] + a2 * xc[index] + nm * aCentered)
            }
        }
        if let xp {
            let meanAH = a2 / Float(n)
            for p in 0..<plane {
                let row = p * channels
                for c in 0..<channels {
                    let index = row + c
                    xp[index] = rSample * (gamma[c] * yp[index] - meanA - h[index] * meanAH)
                }
            }
        }
    }
}
