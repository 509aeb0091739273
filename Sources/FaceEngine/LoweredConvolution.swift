/// Convolution passes lowered onto one multi-threaded GEMM per chunk of samples: im2col (and col2im)
/// split over our workers, the GEMM in whatever library `gemm` calls (oneDNN's matmul here).
///
/// Per chunk of n samples, with P = Ho*Wo and the patch matrix X [Cin*k*k, n*P]:
/// forward Y = W X, scattered to NCHW; backward-data X' = W^T dY (dY gathered channel-major), raised to
/// NCHW; backward-weights dW += dY X^T, one GEMM over batch x positions. A chunk keeps X near
/// `patchBudget` floats. Scratch lives here and is reused, so one value serves one caller at a time.
final class LoweredConvolution {
    typealias GEMM = (_ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int,
                      _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                      _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) throws -> Void

    private let patchBudget: Int
    private var columns = ScratchBuffer()
    private var channelMajor = ScratchBuffer()
    private var planes: [ScratchBuffer] = []

    init(patchBudget: Int = 1 << 23) {
        self.patchBudget = patchBudget
    }

    /// Samples per chunk: the patch matrix near the budget, at least one sample.
    private func chunkSize(_ g: ConvolutionGeometry, batch: Int) -> Int {
        max(1, min(batch, patchBudget / max(1, g.patchSize * g.outputPlane)))
    }

    /// Runs body(workerScratch, first, count) over contiguous shares of `samples`, one per worker.
    private func forEachShare(_ samples: Int, _ g: ConvolutionGeometry,
                              _ body: (UnsafeMutablePointer<Float>?, Int, Int) -> Void) {
        let workers = max(1, min(Parallel.threadCount, samples))
        while planes.count < workers { planes.append(ScratchBuffer()) }
        let share = (samples + workers - 1) / workers
        let scratch = (0..<workers).map { worker -> UnsafeMutablePointer<Float>? in
            let count = Im2Col.scratchCount(g, samples: share)
            return count > 0 ? planes[worker].get(count) : nil
        }
        Parallel.forEach(workers) { worker in
            let first = worker * share, count = min(share, samples - first)
            if count > 0 { body(scratch[worker], first, count) }
        }
    }

    private func lower(_ g: ConvolutionGeometry, samples: Int, input: UnsafePointer<Float>,
                       columns: UnsafeMutablePointer<Float>) {
        let width = samples * g.outputPlane
        forEachShare(samples, g) { scratch, first, count in
            Im2Col.lower(g, samples: count, input: input + first * g.inputItemSize, columns: columns + first * g.outputPlane,
                         columnStride: width, scratch: scratch)
        }
    }

    /// [samples, C, P] -> [C, samples*P] (`fromBatchMajor`) or back, split over the workers by channel.
    private func transposeBatch(fromBatchMajor: Bool, channels: Int, samples: Int, plane: Int,
                                source: UnsafePointer<Float>, destination: UnsafeMutablePointer<Float>) {
        Parallel.forRanges(channels, grain: 1) { range in
            for c in range {
                for n in 0..<samples {
                    let batchSlot = (n * channels + c) * plane, channelSlot = (c * samples + n) * plane
                    SmallCopy.copy(destination + (fromBatchMajor ? channelSlot : batchSlot),
                                   from: source + (fromBatchMajor ? batchSlot : channelSlot), count: plane)
                }
            }
        }
    }

    func forward(_ g: ConvolutionGeometry, batch: Int, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                 output: UnsafeMutablePointer<Float>, gemm: GEMM) throws {
        let chunk = chunkSize(g, batch: batch), rows = g.patchSize, plane = g.outputPlane
        var first = 0
        while first < batch {
            let count = min(chunk, batch - first), width = count * plane
            let cols = columns.get(rows * width), product = channelMajor.get(g.outputChannels * width)
            lower(g, samples: count, input: input + first * g.inputItemSize, columns: cols)
            try gemm(false, false, g.outputChannels, width, rows, weight, rows, cols, width, 0, product, width)
            transposeBatch(fromBatchMajor: false, channels: g.outputChannels, samples: count, plane: plane,
                           source: product, destination: output + first * g.outputItemSize)
            first += count
        }
    }

    func backwardData(_ g: ConvolutionGeometry, batch: Int, outputGradient: UnsafePointer<Float>,
                      weight: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>, gemm: GEMM) throws {
        let chunk = chunkSize(g, batch: batch), rows = g.patchSize, plane = g.outputPlane
        var first = 0
        while first < batch {
            let count = min(chunk, batch - first), width = count * plane
            let cols = columns.get(rows * width), gathered = channelMajor.get(g.outputChannels * width)
            transposeBatch(fromBatchMajor: true, channels: g.outputChannels, samples: count, plane: plane,
                           source: outputGradient + first * g.outputItemSize, destination: gathered)
            try gemm(true, false, rows, width, g.outputChannels, weight, rows, gathered, width, 0, cols, width)
            let target = inputGradient + first * g.inputItemSize
            forEachShare(count, g) { scratch, start, samples in
                Im2Col.raise(g, samples: samples, columns: cols + start * plane, columnStride: width,
                             output: target + start * g.inputItemSize, scratch: scratch)
            }
            first += count
        }
    }

    func backwardWeights(_ g: ConvolutionGeometry, batch: Int, outputGradient: UnsafePointer<Float>,
                         input: UnsafePointer<Float>, weightGradient: UnsafeMutablePointer<Float>, gemm: GEMM) throws {
        let chunk = chunkSize(g, batch: batch), rows = g.patchSize, plane = g.outputPlane
        var first = 0
        while first < batch {
            let count = min(chunk, batch - first), width = count * plane
            let cols = columns.get(rows * width), gathered = channelMajor.get(g.outputChannels * width)
            lower(g, samples: count, input: input + first * g.inputItemSize, columns: cols)
            transposeBatch(fromBatchMajor: true, channels: g.outputChannels, samples: count, plane: plane,
                           source: outputGradient + first * g.outputItemSize, destination: gathered)
            try gemm(false, true, g.outputChannels, rows, width, gathered, width, cols, width, 1, weightGradient, rows)
            first += count
        }
    }
}
