import FaceEngine
import Foundation

/// Multi-scale structural similarity (Wang, Simoncelli and Bovik 2003), as the TensorFlow code that
/// Karras et al. 2018 use (metrics/ms_ssim.py), here as the diversity check of a set: the mean MS-SSIM
/// over random pairs of its images (a collapsed generator's pairs look alike and score high).
///
/// One pair, HWC RGB in 0...255 (computed in Double): at each scale of side h, a Gaussian window of
/// size k = min(11, h) and sigma = 1.5 k / 11 (MATLAB's fspecial: taps at offsets -k/2 + 1/2 ...
/// k/2 - 1/2 for even k), normalised to sum 1, filters x, y, x^2, y^2 and xy per channel ("valid":
/// (h - k + 1)^2 positions); with c1 = (0.01 * 255)^2, c2 = (0.03 * 255)^2 and s11 = E[x^2] - mu1^2 etc.,
/// ssim = mean over positions and channels of (2 mu1 mu2 + c1)(2 s12 + c2) / ((mu1^2 + mu2^2 + c1)(s11 + s22 + c2)),
/// cs = the mean of (2 s12 + c2) / (s11 + s22 + c2). The next scale is the 2x2 average. Both are clipped at
/// 0, and MS-SSIM = prod_{l < L-1} cs_l^w_l * ssim_{L-1}^w_{L-1}.
///
/// Scales: as many as keep the smallest at least 4 px, at most 5 (32 px: 4 scales 32, 16, 8, 4;
/// 64 and 128 px: 5). Weights: Wang et al.'s [0.0448, 0.2856, 0.3001, 0.2363, 0.1333] with 5 scales;
/// with fewer, the first L of them renormalised to sum 1.
public enum MultiScaleSSIM {
    public static let paperWeights: [Double] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
    /// Pairs per set at most.
    public static let maximumPairs = 5000
    static let c1 = (0.01 * 255.0) * (0.01 * 255.0)
    static let c2 = (0.03 * 255.0) * (0.03 * 255.0)

    public static func scaleCount(imageSize: Int) -> Int {
        var scales = 1
        while scales < 5 && imageSize >> scales >= 4 && imageSize % (1 << scales) == 0 { scales += 1 }
        return scales
    }

    public static func weights(scales: Int) -> [Double] {
        if scales >= paperWeights.count { return paperWeights }
        let first = Array(paperWeights.prefix(scales)), total = first.reduce(0, +)
        return first.map { $0 / total }
    }

    /// The normalised 1D Gaussian of a k x k window (the 2D window is its outer product).
    static func window(size k: Int) -> [Double] {
        let sigma = Double(k) * 1.5 / 11
        let taps = (0..<k).map { index -> Double in
            let x = Double(index) - Double(k - 1) / 2
            return exp(-(x * x) / (2 * sigma * sigma))
        }
        let total = taps.reduce(0, +)
        return taps.map { $0 / total }
    }

    /// MS-SSIM of two S x S HWC 8-bit images.
    public static func score(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, imageSize: Int) -> Double {
        var workspace = Workspace(imageSize: imageSize)
        return workspace.score(a, b)
    }

    /// A random disjoint pairing of `count` images: a permutation p of 0..<count (`permutation`), pairs
    /// (p[0], p[1]), (p[2], p[3]), ..., at most `maximumPairs`.
    public static func pairs(count: Int, random: inout RandomGenerator) -> [(Int, Int)] {
        let order = random.permutation(count)
        return (0..<min(count / 2, maximumPairs)).map { (order[2 * $0], order[2 * $0 + 1]) }
    }

    /// The mean MS-SSIM over `pairs` of `images` (in parallel; summed in pair order).
    public static func mean(of images: QualityImages, pairs: [(Int, Int)]) -> Double {
        guard !pairs.isEmpty else { return .nan }
        var scores = [Double](repeating: 0, count: pairs.count)
        scores.withUnsafeMutableBufferPointer { scores in
            let out = scores.baseAddress!
            Parallel.forRanges(pairs.count, grain: 8) { range in
                var workspace = Workspace(imageSize: images.imageSize)
                for index in range {
                    out[index] = workspace.score(images.pixels(of: pairs[index].0), images.pixels(of: pairs[index].1))
                }
            }
        }
        return scores.reduce(0, +) / Double(scores.count)
    }

    /// One thread's buffers.
    struct Workspace {
        let imageSize: Int
        let scales: Int
        let weights: [Double]
        let windows: [[Double]]
        var x: [Double], y: [Double]         // [3, h, h] at the current scale
        var rows: [Double]                   // 5 maps after the row pass [5, h, h - k + 1]

        init(imageSize: Int) {
            self.imageSize = imageSize
            scales = MultiScaleSSIM.scaleCount(imageSize: imageSize)
            weights = MultiScaleSSIM.weights(scales: scales)
            windows = (0..<scales).map { MultiScaleSSIM.window(size: min(11, imageSize >> $0)) }
            x = [Double](repeating: 0, count: 3 * imageSize * imageSize)
            y = x
            rows = [Double](repeating: 0, count: 5 * imageSize * imageSize)
        }

        mutating func score(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>) -> Double {
            let size = imageSize, plane = size * size
            for position in 0..<plane {
                for channel in 0..<3 {
                    x[channel * plane + position] = Double(a[3 * position + channel])
                    y[channel * plane + position] = Double(b[3 * position + channel])
                }
            }
            var result = 1.0
            for scale in 0..<scales {
                let (ssim, cs) = ssimAndContrast(side: size >> scale, window: windows[scale])
                if scale == scales - 1 {
                    result *= pow(max(ssim, 0), weights[scale])
                } else {
                    result *= pow(max(cs, 0), weights[scale])
                    downsample(side: size >> scale)
                }
            }
            return result
        }

        /// 2x2 averages of x and y in place: [3, h, h] -> [3, h/2, h/2].
        mutating func downsample(side h: Int) {
            let half = h / 2
            x.withUnsafeMutableBufferPointer { x in
                y.withUnsafeMutableBufferPointer { y in
                    for buffer in [x.baseAddress!, y.baseAddress!] {
                        for channel in 0..<3 {
                            let source = buffer + channel * h * h, target = buffer + channel * half * half
                            for row in 0..<half {
                                for column in 0..<half {
                                    let top = source + 2 * row * h + 2 * column
                                    target[row * half + column] = (top[0] + top[1] + top[h] + top[h + 1]) * 0.25
                                }
                            }
                        }
                    }
                }
            }
        }

        /// Mean SSIM and contrast-structure terms at one scale (side h, window taps g).
        mutating func ssimAndContrast(side h: Int, window g: [Double]) -> (Double, Double) {
            let k = g.count, out = h - k + 1, mapPlane = h * out
            var ssimSum = 0.0, csSum = 0.0
            x.withUnsafeBufferPointer { x in
                y.withUnsafeBufferPointer { y in
                    rows.withUnsafeMutableBufferPointer { rows in
                        g.withUnsafeBufferPointer { g in
                            let maps = rows.baseAddress!
                            for channel in 0..<3 {
                                let px = x.baseAddress! + channel * h * h, py = y.baseAddress! + channel * h * h
                                // Row pass: 5 maps [h, out].
                                for row in 0..<h {
                                    let rx = px + row * h, ry = py + row * h
                                    for column in 0..<out {
                                        var m1 = 0.0, m2 = 0.0, s11 = 0.0, s22 = 0.0, s12 = 0.0
                                        for tap in 0..<k {
                                            let w = g[tap], u = rx[column + tap], v = ry[column + tap]
                                            m1 += w * u; m2 += w * v
                                            s11 += w * u * u; s22 += w * v * v; s12 += w * u * v
                                        }
                                        let at = row * out + column
                                        maps[at] = m1; maps[mapPlane + at] = m2
                                        maps[2 * mapPlane + at] = s11; maps[3 * mapPlane + at] = s22
                                        maps[4 * mapPlane + at] = s12
                                    }
                                }
                                // Column pass and the SSIM terms.
                                for row in 0..<out {
                                    for column in 0..<out {
                                        var f = (0.0, 0.0, 0.0, 0.0, 0.0)
                                        for tap in 0..<k {
                                            let w = g[tap], at = (row + tap) * out + column
                                            f.0 += w * maps[at]; f.1 += w * maps[mapPlane + at]
                                            f.2 += w * maps[2 * mapPlane + at]; f.3 += w * maps[3 * mapPlane + at]
                                            f.4 += w * maps[4 * mapPlane + at]
                                        }
                                        let mu11 = f.0 * f.0, mu22 = f.1 * f.1, mu12 = f.0 * f.1
                                        let sigma11 = f.2 - mu11, sigma22 = f.3 - mu22, sigma12 = f.4 - mu12
                                        let v1 = 2 * sigma12 + c2, v2 = sigma11 + sigma22 + c2
                                        ssimSum += (2 * mu12 + c1) * v1 / ((mu11 + mu22 + c1) * v2)
                                        csSum += v1 / v2
                                    }
                                }
                            }
                        }
                    }
                }
            }
            let positions = Double(3 * out * out)
            return (ssimSum / positions, csSum / positions)
        }
    }
}
