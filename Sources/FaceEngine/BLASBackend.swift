import CBLAS

/// The portable backend: convolutions as im2col + SGEMM over chunks of samples.
///
/// A chunk's patches form one matrix [Cin*k*k, samples*Ho*Wo], so even the deep layers (4x4 outputs)
/// give SGEMM a wide matrix; the chunk is sized so that this matrix stays near `patchBudget` floats.
/// Scratch buffers live in the backend and are reused between calls: it is not meant to be shared
/// between threads.
public final class BLASBackend: ComputeBackend {
    public let name = "blas"
    private let patchBudget: Int
    private var patches = ScratchBuffer()
    private var reordered = ScratchBuffer()

    public init(patchBudget: Int = 1 << 23) {
        self.patchBudget = patchBudget
    }

    public func matmul(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                       a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                       beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    private func chunkSize(_ geometry: ConvolutionGeometry, batch: Int) -> Int {
        let perSample = geometry.patchSize * geometry.outputPlane
        return max(1, min(batch, patchBudget / max(perSample, 1)))
    }

    public func convolutionForward(_ geometry: ConvolutionGeometry, batch: Int, input: UnsafePointer<Float>,
                                   weight: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        let chunk = chunkSize(geometry, batch: batch)
        let plane = geometry.outputPlane, rows = geometry.patchSize, channels = geometry.outputChannels
        let cols = patches.get(rows * chunk * plane)
        let product = reordered.get(channels * chunk * plane)
        var first = 0
        while first < batch {
            let count = min(chunk, batch - first)
            let width = count * plane
            Im2Col.lower(geometry, samples: count, input: input + first * geometry.inputItemSize, columns: cols)
            matmul(transposeA: false, transposeB: false, m: channels, n: width, k: rows, alpha: 1,
                   a: weight, lda: rows, b: cols, ldb: width, beta: 0, c: product, ldc: width)
            Im2Col.channelMajorToBatch(channels: channels, samples: count, plane: plane,
                                       source: product, destination: output + first * geometry.outputItemSize)
            first += count
        }
    }

    public func convolutionBackwardData(_ geometry: ConvolutionGeometry, batch: Int, outputGradient: UnsafePointer<Float>,
                                        weight: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>) {
        let chunk = chunkSize(geometry, batch: batch)
        let plane = geometry.outputPlane, rows = geometry.patchSize, channels = geometry.outputChannels
        let cols = patches.get(rows * chunk * plane)
        let gathered = reordered.get(channels * chunk * plane)
        var first = 0
        while first < batch {
            let count = min(chunk, batch - first)
            let width = count * plane
            Im2Col.batchToChannelMajor(channels: channels, samples: count, plane: plane,
                                       source: outputGradient + first * geometry.outputItemSize, destination: gathered)
            matmul(transposeA: true, transposeB: false, m: rows, n: width, k: channels, alpha: 1,
                   a: weight, lda: rows, b: gathered, ldb: width, beta: 0, c: cols, ldc: width)
            Im2Col.raise(geometry, samples: count, columns: cols, output: inputGradient + first * geometry.inputItemSize)
            first += count
        }
    }

    public func convolutionBackwardWeights(_ geometry: ConvolutionGeometry, batch: Int, outputGradient: UnsafePointer<Float>,
                                           input: UnsafePointer<Float>, weightGradient: UnsafeMutablePointer<Float>) {
        let chunk = chunkSize(geometry, batch: batch)
        let plane = geometry.outputPlane, rows = geometry.patchSize, channels = geometry.outputChannels
        let cols = patches.get(rows * chunk * plane)
        let gathered = reordered.get(channels * chunk * plane)
        var first = 0
        while first < batch {
            let count = min(chunk, batch - first)
            let width = count * plane
            Im2Col.lower(geometry, samples: count, input: input + first * geometry.inputItemSize, columns: cols)
            Im2Col.batchToChannelMajor(channels: channels, samples: count, plane: plane,
                                       source: outputGradient + first * geometry.outputItemSize, destination: gathered)
            matmul(transposeA: false, transposeB: true, m: channels, n: rows, k: width, alpha: 1,
                   a: gathered, lda: width, b: cols, ldb: width, beta: 1, c: weightGradient, ldc: rows)
            first += count
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
