/// Lowering of convolution patches to matrices and back, for a chunk of samples.
///
/// columns: [Cin*k*k, samples*Ho*Wo]; row (c, ki, kj), column (n, oh, ow) holds
/// input[n, c, oh*stride - padding + ki, ow*stride - padding + kj] or 0 outside the image.
/// These run on the calling thread: the backend parallelizes over chunks of samples instead.
public enum Im2Col {
    /// The output columns `ow` whose input column `ow*stride - padding + offset` lies inside 0..<size.
    @inline(__always)
    static func validRange(offset: Int, size: Int, outputSize: Int, stride: Int, padding: Int) -> Range<Int> {
        // ow*stride >= padding - offset  and  ow*stride <= size - 1 + padding - offset
        let low = padding - offset
        let first = low <= 0 ? 0 : (low + stride - 1) / stride
        let high = size - 1 + padding - offset
        let last = high < 0 ? -1 : min(outputSize - 1, high / stride)
        return first <= last ? first..<(last + 1) : 0..<0
    }

    public static func lower(_ g: ConvolutionGeometry, samples: Int, input: UnsafePointer<Float>,
                             columns: UnsafeMutablePointer<Float>) {
        let k = g.kernelSize, s = g.stride, p = g.padding
        let h = g.inputHeight, w = g.inputWidth, ho = g.outputHeight, wo = g.outputWidth
        let plane = ho * wo, width = samples * plane, inputItem = g.inputItemSize
        for row in 0..<g.patchSize {
            let c = row / (k * k), ki = (row / k) % k, kj = row % k
            let columnsRange = validRange(offset: kj, size: w, outputSize: wo, stride: s, padding: p)
            let rowsRange = validRange(offset: ki, size: h, outputSize: ho, stride: s, padding: p)
            let target = columns + row * width
            for n in 0..<samples {
                let source = input + n * inputItem + c * h * w
                let out = target + n * plane
                for oh in 0..<ho {
                    let line = out + oh * wo
                    if !rowsRange.contains(oh) {
                        line.update(repeating: 0, count: wo)
                        continue
                    }
                    let inputRow = source + (oh * s - p + ki) * w
                    for ow in 0..<columnsRange.lowerBound { line[ow] = 0 }
                    var iw = columnsRange.lowerBound * s - p + kj
                    for ow in columnsRange {
                        line[ow] = inputRow[iw]
                        iw += s
                    }
                    for ow in columnsRange.upperBound..<wo { line[ow] = 0 }
                }
            }
        }
    }

    /// The adjoint of `lower`: output[n, c, ...] = sum of the column entries that read it (overwrites output).
    public static func raise(_ g: ConvolutionGeometry, samples: Int, columns: UnsafePointer<Float>,
                             output: UnsafeMutablePointer<Float>) {
        let k = g.kernelSize, s = g.stride, p = g.padding
        let h = g.inputHeight, w = g.inputWidth, ho = g.outputHeight, wo = g.outputWidth
        let plane = ho * wo, width = samples * plane, inputItem = g.inputItemSize
        for c in 0..<g.inputChannels {
            for n in 0..<samples {
                (output + n * inputItem + c * h * w).update(repeating: 0, count: h * w)
            }
            for ki in 0..<k {
                let rowsRange = validRange(offset: ki, size: h, outputSize: ho, stride: s, padding: p)
                for kj in 0..<k {
                    let columnsRange = validRange(offset: kj, size: w, outputSize: wo, stride: s, padding: p)
                    let source = columns + ((c * k + ki) * k + kj) * width
                    for n in 0..<samples {
                        let target = output + n * inputItem + c * h * w
                        let sampleColumns = source + n * plane
                        for oh in rowsRange {
                            let inputRow = target + (oh * s - p + ki) * w
                            let line = sampleColumns + oh * wo
                            var iw = columnsRange.lowerBound * s - p + kj
                            for ow in columnsRange {
                                inputRow[iw] += line[ow]
                                iw += s
                            }
                        }
                    }
                }
            }
        }
    }

    /// [samples, channels, plane] -> [channels, samples*plane].
    public static func batchToChannelMajor(channels: Int, samples: Int, plane: Int, source: UnsafePointer<Float>,
                                           destination: UnsafeMutablePointer<Float>) {
        for c in 0..<channels {
            for n in 0..<samples {
                (destination + (c * samples + n) * plane).update(from: source + (n * channels + c) * plane, count: plane)
            }
        }
    }

    /// [channels, samples*plane] -> [samples, channels, plane].
    public static func channelMajorToBatch(channels: Int, samples: Int, plane: Int, source: UnsafePointer<Float>,
                                           destination: UnsafeMutablePointer<Float>) {
        for c in 0..<channels {
            for n in 0..<samples {
                (destination + (n * channels + c) * plane).update(from: source + (c * samples + n) * plane, count: plane)
            }
        }
    }
}
