/// Convolution passes on NHWC activations lowered onto one GEMM per chunk of samples: im2row (and
/// row2im) split over our workers by samples, the GEMM in whatever library `gemm` calls.
///
/// Per chunk of n samples, with P = Ho*Wo, K = k*k*Cin and the patch matrix R [n*P, K] whose columns
/// run (ki, kj, cin): forward Y = R W'^T, already NHWC; backward-data R' = dY W', added back to NHWC by
/// row2im; backward-weights dW' += dY^T R, one GEMM over batch x positions. W' [Cout, K] is the weight in
/// OHWI, so that a patch row's k*k runs of Cin values meet matching weight columns; weights themselves
/// stay OIHW, permuted into W' (and dW' back) at each call. A chunk keeps R near `patchBudget` floats.
/// Scratch lives here and is reused, so one value serves one caller at a time.
final class ChannelsLastLowering {
    /// C[m, n] = op(A) op(B) + beta C, row-major with leading dimensions (cblas_sgemm with alpha 1).
    typealias GEMM = (_ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int,
                      _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                      _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) throws -> Void

    private let patchBudget: Int
    private var patches = ScratchBuffer()
    private var reorderedWeight = ScratchBuffer()
    private var reorderedGradient = ScratchBuffer()

    init(patchBudget: Int = 1 << 23) {
        self.patchBudget = patchBudget
    }

    /// Samples per chunk: the patch matrix near the budget, at least one sample.
    private func chunkSize(_ g: ConvolutionGeometry, batch: Int) -> Int {
        max(1, min(batch, patchBudget / max(1, g.patchSize * g.outputPlane)))
    }

    /// Runs body(first, count) over contiguous shares of `samples`, one per worker.
    private func forEachShare(_ samples: Int, _ body: (Int, Int) -> Void) {
        let workers = max(1, min(Parallel.threadCount, samples))
        let share = (samples + workers - 1) / workers
        Parallel.forEach(workers) { worker in
            let first = worker * share, count = min(share, samples - first)
            if count > 0 { body(first, count) }
        }
    }

    /// The kernel offsets kFirst..<kEnd whose input coordinate origin + offset lies in 0..<size.
    /// Consecutive offsets read consecutive pixels, so in NHWC the valid kj of one ki are one run.
    @inline(__always)
    private static func validOffsets(origin: Int, size: Int, kernel: Int) -> (Int, Int) {
        let first = min(kernel, max(0, -origin))
        return (first, max(first, min(kernel, size - origin)))
    }

    /// `target[0..<count] += source[0..<count]`, the adjoint of SmallCopy.copy (runs of Cin to k*Cin floats).
    @inline(__always)
    private static func addRun(_ target: UnsafeMutablePointer<Float>, _ source: UnsafePointer<Float>, count: Int) {
        var index = 0
        let targetBytes = UnsafeMutableRawPointer(target), sourceBytes = UnsafeRawPointer(source)
        while index + 8 <= count {
            let sum = targetBytes.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self)
                + sourceBytes.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self)
            targetBytes.storeBytes(of: sum, toByteOffset: index * 4, as: SIMD8<Float>.self)
            index += 8
        }
        while index < count {
            target[index] += source[index]
            index += 1
        }
    }

    /// R [samples*P, K] from `samples` NHWC items; each row holds k runs, one per ki, of k*Cin floats
    /// of which the in-image kj form one contiguous copy, and the rest zeros.
    private static func im2row(_ g: ConvolutionGeometry, samples: Int, input: UnsafePointer<Float>,
                               patches: UnsafeMutablePointer<Float>) {
        let k = g.kernelSize, s = g.stride, p = g.padding, channels = g.inputChannels
        let h = g.inputHeight, w = g.inputWidth, ho = g.outputHeight, wo = g.outputWidth
        let rowSize = g.patchSize, line = k * channels
        for n in 0..<samples {
            let item = input + n * g.inputItemSize
            for oh in 0..<ho {
                let top = oh * s - p
                let (kiFirst, kiEnd) = validOffsets(origin: top, size: h, kernel: k)
                for ow in 0..<wo {
                    let left = ow * s - p
                    let (kjFirst, kjEnd) = validOffsets(origin: left, size: w, kernel: k)
                    let row = patches + ((n * ho + oh) * wo + ow) * rowSize
                    // Rows above and below the image are contiguous spans of the patch row.
                    if kiFirst > 0 { SmallCopy.zero(row, count: kiFirst * line) }
                    if kiEnd < k { SmallCopy.zero(row + kiEnd * line, count: (k - kiEnd) * line) }
                    let runStart = kjFirst * channels, run = (kjEnd - kjFirst) * channels
                    for ki in kiFirst..<kiEnd {
                        let out = row + ki * line
                        if kjFirst > 0 { SmallCopy.zero(out, count: runStart) }
                        SmallCopy.copy(out + runStart, from: item + ((top + ki) * w + left + kjFirst) * channels, count: run)
                        if kjEnd < k { SmallCopy.zero(out + runStart + run, count: line - runStart - run) }
                    }
                }
            }
        }
    }

    /// The adjoint of `im2row`: overwrites `samples` NHWC items with the sums of the patch entries that
    /// read them.
    private static func row2im(_ g: ConvolutionGeometry, samples: Int, patches: UnsafePointer<Float>,
                               output: UnsafeMutablePointer<Float>) {
        let k = g.kernelSize, s = g.stride, p = g.padding, channels = g.inputChannels
        let h = g.inputHeight, w = g.inputWidth, ho = g.outputHeight, wo = g.outputWidth
        let rowSize = g.patchSize, line = k * channels
        output.update(repeating: 0, count: samples * g.inputItemSize)
        for n in 0..<samples {
            let item = output + n * g.inputItemSize
            for oh in 0..<ho {
                let top = oh * s - p
                let (kiFirst, kiEnd) = validOffsets(origin: top, size: h, kernel: k)
                for ow in 0..<wo {
                    let left = ow * s - p
                    let (kjFirst, kjEnd) = validOffsets(origin: left, size: w, kernel: k)
                    let row = patches + ((n * ho + oh) * wo + ow) * rowSize + kjFirst * channels
                    let run = (kjEnd - kjFirst) * channels
                    for ki in kiFirst..<kiEnd {
                        addRun(item + ((top + ki) * w + left + kjFirst) * channels, row + ki * line, count: run)
                    }
                }
            }
        }
    }

    /// Rows of [Cout, K] per worker in the weight permutations: enough floats to be worth a thread.
    private static func weightGrain(_ g: ConvolutionGeometry) -> Int { max(1, 16_384 / max(1, g.patchSize)) }

    /// W' [Cout, k*k*Cin] (OHWI) from the OIHW weight.
    private static func reorderWeight(_ g: ConvolutionGeometry, weight: UnsafePointer<Float>,
                                      reordered: UnsafeMutablePointer<Float>) {
        let channels = g.inputChannels, taps = g.kernelSize * g.kernelSize, rowSize = g.patchSize
        Parallel.forRanges(g.outputChannels, grain: weightGrain(g)) { range in
            for o in range {
                let source = weight + o * rowSize, target = reordered + o * rowSize
                for c in 0..<channels {
                    for tap in 0..<taps { target[tap * channels + c] = source[c * taps + tap] }
                }
            }
        }
    }

    /// weightGradient (OIHW) += dW' (OHWI).
    private static func addReorderedGradient(_ g: ConvolutionGeometry, reordered: UnsafePointer<Float>,
                                             weightGradient: UnsafeMutablePointer<Float>) {
        let channels = g.inputChannels, taps = g.kernelSize * g.kernelSize, rowSize = g.patchSize
        Parallel.forRanges(g.outputChannels, grain: weightGrain(g)) { range in
            for o in range {
                let source = reordered + o * rowSize, target = weightGradient + o * rowSize
                for c in 0..<channels {
                    for tap in 0..<taps { target[c * taps + tap] += source[tap * channels + c] }
                }
            }
        }
    }

    private func lower(_ g: ConvolutionGeometry, samples: Int, input: UnsafePointer<Float>,
                       patches: UnsafeMutablePointer<Float>) {
        let rowsPerSample = g.outputPlane * g.patchSize
        forEachShare(samples) { first, count in
            Self.im2row(g, samples: count, input: input + first * g.inputItemSize,
                        patches: patches + first * rowsPerSample)
        }
    }

    func forward(_ g: ConvolutionGeometry, batch: Int, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                 output: UnsafeMutablePointer<Float>, gemm: GEMM) throws {
        if batch == 0 { return }
        let chunk = chunkSize(g, batch: batch), rowSize = g.patchSize, plane = g.outputPlane
        let reordered = reorderedWeight.get(g.outputChannels * rowSize)
        Self.reorderWeight(g, weight: weight, reordered: reordered)
        var first = 0
        while first < batch {
            let count = min(chunk, batch - first), rows = count * plane
            let r = patches.get(rows * rowSize)
            lower(g, samples: count, input: input + first * g.inputItemSize, patches: r)
            try gemm(false, true, rows, g.outputChannels, rowSize, r, rowSize, reordered, rowSize, 0,
                     output + first * g.outputItemSize, g.outputChannels)
            first += count
        }
    }

    func backwardData(_ g: ConvolutionGeometry, batch: Int, outputGradient: UnsafePointer<Float>,
                      weight: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>, gemm: GEMM) throws {
        if batch == 0 { return }
        let chunk = chunkSize(g, batch: batch), rowSize = g.patchSize, plane = g.outputPlane
        let reordered = reorderedWeight.get(g.outputChannels * rowSize)
        Self.reorderWeight(g, weight: weight, reordered: reordered)
        var first = 0
        while first < batch {
            let count = min(chunk, batch - first), rows = count * plane
            let r = patches.get(rows * rowSize)
            try gemm(false, false, rows, rowSize, g.outputChannels, outputGradient + first * g.outputItemSize,
                     g.outputChannels, reordered, rowSize, 0, r, rowSize)
            let target = inputGradient + first * g.inputItemSize
            // Whole samples per worker: patches of one sample overlap in the input, those of two never do.
            forEachShare(count) { start, samples in
                Self.row2im(g, samples: samples, patches: r + start * plane * rowSize,
                            output: target + start * g.inputItemSize)
            }
            first += count
        }
    }

    func backwardWeights(_ g: ConvolutionGeometry, batch: Int, outputGradient: UnsafePointer<Float>,
                         input: UnsafePointer<Float>, weightGradient: UnsafeMutablePointer<Float>, gemm: GEMM) throws {
        if batch == 0 { return }
        let chunk = chunkSize(g, batch: batch), rowSize = g.patchSize, plane = g.outputPlane
        let weightCount = g.outputChannels * rowSize
        // The GEMM accumulates in OHWI; the OIHW gradient only sees one permuted sum at the end.
        let reordered = reorderedGradient.get(weightCount)
        reordered.update(repeating: 0, count: weightCount)
        var first = 0
        while first < batch {
            let count = min(chunk, batch - first), rows = count * plane
            let r = patches.get(rows * rowSize)
            lower(g, samples: count, input: input + first * g.inputItemSize, patches: r)
            try gemm(true, false, g.outputChannels, rowSize, rows, outputGradient + first * g.outputItemSize,
                     g.outputChannels, r, rowSize, 1, reordered, rowSize)
            first += count
        }
        Self.addReorderedGradient(g, reordered: reordered, weightGradient: weightGradient)
    }
}
