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

    /// The DCGAN case: 4x4 kernel, stride 2, padding 1, even input size. Kernel offset k reads input
    /// coordinate 2*o - 1 + k, that is parity plane `parity[k]` of the input at half-resolution
    /// coordinate o + shift[k]; so with the input split into its four parity planes, every patch row is
    /// a contiguous copy (or sum) instead of a stride-2 gather (or scatter).
    static func isDownsamplingByTwo(_ g: ConvolutionGeometry) -> Bool {
        g.kernelSize == 4 && g.stride == 2 && g.padding == 1 && g.inputHeight % 2 == 0 && g.inputWidth % 2 == 0
    }
    private static let parity = [1, 0, 1, 0], shift = [-1, 0, 0, 1]

    /// Scratch floats `lower` and `raise` need for `samples` samples (the parity planes).
    public static func scratchCount(_ g: ConvolutionGeometry, samples: Int) -> Int {
        isDownsamplingByTwo(g) ? samples * g.inputItemSize : 0
    }

    /// Copies (or, adjoint, adds) one half-resolution row shifted by `dx` into / from a patch line.
    @inline(__always)
    private static func shiftedCopy(_ source: UnsafePointer<Float>, to line: UnsafeMutablePointer<Float>, count: Int, dx: Int) {
        switch dx {
        case -1:
            line[0] = 0
            SmallCopy.copy(line + 1, from: source, count: count - 1)
        case 1:
            SmallCopy.copy(line, from: source + 1, count: count - 1)
            line[count - 1] = 0
        default:
            SmallCopy.copy(line, from: source, count: count)
        }
    }

    @inline(__always)
    private static func shiftedAdd(_ line: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>, count: Int, dx: Int) {
        let first = max(0, -dx), end = min(count, count - dx)
        for ow in first..<end { target[ow + dx] += line[ow] }
    }

    private static func lowerDownsamplingByTwo(_ g: ConvolutionGeometry, samples: Int, input: UnsafePointer<Float>,
                                               columns: UnsafeMutablePointer<Float>, planes: UnsafeMutablePointer<Float>) {
        let channels = g.inputChannels, h = g.inputHeight, w = g.inputWidth, hh = h / 2, hw = w / 2
        let planeSize = samples * channels * hh * hw
        // Split into parity planes: planes[(py*2 + px)][n][c][y][x] = input[n][c][2y + py][2x + px].
        for item in 0..<(samples * channels) {
            for y in 0..<hh {
                for py in 0..<2 {
                    let source = input + (item * h + 2 * y + py) * w
                    let even = planes + (py * 2) * planeSize + (item * hh + y) * hw
                    let odd = planes + (py * 2 + 1) * planeSize + (item * hh + y) * hw
                    for x in 0..<hw {
                        even[x] = source[2 * x]
                        odd[x] = source[2 * x + 1]
                    }
                }
            }
        }
        let plane = hh * hw, width = samples * plane
        for row in 0..<g.patchSize {
            let c = row / 16, ki = (row / 4) % 4, kj = row % 4
            let base = planes + (parity[ki] * 2 + parity[kj]) * planeSize
            let dy = shift[ki], dx = shift[kj]
            // Output rows whose source row oh + dy exists; the one row outside is zero.
            let firstRow = max(0, -dy), endRow = min(hh, hh - dy)
            for n in 0..<samples {
                let out = columns + row * width + n * plane
                let source = base + (n * channels + c) * plane
                if firstRow > 0 { SmallCopy.zero(out, count: hw) }
                if endRow < hh { SmallCopy.zero(out + endRow * hw, count: hw) }
                if dx == 0 {
                    // Unshifted columns: the valid rows are one contiguous run.
                    SmallCopy.copy(out + firstRow * hw, from: source + (firstRow + dy) * hw, count: (endRow - firstRow) * hw)
                } else {
                    for oh in firstRow..<endRow {
                        shiftedCopy(source + (oh + dy) * hw, to: out + oh * hw, count: hw, dx: dx)
                    }
                }
            }
        }
    }

    private static func raiseDownsamplingByTwo(_ g: ConvolutionGeometry, samples: Int, columns: UnsafePointer<Float>,
                                               output: UnsafeMutablePointer<Float>, planes: UnsafeMutablePointer<Float>) {
        let channels = g.inputChannels, h = g.inputHeight, w = g.inputWidth, hh = h / 2, hw = w / 2
        let planeSize = samples * channels * hh * hw
        planes.update(repeating: 0, count: 4 * planeSize)
        let plane = hh * hw, width = samples * plane
        for row in 0..<g.patchSize {
            let c = row / 16, ki = (row / 4) % 4, kj = row % 4
            let base = planes + (parity[ki] * 2 + parity[kj]) * planeSize
            let dy = shift[ki], dx = shift[kj]
            let firstRow = max(0, -dy), endRow = min(hh, hh - dy)
            for n in 0..<samples {
                let line = columns + row * width + n * plane
                let target = base + (n * channels + c) * plane
                if dx == 0 {
                    shiftedAdd(line + firstRow * hw, to: target + (firstRow + dy) * hw, count: (endRow - firstRow) * hw, dx: 0)
                } else {
                    for oh in firstRow..<endRow {
                        shiftedAdd(line + oh * hw, to: target + (oh + dy) * hw, count: hw, dx: dx)
                    }
                }
            }
        }
        for item in 0..<(samples * channels) {
            for y in 0..<hh {
                for py in 0..<2 {
                    let target = output + (item * h + 2 * y + py) * w
                    let even = planes + (py * 2) * planeSize + (item * hh + y) * hw
                    let odd = planes + (py * 2 + 1) * planeSize + (item * hh + y) * hw
                    for x in 0..<hw {
                        target[2 * x] = even[x]
                        target[2 * x + 1] = odd[x]
                    }
                }
            }
        }
    }

    /// `scratch` must hold `scratchCount(g, samples:)` floats (nil when that is 0).
    public static func lower(_ g: ConvolutionGeometry, samples: Int, input: UnsafePointer<Float>,
                             columns: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>? = nil) {
        if isDownsamplingByTwo(g), let scratch {
            lowerDownsamplingByTwo(g, samples: samples, input: input, columns: columns, planes: scratch)
            return
        }
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
                             output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>? = nil) {
        if isDownsamplingByTwo(g), let scratch {
            raiseDownsamplingByTwo(g, samples: samples, columns: columns, output: output, planes: scratch)
            return
        }
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
                SmallCopy.copy(destination + (c * samples + n) * plane, from: source + (n * channels + c) * plane, count: plane)
            }
        }
    }

    /// [channels, samples*plane] -> [samples, channels, plane].
    public static func channelMajorToBatch(channels: Int, samples: Int, plane: Int, source: UnsafePointer<Float>,
                                           destination: UnsafeMutablePointer<Float>) {
        for c in 0..<channels {
            for n in 0..<samples {
                SmallCopy.copy(destination + (n * channels + c) * plane, from: source + (c * samples + n) * plane, count: plane)
            }
        }
    }
}
