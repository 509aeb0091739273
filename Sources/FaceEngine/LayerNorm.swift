/// Layer normalization over each sample's (C, H, W) values with a per-channel scale and offset:
/// PyTorch's `GroupNorm(1, C)`, the critic's `norm{i}` layers. eps = 1e-5.
///
/// Per sample with n = C*H*W: mu = mean x, xc = x - mu, r = (mean xc^2 + eps)^-1/2, h = r*xc,
/// y = gamma_c*h + beta_c. The linearized forward and the dual backward implement DESIGN.md's
/// second-order formulas, which the penalty gradient needs.
public struct LayerNorm {
    public let channels: Int
    public let plane: Int
    public let scale: ParameterSlot
    public let offset: ParameterSlot
    public let epsilon: Float = 1e-5

    public var itemSize: Int { channels * plane }

    /// Primal cache over the whole batch: h and r per sample.
    public struct Cache {
        public var normalized = ReusableTensor()
        public var inverseDeviation = ReusableTensor()
        public init() {}
    }

    /// Tangent cache over the tangent batch: x'c = x' - mean x', h', and m = mean(h*x') per sample.
    public struct TangentCache {
        public var centeredTangent = ReusableTensor()
        public var normalizedTangent = ReusableTensor()
        public var projection = ReusableTensor()
        public init() {}
    }

    public init(_ name: String, channels: Int, plane: Int, layout: inout ParameterLayout) {
        self.channels = channels
        self.plane = plane
        scale = layout.add("\(name).weight", [channels])
        offset = layout.add("\(name).bias", [channels])
    }

    public func initialize(_ store: ParameterStore) {
        Initialization.constant(store, scale, 1)
        Initialization.constant(store, offset, 0)
    }

    /// x: [N, C, H, W] -> y (may alias x).
    public func forward(_ store: ParameterStore, batch: Int, input: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>, cache: inout Cache) {
        let normalized = cache.normalized.get([batch, itemSize])
        let inverse = cache.inverseDeviation.get([batch])
        let gamma = store.value(scale), beta = store.value(offset)
        let n = itemSize, plane = plane, channels = channels, epsilon = epsilon
        let h = normalized.pointer, r = inverse.pointer
        Parallel.forEach(batch) { sample in
            let x = input + sample * n, hRow = h + sample * n, y = output + sample * n
            // Float lanes within a channel, Double across channels: exact enough at every size.
            var sum = 0.0
            for c in 0..<channels { sum += Double(VectorReduction.sum(x + c * plane, count: plane)) }
            let mu = Float(sum / Double(n))
            var squares = 0.0
            for c in 0..<channels {
                squares += Double(VectorReduction.squaredDeviations(x + c * plane, count: plane, center: mu))
            }
            let rSample = Float(1 / (squares / Double(n) + Double(epsilon)).squareRoot())
            r[sample] = rSample
            for c in 0..<channels {
                let g = gamma[c], b = beta[c]
                for index in (c * plane)..<((c + 1) * plane) {
                    let value = (x[index] - mu) * rSample
                    hRow[index] = value
                    y[index] = g * value + b
                }
            }
        }
    }

    /// Parameter gradients from one adjoint stream: dgamma_c += sum Y*h, dbeta_c += sum Y (when `offsetToo`).
    private func accumulateParameterGradients(_ store: ParameterStore, batch: Int, outputGradient: UnsafePointer<Float>,
                                              normalized: UnsafePointer<Float>, offsetToo: Bool) {
        let gradScale = store.gradient(scale), gradOffset = store.gradient(offset)
        let n = itemSize, plane = plane
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

    /// Ordinary backward: accumulates dgamma, dbeta; writes X when `inputGradient` is given.
    public func backward(_ store: ParameterStore, batch: Int, sampleOffset: Int = 0, outputGradient: UnsafePointer<Float>,
                         inputGradient: UnsafeMutablePointer<Float>?, cache: Cache, parameterGradients: Bool = true) {
        let n = itemSize
        let h = cache.normalized.current!.pointer + sampleOffset * n
        let r = cache.inverseDeviation.current!.pointer + sampleOffset
        if parameterGradients {
            accumulateParameterGradients(store, batch: batch, outputGradient: outputGradient, normalized: h, offsetToo: true)
        }
        guard let inputGradient else { return }
        let gamma = store.value(scale)
        Parallel.forEach(batch) { sample in
            firstOrderInputGradient(gamma: gamma, y: outputGradient + sample * n, h: h + sample * n, r: r[sample],
                                    x: inputGradient + sample * n)
        }
    }

    /// Tangent pass at the primal samples starting at `sampleOffset`:
    /// m = mean(h*x'), h' = r*(x'c - h*m), y' = gamma_c*h'.
    public func linearizedForward(_ store: ParameterStore, batch: Int, sampleOffset: Int, tangent: UnsafePointer<Float>,
                                  tangentOutput: UnsafeMutablePointer<Float>, cache: Cache, tangentCache: inout TangentCache) {
        let n = itemSize, plane = plane, channels = channels
        let h = cache.normalized.current!.pointer + sampleOffset * n
        let r = cache.inverseDeviation.current!.pointer + sampleOffset
        let centered = tangentCache.centeredTangent.get([batch, n]).pointer
        let hPrime = tangentCache.normalizedTangent.get([batch, n]).pointer
        let projection = tangentCache.projection.get([batch]).pointer
        let gamma = store.value(scale)
        Parallel.forEach(batch) { sample in
            let xp = tangent + sample * n, hRow = h + sample * n
            let xc = centered + sample * n, hp = hPrime + sample * n, yp = tangentOutput + sample * n
            let (sum, sumHX) = VectorReduction.sumAndDot(xp, hRow, count: n)
            let meanX = sum / Float(n), m = sumHX / Float(n), rSample = r[sample]
            projection[sample] = m
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
    }

    /// Dual backward over a batch whose last `tangentBatch` samples (from `tangentOffset`) carry tangents.
    /// Y is live for the first `livePrimalBatch` samples and zero beyond. Writes X for every sample of the
    /// batch (the second-order term makes the tangent samples' X nonzero even where their Y is zero) and
    /// X' for the tangent samples; accumulates dgamma = sum(Y*h + Y'*h'), dbeta = sum Y.
    public func dualBackward(_ store: ParameterStore, batch: Int, livePrimalBatch: Int, tangentOffset: Int,
                             tangentBatch: Int, outputGradient: UnsafeMutablePointer<Float>,
                             tangentOutputGradient: UnsafePointer<Float>,
                             inputGradient: UnsafeMutablePointer<Float>?, tangentInputGradient: UnsafeMutablePointer<Float>?,
                             cache: Cache, tangentCache: TangentCache) {
        let n = itemSize, plane = plane, channels = channels
        let h = cache.normalized.current!.pointer, r = cache.inverseDeviation.current!.pointer
        let hasTangents = tangentBatch > 0
        let centered = hasTangents ? tangentCache.centeredTangent.current!.pointer : h
        let hPrime = hasTangents ? tangentCache.normalizedTangent.current!.pointer : h
        let projection = hasTangents ? tangentCache.projection.current!.pointer : r
        let gamma = store.value(scale)
        // Y is zero beyond the live samples: make it so in memory, so every loop below can read it.
        if livePrimalBatch < batch {
            (outputGradient + livePrimalBatch * n).update(repeating: 0, count: (batch - livePrimalBatch) * n)
        }
        accumulateParameterGradients(store, batch: livePrimalBatch, outputGradient: outputGradient, normalized: h, offsetToo: true)
        accumulateParameterGradients(store, batch: tangentBatch, outputGradient: tangentOutputGradient,
                                     normalized: hPrime, offsetToo: false)
        guard let inputGradient else { return }
        Parallel.forEach(batch) { sample in
            let y = outputGradient + sample * n, hRow = h + sample * n, rSample = r[sample]
            let x = inputGradient + sample * n
            firstOrderInputGradient(gamma: gamma, y: y, h: hRow, r: rSample, x: x)
            let tangentIndex = sample - tangentOffset
            guard tangentIndex >= 0 && tangentIndex < tangentBatch else { return }
            let yp = tangentOutputGradient + tangentIndex * n, xc = centered + tangentIndex * n
            let m = projection[tangentIndex]
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
                let xp = tangentInputGradient + tangentIndex * n
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
}
