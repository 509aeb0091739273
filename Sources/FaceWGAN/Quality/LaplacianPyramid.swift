/// The Laplacian pyramid the sliced Wasserstein distance compares (Burt and Adelson; as in Karras et al.
/// 2018's metrics/sliced_wasserstein.py, which matches OpenCV's pyrDown / pyrUp).
///
/// One image, planar [3, S, S] float32 in 0...255. With the 5x5 binomial filter
/// K = [1,4,6,4,1]^T [1,4,6,4,1] / 256 and mirror boundaries (reflect without repeating the edge
/// sample, `... c b | a b c d | c b ...`, scipy's mode "mirror", NumPy's pad mode "reflect"):
/// - down(g) = (K * g) sampled at even rows and columns: [n, n] -> [n/2, n/2];
/// - up(g)   = 4K * (g with zeros inserted after every sample): [n, n] -> [2n, 2n];
/// - gaussian_0 = the image, gaussian_{i+1} = down(gaussian_i);
/// - level i = gaussian_i - up(gaussian_{i+1}) for i < L-1, and level L-1 = gaussian_{L-1}.
/// Level i has side S / 2^i. K is separable, so every filter runs as a row pass then a column pass
/// (mirror boundaries act per axis, so this is exactly the 2D convolution).
public struct LaplacianPyramid {
    /// The 1D binomial taps [1, 4, 6, 4, 1] / 16; the 2D filter is their outer product.
    public static let taps: [Float] = [1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16]

    public let imageSize: Int
    public let levelCount: Int

    /// Scratch for one image's pyramid: reused between images, so one instance per thread.
    private var gaussians: [[Float]]
    private var upsampled: [Float]
    private var rowPass: [Float]

    public init(imageSize: Int, levelCount: Int) {
        precondition(levelCount >= 1 && imageSize >> (levelCount - 1) >= 4 && imageSize % (1 << (levelCount - 1)) == 0)
        self.imageSize = imageSize
        self.levelCount = levelCount
        gaussians = (0..<levelCount).map { [Float](repeating: 0, count: 3 * (imageSize >> $0) * (imageSize >> $0)) }
        upsampled = [Float](repeating: 0, count: 3 * imageSize * imageSize)
        rowPass = [Float](repeating: 0, count: 2 * imageSize * imageSize)
    }

    /// The mirror-boundary index of `index` on an axis of `count` samples (radius 2, count >= 3).
    @inline(__always)
    static func mirror(_ index: Int, _ count: Int) -> Int {
        index < 0 ? -index : (index >= count ? 2 * count - 2 - index : index)
    }

    /// Computes level `level` of the pyramid of `image` (HWC uint8, S x S x 3) and returns it
    /// (planar [3, s, s], s = S >> level) to `body`. Only the Gaussians up to `level + 1` are computed.
    public mutating func withLevel<R>(_ level: Int, of image: UnsafePointer<UInt8>,
                                      _ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        precondition(level >= 0 && level < levelCount)
        let size = imageSize, plane = size * size
        gaussians[0].withUnsafeMutableBufferPointer { g in
            for position in 0..<plane {
                g[position] = Float(image[3 * position])
                g[plane + position] = Float(image[3 * position + 1])
                g[2 * plane + position] = Float(image[3 * position + 2])
            }
        }
        let last = min(level + 1, levelCount - 1)
        if last >= 1 {
            for index in 1...last {
                let side = size >> (index - 1)
                let source = gaussians[index - 1]
                gaussians[index].withUnsafeMutableBufferPointer { target in
                    rowPass.withUnsafeMutableBufferPointer { scratch in
                        source.withUnsafeBufferPointer { source in
                            for channel in 0..<3 {
                                Self.down(source.baseAddress! + channel * side * side, side: side,
                                          into: target.baseAddress! + channel * (side / 2) * (side / 2),
                                          scratch: scratch.baseAddress!)
                            }
                        }
                    }
                }
            }
        }
        if level == levelCount - 1 {
            return try gaussians[level].withUnsafeBufferPointer { try body($0.baseAddress!) }
        }
        let side = size >> level, coarse = side / 2
        let coarser = gaussians[level + 1]
        gaussians[level].withUnsafeBufferPointer { fine in
            upsampled.withUnsafeMutableBufferPointer { target in
                rowPass.withUnsafeMutableBufferPointer { scratch in
                    coarser.withUnsafeBufferPointer { coarser in
                        for channel in 0..<3 {
                            let out = target.baseAddress! + channel * side * side
                            Self.up(coarser.baseAddress! + channel * coarse * coarse, side: coarse,
                                    into: out, scratch: scratch.baseAddress!)
                            let finePlane = fine.baseAddress! + channel * side * side
                            for position in 0..<(side * side) { out[position] = finePlane[position] - out[position] }
                        }
                    }
                }
            }
        }
        return try upsampled.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }

    /// down: [n, n] -> [n/2, n/2]; `scratch` holds n * n/2 floats.
    static func down(_ source: UnsafePointer<Float>, side n: Int, into target: UnsafeMutablePointer<Float>,
                     scratch: UnsafeMutablePointer<Float>) {
        let half = n / 2
        let k0 = taps[0], k1 = taps[1], k2 = taps[2]
        // Rows: every row, even columns only. scratch [n, half].
        for row in 0..<n {
            let input = source + row * n, output = scratch + row * half
            for x in 0..<half {
                let c = 2 * x
                if c >= 2 && c + 2 < n {
                    output[x] = k0 * (input[c - 2] + input[c + 2]) + k1 * (input[c - 1] + input[c + 1]) + k2 * input[c]
                } else {
                    output[x] = k0 * (input[mirror(c - 2, n)] + input[mirror(c + 2, n)])
                        + k1 * (input[mirror(c - 1, n)] + input[mirror(c + 1, n)]) + k2 * input[c]
                }
            }
        }
        // Columns: even rows only.
        for y in 0..<half {
            let c = 2 * y
            let r0 = scratch + mirror(c - 2, n) * half, r1 = scratch + mirror(c - 1, n) * half
            let r2 = scratch + c * half
            let r3 = scratch + mirror(c + 1, n) * half, r4 = scratch + mirror(c + 2, n) * half
            let output = target + y * half
            for x in 0..<half {
                output[x] = k0 * (r0[x] + r4[x]) + k1 * (r1[x] + r3[x]) + k2 * r2[x]
            }
        }
    }

    /// up: [n, n] -> [2n, 2n]: zero insertion then 4K with mirror boundaries. Mirroring keeps the
    /// parity of an index, so only the taps that land on inserted samples (even indices) count: an
    /// even output index takes taps 1/16, 6/16, 1/16 of samples i-1, i, i+1 (times 2 per axis), an
    /// odd one 4/16, 4/16 of samples i, i+1. `scratch` holds 2n * n floats.
    static func up(_ source: UnsafePointer<Float>, side n: Int, into target: UnsafeMutablePointer<Float>,
                   scratch: UnsafeMutablePointer<Float>) {
        let full = 2 * n
        let k0 = 2 * taps[0], k1 = 2 * taps[1], k2 = 2 * taps[2]
        // Index of the coarse sample at mirrored fine position p (p even after mirroring).
        @inline(__always) func coarse(_ p: Int) -> Int { mirror(p, full) / 2 }
        // Rows: every coarse row -> 2n columns. scratch [n, 2n].
        for row in 0..<n {
            let input = source + row * n, output = scratch + row * full
            for x in 0..<full {
                if x % 2 == 0 {
                    let i = x / 2
                    output[x] = k0 * (input[coarse(x - 2)] + input[coarse(x + 2)]) + k2 * input[i]
                } else {
                    output[x] = k1 * (input[coarse(x - 1)] + input[coarse(x + 1)])
                }
            }
        }
        // Columns: 2n output rows from the n row-passed coarse rows.
        for y in 0..<full {
            let output = target + y * full
            if y % 2 == 0 {
                let r0 = scratch + coarse(y - 2) * full, r2 = scratch + (y / 2) * full, r4 = scratch + coarse(y + 2) * full
                for x in 0..<full { output[x] = k0 * (r0[x] + r4[x]) + k2 * r2[x] }
            } else {
                let r1 = scratch + coarse(y - 1) * full, r3 = scratch + coarse(y + 1) * full
                for x in 0..<full { output[x] = k1 * (r1[x] + r3[x]) }
            }
        }
    }
}
