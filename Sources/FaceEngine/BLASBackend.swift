import CBLAS

/// The portable backend: convolutions as im2col + SGEMM.
///
/// Work is split over our worker threads by samples: each worker lowers its own chunk of samples to a
/// patch matrix [Cin*k*k, samples*Ho*Wo] and runs a single-threaded SGEMM on it, so lowering and
/// multiplication proceed without barriers and OpenBLAS's own threads never compete with ours
/// (BLAS is set to one thread; `Parallel.threadCount` is the parallelism). A chunk is sized so its
/// patch matrix stays near `patchBudget` floats while staying wide enough for SGEMM even at the deep
/// 4x4 layers. Weight gradients are summed from per-worker partials. Scratch memory lives in the
/// backend and is reused between calls, so one backend serves one thread of control at a time.
public final class BLASBackend: ComputeBackend {
    public let kind = BackendKind.blas
    public let precision = ComputePrecision.fp32
    private let patchBudget: Int
    private var workers: [WorkerScratch] = []

    private final class WorkerScratch {
        var patches = ScratchBuffer()
        var reordered = ScratchBuffer()
        var weightGradient = ScratchBuffer()
        var planes = ScratchBuffer()
    }

    public init(patchBudget: Int = 1 << 20) {
        self.patchBudget = patchBudget
        BLASRuntime.setThreadCount(1)
    }

    public func matmul(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                       a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                       beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// C = op(A) op(B) + beta C with the rows of C split over our workers, each running single-threaded
    /// SGEMM on its own rows: so a lowering can use OpenBLAS without OpenBLAS's threads competing with ours.
    func parallelMatmul(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        // Shares under ~32k multiply-adds are not worth a thread's hand-off (an estimate, not measured).
        let grain = max(1, (1 << 15) / max(1, n * k))
        Parallel.forRanges(m, grain: grain) { rows in
            let first = rows.lowerBound
            cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                        Int32(rows.count), Int32(n), Int32(k), 1, a + (transposeA ? first : first * lda), Int32(lda),
                        b, Int32(ldb), beta, c + first * ldc, Int32(ldc))
        }
    }

    /// Calls body(worker, scratch, first, count) for chunks of at most `chunk` samples, each worker
    /// taking a contiguous share of the batch.
    private func forEachChunk(batch: Int, _ geometry: ConvolutionGeometry,
                              _ body: (Int, WorkerScratch, Int, Int) -> Void) -> Int {
        let perSample = max(geometry.patchSize * geometry.outputPlane, 1)
        let workerCount = max(1, min(Parallel.threadCount, batch))
        while workers.count < workerCount { workers.append(WorkerScratch()) }
        let share = (batch + workerCount - 1) / workerCount
        let chunk = max(1, min(share, patchBudget / perSample))
        let scratch = workers
        Parallel.forEach(workerCount) { worker in
            let end = min(batch, (worker + 1) * share)
            var first = worker * share
            while first < end {
                let count = min(chunk, end - first)
                body(worker, scratch[worker], first, count)
                first += count
            }
        }
        return workerCount
    }

    /// From this many output positions per sample on, each sample's product is written straight into
    /// its NCHW slot (one SGEMM per sample, still wide enough); below it, a chunk's samples share one
    /// wide SGEMM and are scattered afterwards.
    private static let perSamplePlane = 128

    public func convolutionForward(_ geometry: ConvolutionGeometry, batch: Int, input: UnsafePointer<Float>,
                                   weight: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        let plane = geometry.outputPlane, rows = geometry.patchSize, channels = geometry.outputChannels
        _ = forEachChunk(batch: batch, geometry) { _, scratch, first, count in
            let width = count * plane
            let cols = scratch.patches.get(rows * width)
            Im2Col.lower(geometry, samples: count, input: input + first * geometry.inputItemSize, columns: cols,
                         scratch: scratch.planes.get(Im2Col.scratchCount(geometry, samples: count)))
            let target = output + first * geometry.outputItemSize
            if plane >= Self.perSamplePlane {
                for sample in 0..<count {
                    matmul(transposeA: false, transposeB: false, m: channels, n: plane, k: rows, alpha: 1,
                           a: weight, lda: rows, b: cols + sample * plane, ldb: width, beta: 0,
                           c: target + sample * geometry.outputItemSize, ldc: plane)
                }
                return
            }
            let product = scratch.reordered.get(channels * width)
            matmul(transposeA: false, transposeB: false, m: channels, n: width, k: rows, alpha: 1,
                   a: weight, lda: rows, b: cols, ldb: width, beta: 0, c: product, ldc: width)
            Im2Col.channelMajorToBatch(channels: channels, samples: count, plane: plane, source: product, destination: target)
        }
    }

    public func convolutionBackwardData(_ geometry: ConvolutionGeometry, batch: Int, outputGradient: UnsafePointer<Float>,
                                        weight: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>) {
        let plane = geometry.outputPlane, rows = geometry.patchSize, channels = geometry.outputChannels
        _ = forEachChunk(batch: batch, geometry) { _, scratch, first, count in
            let width = count * plane
            let cols = scratch.patches.get(rows * width)
            let source = outputGradient + first * geometry.outputItemSize
            if plane >= Self.perSamplePlane {
                for sample in 0..<count {
                    matmul(transposeA: true, transposeB: false, m: rows, n: plane, k: channels, alpha: 1,
                           a: weight, lda: rows, b: source + sample * geometry.outputItemSize, ldb: plane, beta: 0,
                           c: cols + sample * plane, ldc: width)
                }
            } else {
                let gathered = scratch.reordered.get(channels * width)
                Im2Col.batchToChannelMajor(channels: channels, samples: count, plane: plane, source: source, destination: gathered)
                matmul(transposeA: true, transposeB: false, m: rows, n: width, k: channels, alpha: 1,
                       a: weight, lda: rows, b: gathered, ldb: width, beta: 0, c: cols, ldc: width)
            }
            Im2Col.raise(geometry, samples: count, columns: cols, output: inputGradient + first * geometry.inputItemSize,
                         scratch: scratch.planes.get(Im2Col.scratchCount(geometry, samples: count)))
        }
    }

    public func convolutionBackwardWeights(_ geometry: ConvolutionGeometry, batch: Int, outputGradient: UnsafePointer<Float>,
                                           input: UnsafePointer<Float>, weightGradient: UnsafeMutablePointer<Float>) {
        if batch == 0 { return }
        let plane = geometry.outputPlane, rows = geometry.patchSize, channels = geometry.outputChannels
        let weightCount = rows * channels
        // Worker 0 accumulates straight into the result; the others into zeroed partials summed below.
        let workerCount = max(1, min(Parallel.threadCount, batch))
        while workers.count < workerCount { workers.append(WorkerScratch()) }
        let partials = (0..<workerCount).map { worker -> UnsafeMutablePointer<Float> in
            if worker == 0 { return weightGradient }
            let partial = workers[worker].weightGradient.get(weightCount)
            partial.update(repeating: 0, count: weightCount)
            return partial
        }
        _ = forEachChunk(batch: batch, geometry) { worker, scratch, first, count in
            let width = count * plane
            let cols = scratch.patches.get(rows * width), gathered = scratch.reordered.get(channels * width)
            Im2Col.lower(geometry, samples: count, input: input + first * geometry.inputItemSize, columns: cols,
                         scratch: scratch.planes.get(Im2Col.scratchCount(geometry, samples: count)))
            Im2Col.batchToChannelMajor(channels: channels, samples: count, plane: plane,
                                       source: outputGradient + first * geometry.outputItemSize, destination: gathered)
            matmul(transposeA: false, transposeB: true, m: channels, n: rows, k: width, alpha: 1,
                   a: gathered, lda: width, b: cols, ldb: width, beta: 1, c: partials[worker], ldc: rows)
        }
        if workerCount > 1 {
            Parallel.forRanges(weightCount) { range in
                for worker in 1..<workerCount {
                    let partial = partials[worker]
                    for index in range { weightGradient[index] += partial[index] }
                }
            }
        }
    }
}

/// A growable scratch allocation, 64-byte aligned, kept between calls.
struct ScratchBuffer {
    private var tensor: Tensor?
    mutating func get(_ count: Int) -> UnsafeMutablePointer<Float> {
        if let tensor, tensor.count >= count { return tensor.pointer }
        let fresh = Tensor(shape: [count])
        tensor = fresh
        return fresh.pointer
    }
}
