#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An antialiasing resampling filter with Pillow's definition (libImaging/Resample.c).
///
/// When shrinking by a factor s > 1 the kernel is stretched by s, so every source pixel contributes
/// (the antialiasing that `Image.resize` does and a plain interpolation does not).
public enum ResamplingFilter: String, CaseIterable, Sendable {
    /// Each output pixel is the mean of the source pixels it covers (support 0.5).
    case box
    /// Triangle (tent), support 1.
    case bilinear
    /// Keys cubic convolution with a = -0.5, support 2.
    case bicubic
    /// sinc(x) sinc(x/3) on |x| < 3, support 3.
    case lanczos

    /// Half-width of the kernel, in source pixels at scale 1.
    public var support: Double {
        switch self {
        case .box: return 0.5
        case .bilinear: return 1
        case .bicubic: return 2
        case .lanczos: return 3
        }
    }

    /// The kernel at distance x (in units of the stretched kernel).
    @inline(__always)
    public func weight(_ x: Double) -> Double {
        switch self {
        case .box:
            return x > -0.5 && x <= 0.5 ? 1 : 0
        case .bilinear:
            let a = abs(x)
            return a < 1 ? 1 - a : 0
        case .bicubic:
            let a = -0.5
            let t = abs(x)
            if t < 1 { return ((a + 2) * t - (a + 3)) * t * t + 1 }
            if t < 2 { return (((t - 5) * t + 8) * t - 4) * a }
            return 0
        case .lanczos:
            return x >= -3 && x < 3 ? Self.sinc(x) * Self.sinc(x / 3) : 0
        }
    }

    @inline(__always)
    private static func sinc(_ x: Double) -> Double {
        if x == 0 { return 1 }
        let t = x * Double.pi
        return sin(t) / t
    }
}

/// Fixed-point weights for one axis: output i takes `counts[i]` taps from source index `starts[i]`.
///
/// The same numbers as Pillow's `precompute_coeffs` followed by `normalize_coeffs_8bpc`: weights are
/// normalized to sum to 1 in Double, then rounded half away from zero to 22 fractional bits.
struct ResamplingWeights: Equatable {
    static let precisionBits: Int32 = 22

    let inputSize: Int
    let start: Double
    let end: Double
    let outputSize: Int
    let filter: ResamplingFilter
    /// Taps reserved per output (unused ones are zero).
    let kernelSize: Int
    private(set) var starts: [Int32]
    private(set) var counts: [Int32]
    private(set) var weights: [Int32]

    /// Weights for resampling source samples 0..<inputSize, of which the span [start, end) maps
    /// onto outputSize samples.
    init(inputSize: Int, start: Double, end: Double, outputSize: Int, filter: ResamplingFilter) {
        self.inputSize = inputSize
        self.start = start
        self.end = end
        self.outputSize = outputSize
        self.filter = filter
        let scale = (end - start) / Double(outputSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        kernelSize = Int(support.rounded(.up)) * 2 + 1
        starts = [Int32](repeating: 0, count: outputSize)
        counts = [Int32](repeating: 0, count: outputSize)
        weights = [Int32](repeating: 0, count: outputSize * kernelSize)
        var taps = [Double](repeating: 0, count: kernelSize)
        let one = Double(1 << Self.precisionBits)
        for output in 0..<outputSize {
            let center = start + (Double(output) + 0.5) * scale
            let inverseScale = 1 / filterScale
            // C's (int) cast truncates toward zero; Int(_:) does too.
            let first = max(Int(center - support + 0.5), 0)
            let count = min(Int(center + support + 0.5), inputSize) - first
            var total = 0.0
            if count > 0 {
                for tap in 0..<count {
                    let w = filter.weight((Double(tap + first) - center + 0.5) * inverseScale)
                    taps[tap] = w
                    total += w
                }
            }
            starts[output] = Int32(first)
            counts[output] = Int32(max(count, 0))
            for tap in 0..<max(count, 0) {
                let normalized = total != 0 ? taps[tap] / total : taps[tap]
                weights[output * kernelSize + tap] = normalized < 0
                    ? Int32(-0.5 + normalized * one) : Int32(0.5 + normalized * one)
            }
        }
    }

    func matches(inputSize: Int, start: Double, end: Double, outputSize: Int, filter: ResamplingFilter) -> Bool {
        self.inputSize == inputSize && self.start == start && self.end == end
            && self.outputSize == outputSize && self.filter == filter
    }
}

/// A rectangle of whole pixels: columns x..<x+width, rows y..<y+height.
public struct PixelRect: Equatable, Sendable, CustomStringConvertible {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    public var description: String { "\(x) \(y) \(width) \(height)" }
}

/// Pillow-compatible two-pass resampling of 8-bit RGB images (`Image.resize(size, filter, box)`).
///
/// The horizontal pass runs first over the source rows the vertical pass needs, its result is rounded
/// to 8 bits, then the vertical pass runs: both in 32-bit fixed point with 22 fractional bits, exactly
/// as Pillow's `ImagingResample`, so the output equals Pillow's byte for byte on the same input.
/// One instance per thread: it caches the weights of the last geometry and its scratch rows.
public final class Resampler {
    private var horizontal: ResamplingWeights?
    private var vertical: ResamplingWeights?
    private var scratch: [UInt8] = []
    private var accumulators: [Int32] = []

    public init() {}

    /// Resamples `region` of the RGB image at `source` (rows of `sourceStride` bytes) to
    /// outputWidth x outputHeight RGB pixels at `output` (rows of 3*outputWidth bytes).
    ///
    /// The region is the input image (pixels outside it are never read, as after `Image.crop`);
    /// `box` (x0, y0, x1, y1), in region coordinates and possibly fractional, is the part of it that
    /// maps onto the output (Pillow's `box` argument; nil = the whole region).
    public func resample(source: UnsafePointer<UInt8>, sourceStride: Int, region: PixelRect,
                         box: (Double, Double, Double, Double)? = nil,
                         outputWidth: Int, outputHeight: Int, filter: ResamplingFilter,
                         output: UnsafeMutablePointer<UInt8>) {
        precondition(region.width > 0 && region.height > 0 && outputWidth > 0 && outputHeight > 0)
        let box = box ?? (0, 0, Double(region.width), Double(region.height))
        let origin = source + region.y * sourceStride + region.x * 3
        let needHorizontal = outputWidth != region.width || box.0 != 0 || box.2 != Double(outputWidth)
        let needVertical = outputHeight != region.height || box.1 != 0 || box.3 != Double(outputHeight)

        let columns = weights(&horizontal, inputSize: region.width, start: box.0, end: box.2,
                              outputSize: outputWidth, filter: filter)
        let rows = weights(&vertical, inputSize: region.height, start: box.1, end: box.3,
                           outputSize: outputHeight, filter: filter)
        // Source rows the vertical pass reads.
        let firstRow = Int(rows.starts[0])
        let lastRow = Int(rows.starts[outputHeight - 1] + rows.counts[outputHeight - 1])

        switch (needHorizontal, needVertical) {
        case (false, false):
            for y in 0..<outputHeight {
                (output + y * outputWidth * 3).update(from: origin + y * sourceStride, count: outputWidth * 3)
            }
        case (true, false):
            Self.horizontalPass(columns, source: origin, sourceStride: sourceStride, rows: 0..<outputHeight,
                                output: output)
        case (false, true):
            verticalPass(rows, source: origin, sourceStride: sourceStride, width: outputWidth,
                         rowOffset: 0, output: output)
        case (true, true):
            let stride = outputWidth * 3
            let needed = (lastRow - firstRow) * stride
            if scratch.count < needed { scratch = [UInt8](repeating: 0, count: needed) }
            scratch.withUnsafeMutableBufferPointer { temporary in
                Self.horizontalPass(columns, source: origin + firstRow * sourceStride, sourceStride: sourceStride,
                                    rows: 0..<(lastRow - firstRow), output: temporary.baseAddress!)
                verticalPass(rows, source: UnsafePointer(temporary.baseAddress!), sourceStride: stride,
                             width: outputWidth, rowOffset: firstRow, output: output)
            }
        }
    }

    private func weights(_ cache: inout ResamplingWeights?, inputSize: Int, start: Double, end: Double,
                         outputSize: Int, filter: ResamplingFilter) -> ResamplingWeights {
        if let cached = cache, cached.matches(inputSize: inputSize, start: start, end: end,
                                              outputSize: outputSize, filter: filter) {
            return cached
        }
        let fresh = ResamplingWeights(inputSize: inputSize, start: start, end: end, outputSize: outputSize,
                                      filter: filter)
        cache = fresh
        return fresh
    }

    @inline(__always)
    private static func clip8(_ value: Int32) -> UInt8 {
        if value >= Int32(1) << (ResamplingWeights.precisionBits + 8) { return 255 }
        if value <= 0 { return 0 }
        return UInt8(truncatingIfNeeded: value >> ResamplingWeights.precisionBits)
    }

    // source: rows of RGB, output: rows.count rows of 3*outputSize bytes.
    private static func horizontalPass(_ weights: ResamplingWeights, source: UnsafePointer<UInt8>,
                                       sourceStride: Int, rows: Range<Int>, output: UnsafeMutablePointer<UInt8>) {
        let width = weights.outputSize
        let kernelSize = weights.kernelSize
        let half = Int32(1) << (ResamplingWeights.precisionBits - 1)
        weights.starts.withUnsafeBufferPointer { starts in
        weights.counts.withUnsafeBufferPointer { counts in
        weights.weights.withUnsafeBufferPointer { kernel in
            for row in rows {
                let input = source + row * sourceStride
                let out = output + (row - rows.lowerBound) * width * 3
                for x in 0..<width {
                    let k = kernel.baseAddress! + x * kernelSize
                    var pixel = input + Int(starts[x]) * 3
                    var red = half, green = half, blue = half
                    for tap in 0..<Int(counts[x]) {
                        let w = k[tap]
                        red &+= Int32(pixel[0]) &* w
                        green &+= Int32(pixel[1]) &* w
                        blue &+= Int32(pixel[2]) &* w
                        pixel += 3
                    }
                    out[3 * x] = clip8(red)
                    out[3 * x + 1] = clip8(green)
                    out[3 * x + 2] = clip8(blue)
                }
            }
        }
        }
        }
    }

    // source row r of the weights lives at source + (r - rowOffset) * sourceStride.
    private func verticalPass(_ weights: ResamplingWeights, source: UnsafePointer<UInt8>, sourceStride: Int,
                              width: Int, rowOffset: Int, output: UnsafeMutablePointer<UInt8>) {
        let values = width * 3
        if accumulators.count < values { accumulators = [Int32](repeating: 0, count: values) }
        let kernelSize = weights.kernelSize
        let half = Int32(1) << (ResamplingWeights.precisionBits - 1)
        accumulators.withUnsafeMutableBufferPointer { sums in
            let sum = sums.baseAddress!
            for y in 0..<weights.outputSize {
                for i in 0..<values { sum[i] = half }
                let first = Int(weights.starts[y]) - rowOffset
                for tap in 0..<Int(weights.counts[y]) {
                    let w = weights.weights[y * kernelSize + tap]
                    let row = source + (first + tap) * sourceStride
                    for i in 0..<values { sum[i] &+= Int32(row[i]) &* w }
                }
                let out = output + y * values
                for i in 0..<values { out[i] = Self.clip8(sum[i]) }
            }
        }
    }
}
