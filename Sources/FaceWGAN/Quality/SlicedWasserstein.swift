import FaceEngine
import Foundation

/// Multi-scale sliced Wasserstein distance (Karras et al. 2018, "Progressive Growing of GANs", their
/// metrics/sliced_wasserstein.py), computed one pyramid level at a time.
///
/// For each level of the Laplacian pyramid (`LaplacianPyramid`; resolutions S, S/2, ... down to 16):
/// 1. descriptors: M = min(128 N, 2^18) 7x7x3 neighbourhoods of N images; descriptor m takes image
///    m mod N (so up to 2,048 images this is the reference's 128 per image; beyond, each image gives
///    about M / N) at a centre x, y uniform in [3, side - 3), drawn in the order m = 0, 1, ... as
///    x = 3 + integer(below: side - 6), then y the same way. Flattened channel-major, then row, then
///    column: component c * 49 + dy * 7 + dx.
/// 2. normalised per colour channel over the set: minus the mean, divided by the (population) standard
///    deviation of all M * 49 values of the channel (a channel with deviation 0 is only centred).
/// 3. 4 repeats x 128 directions: 512 x 147 standard normals (`fillNormal`, direction-major: direction
///    d's components are draws d * 147 ..< (d + 1) * 147), each direction scaled to unit length.
/// 4. both sets projected on every direction (SGEMM), each direction's M projections sorted
///    (`FloatRadixSort`), and the mean |a_i - b_i| over all directions and positions (the mean over
///    repeats of the reference's per-repeat means: the repeats have equal sizes). The tool reports it
///    x1e3.
/// Memory: one level's descriptors of both sets (2 x M x 147 floats, 308 MB at M = 2^18) plus both
/// sets' projections on 32 directions per thread (64 MB at M = 2^18).
public enum SlicedWasserstein {
    public static let neighbourhoodSize = 7
    public static let neighbourhoodsPerImage = 128
    public static let directionRepeats = 4
    public static let directionsPerRepeat = 128
    public static let maximumDescriptors = 1 << 18
    /// 7 * 7 * 3.
    public static let descriptorLength = 147
    /// Directions per SGEMM and per task: fixed, so results do not depend on the thread count. SGEMM packs
    /// the descriptors once per call, so fewer directions per call spend most of the time packing.
    static let directionChunk = 32
    /// Pieces of the parallel sums: fixed for the same reason.
    static let sumPieces = 64

    /// The pyramid's resolutions for images of side `imageSize`: S, S/2, ... while >= 16.
    public static func resolutions(imageSize: Int) -> [Int] {
        var result = [Int](), side = imageSize
        while side >= 16 {
            result.append(side)
            if side % 2 != 0 { break }
            side /= 2
        }
        return result
    }

    /// M for a set of `images` images.
    public static func descriptorCount(images: Int) -> Int { min(neighbourhoodsPerImage * images, maximumDescriptors) }

    /// The normalised descriptors [M, 147] of level `level` of `images` (see the type's documentation);
    /// `random` draws the centres.
    public static func descriptors(of images: QualityImages, level: Int, levelCount: Int,
                                   random: inout RandomGenerator) -> [Float] {
        let n = images.count, m = descriptorCount(images: n), length = descriptorLength
        let side = images.imageSize >> level, half = neighbourhoodSize / 2
        precondition(n >= 1 && side >= neighbourhoodSize)
        // Centres, in draw order: (x, y) of descriptor 0, 1, ...
        var centres = [Int32](repeating: 0, count: 2 * m)
        for index in 0..<m {
            centres[2 * index] = Int32(half + random.integer(below: side - 2 * half))
            centres[2 * index + 1] = Int32(half + random.integer(below: side - 2 * half))
        }
        var result = [Float](repeating: 0, count: m * length)
        result.withUnsafeMutableBufferPointer { output in
            centres.withUnsafeBufferPointer { centres in
                let target = output.baseAddress!, centre = centres.baseAddress!
                Parallel.forRanges(n, grain: 1) { range in
                    var pyramid = LaplacianPyramid(imageSize: images.imageSize, levelCount: levelCount)
                    for image in range {
                        pyramid.withLevel(level, of: images.pixels(of: image)) { planes in
                            var index = image
                            while index < m {
                                let x = Int(centre[2 * index]), y = Int(centre[2 * index + 1])
                                let descriptor = target + index * length
                                for channel in 0..<3 {
                                    let plane = planes + channel * side * side
                                    for dy in 0..<neighbourhoodSize {
                                        let row = plane + (y - half + dy) * side + (x - half)
                                        let out = descriptor + channel * 49 + dy * neighbourhoodSize
                                        for dx in 0..<neighbourhoodSize { out[dx] = row[dx] }
                                    }
                                }
                                index += n
                            }
                        }
                    }
                }
            }
        }
        normalize(&result, count: m)
        return result
    }

    /// Per colour channel over all `count` descriptors and their 49 positions: minus the mean, over
    /// the population standard deviation (two passes, sums in Double).
    public static func normalize(_ descriptors: inout [Float], count: Int) {
        let length = descriptorLength
        descriptors.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            // Sums per channel of v (centre nil) or of (v - centre)^2, in fixed pieces.
            func channelSums(centre: [Float]?) -> [Double] {
                let partials = UnsafeMutablePointer<Double>.allocate(capacity: 3 * sumPieces)
                defer { partials.deallocate() }
                Parallel.forEach(sumPieces) { piece in
                    for channel in 0..<3 {
                        var sum = 0.0
                        let c = centre?[channel] ?? 0, squared = centre != nil
                        for index in (count * piece / sumPieces)..<(count * (piece + 1) / sumPieces) {
                            let values = base + index * length + channel * 49
                            var s: Float = 0
                            if squared {
                                for k in 0..<49 { let d = values[k] - c; s += d * d }
                            } else {
                                for k in 0..<49 { s += values[k] }
                            }
                            sum += Double(s)
                        }
                        partials[3 * piece + channel] = sum
                    }
                }
                var total = [0.0, 0.0, 0.0]
                for piece in 0..<sumPieces { for c in 0..<3 { total[c] += partials[3 * piece + c] } }
                return total
            }
            let values = Double(count * 49)
            let meanF = channelSums(centre: nil).map { Float($0 / values) }
            let variance = channelSums(centre: meanF).map { $0 / values }
            let scale = variance.map { $0 > 0 ? Float(1 / $0.squareRoot()) : 1 }
            Parallel.forRanges(count, grain: 1024) { range in
                for index in range {
                    let descriptor = base + index * length
                    for channel in 0..<3 {
                        let m = meanF[channel], s = scale[channel]
                        for k in 0..<49 { descriptor[channel * 49 + k] = (descriptor[channel * 49 + k] - m) * s }
                    }
                }
            }
        }
    }

    /// 512 unit directions [512, 147] from `random` (see the type's documentation).
    public static func directions(random: inout RandomGenerator) -> [Float] {
        let count = directionRepeats * directionsPerRepeat, length = descriptorLength
        var result = [Float](repeating: 0, count: count * length)
        result.withUnsafeMutableBufferPointer { buffer in
            random.fillNormal(buffer)
            for direction in 0..<count {
                let row = buffer.baseAddress! + direction * length
                var squares = 0.0
                for k in 0..<length { squares += Double(row[k]) * Double(row[k]) }
                let norm = squares.squareRoot()
                for k in 0..<length { row[k] = Float(Double(row[k]) / norm) }
            }
        }
        return result
    }

    /// The sliced Wasserstein distance (not scaled) between two sets of `count` descriptors [count, 147]
    /// along `directions` [D, 147]: the mean over directions and positions of |sorted projections of a
    /// - sorted projections of b|. Parallel over chunks of 32 directions
    /// (one SGEMM per set and chunk: the descriptors are packed once per 32 directions).
    public static func distance(_ a: [Float], _ b: [Float], count: Int, directions: [Float]) -> Double {
        let length = descriptorLength, directionCount = directions.count / length
        precondition(a.count == count * length && b.count == count * length && directionCount % directionChunk == 0)
        let chunks = directionCount / directionChunk
        let partials = UnsafeMutablePointer<Double>.allocate(capacity: chunks)
        defer { partials.deallocate() }
        let blas = BLASBackend()
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                directions.withUnsafeBufferPointer { directions in
                    Parallel.forRanges(chunks, grain: 1) { range in
                        let projectionsA = UnsafeMutablePointer<Float>.allocate(capacity: directionChunk * count)
                        let projectionsB = UnsafeMutablePointer<Float>.allocate(capacity: directionChunk * count)
                        let scratch = UnsafeMutablePointer<UInt32>.allocate(capacity: count)
                        defer {
                            projectionsA.deallocate()
                            projectionsB.deallocate()
                            scratch.deallocate()
                        }
                        for chunk in range {
                            let rows = directions.baseAddress! + chunk * directionChunk * length
                            // [8, count] = rows [8, 147] x descriptors^T
                            blas.matmul(transposeA: false, transposeB: true, m: directionChunk, n: count, k: length, alpha: 1,
                                        a: rows, lda: length, b: a.baseAddress!, ldb: length, beta: 0, c: projectionsA, ldc: count)
                            blas.matmul(transposeA: false, transposeB: true, m: directionChunk, n: count, k: length, alpha: 1,
                                        a: rows, lda: length, b: b.baseAddress!, ldb: length, beta: 0, c: projectionsB, ldc: count)
                            var total = 0.0
                            for row in 0..<directionChunk {
                                let pa = projectionsA + row * count, pb = projectionsB + row * count
                                FloatRadixSort.sort(pa, count: count, scratch: scratch)
                                FloatRadixSort.sort(pb, count: count, scratch: scratch)
                                var start = 0
                                while start < count {
                                    let end = min(count, start + 1024)
                                    var block: Float = 0
                                    for index in start..<end { block += abs(pa[index] - pb[index]) }
                                    total += Double(block)
                                    start = end
                                }
                            }
                            partials[chunk] = total
                        }
                    }
                }
            }
        }
        var sum = 0.0
        for chunk in 0..<chunks { sum += partials[chunk] }
        return sum / Double(directionCount * count)
    }
}
