import FaceEngine
import Foundation

/// The random streams of an evaluation: each is `RandomGenerator(seed: seed ^ (id * 0xD1B54A32D192ED03))`
/// (wrapping multiplication), so every draw depends on `--seed` and the stream alone, never on how
/// images are batched or how many threads run. Level l = 0 is the full resolution.
public enum QualityStream: UInt64 {
    /// Which `count` images of the real set are used (when it holds more).
    case realSelection = 1
    /// Which `count` images of the fake set are used (when it holds more).
    case fakeSelection = 2
    /// The two disjoint halves of the real set for `--floor`.
    case floorSplit = 3
    /// The MS-SSIM pairing of the fakes, and of the reals.
    case fakePairs = 4
    case realPairs = 5
    /// Neighbourhood centres at level l: `rawValue + l`.
    case realPositions = 16
    case fakePositions = 32
    case floorPositionsA = 48
    case floorPositionsB = 64
    /// The 512 directions of level l: `rawValue + l` (the floor uses the same directions).
    case directions = 80

    public static let multiplier: UInt64 = 0xD1B5_4A32_D192_ED03

    public func generator(seed: UInt64, level: Int = 0) -> RandomGenerator {
        RandomGenerator(seed: seed ^ ((rawValue &+ UInt64(level)) &* Self.multiplier))
    }
}

/// What `evaluate` reports (one JSON line, `jsonLine`).
public struct QualityFigures: Equatable {
    /// Pyramid resolutions, finest first (64, 32, 16 for 64 px images).
    public var resolutions: [Int]
    /// SWD x1e3 per resolution.
    public var slicedWasserstein: [Double]
    /// SWD x1e3 between two disjoint halves of the real set (`--floor`), per resolution.
    public var floor: [Double]?
    public var multiScaleSSIMFake: Double
    public var multiScaleSSIMReal: Double
    public var countReal: Int
    public var countFake: Int
    public var seed: UInt64
    /// Wall time of the whole job (set by the caller).
    public var seconds: Double = 0

    public var slicedWassersteinMean: Double { slicedWasserstein.reduce(0, +) / Double(slicedWasserstein.count) }

    /// One JSON object, keys in this order: swd_<res>..., swd_mean, [swd_floor_<res>..., swd_floor_mean,]
    /// ms_ssim_fake, ms_ssim_real, count_real, count_fake, seed, seconds; numbers with %.6g.
    public func jsonLine() -> String {
        func number(_ value: Double) -> String { value.isFinite ? String(format: "%.6g", value) : "null" }
        var fields = [String]()
        for (resolution, value) in zip(resolutions, slicedWasserstein) { fields.append("\"swd_\(resolution)\": \(number(value))") }
        fields.append("\"swd_mean\": \(number(slicedWassersteinMean))")
        if let floor {
            for (resolution, value) in zip(resolutions, floor) { fields.append("\"swd_floor_\(resolution)\": \(number(value))") }
            fields.append("\"swd_floor_mean\": \(number(floor.reduce(0, +) / Double(floor.count)))")
        }
        fields.append("\"ms_ssim_fake\": \(number(multiScaleSSIMFake))")
        fields.append("\"ms_ssim_real\": \(number(multiScaleSSIMReal))")
        fields.append("\"count_real\": \(countReal)")
        fields.append("\"count_fake\": \(countFake)")
        fields.append("\"seed\": \(seed)")
        fields.append("\"seconds\": \(String(format: "%.3f", seconds))")
        return "{" + fields.joined(separator: ", ") + "}"
    }
}

/// Quality of fake images against a fixed real set: multi-scale SWD (`SlicedWasserstein`) and MS-SSIM
/// (`MultiScaleSSIM`). Made once per real set (the real MS-SSIM is computed then, and the real
/// descriptors too with `retainRealDescriptors`, so that training can evaluate every few thousand steps
/// at the cost of the fakes only), then `evaluate(fake:)` for each fake set of the same size.
///
/// Memory: without retained descriptors, one level at a time (2 x M x 147 floats); with them, the
/// real set's levels stay (levels x M x 147 floats: 462 MB at 64 px and M = 2^18).
public final class QualityEvaluator {
    public let real: QualityImages
    public let seed: UInt64
    public let resolutions: [Int]
    /// Mean MS-SSIM over the real set's pairs (stream `realPairs`).
    public let multiScaleSSIMReal: Double
    private var realDescriptors: [[Float]]?

    public init(real: QualityImages, seed: UInt64, retainRealDescriptors: Bool = false) throws {
        try Self.checkUsable(real, role: "real")
        self.real = real
        self.seed = seed
        resolutions = SlicedWasserstein.resolutions(imageSize: real.imageSize)
        var pairing = QualityStream.realPairs.generator(seed: seed)
        multiScaleSSIMReal = MultiScaleSSIM.mean(of: real, pairs: MultiScaleSSIM.pairs(count: real.count, random: &pairing))
        if retainRealDescriptors {
            realDescriptors = (0..<resolutions.count).map { level in
                var positions = QualityStream.realPositions.generator(seed: seed, level: level)
                return SlicedWasserstein.descriptors(of: real, level: level, levelCount: resolutions.count, random: &positions)
            }
        }
    }

    /// Images of side 16 * 2^k (the pyramid halves down to 16), at least 2 of them (MS-SSIM pairs).
    static func checkUsable(_ images: QualityImages, role: String) throws {
        let size = images.imageSize
        guard size >= 16, size & (size - 1) == 0 else {
            throw FormatError(path: images.source, message: "holds \(size)x\(size) images; the quality figures need a power of two of at least 16")
        }
        guard images.count >= 2 else {
            throw FormatError(path: images.source, message: images.count == 0 ? "holds no images" : "holds 1 image; the quality figures need at least 2 (MS-SSIM pairs)")
        }
        _ = role
    }

    /// SWD and MS-SSIM of `fake` (as many images as the real set, of the same size).
    public func evaluate(fake: QualityImages) throws -> QualityFigures {
        try Self.checkUsable(fake, role: "fake")
        guard fake.imageSize == real.imageSize else {
            throw FormatError(path: fake.source, message: "holds \(fake.imageSize)x\(fake.imageSize) images, the real images (\(real.source)) are \(real.imageSize)x\(real.imageSize)")
        }
        guard fake.count == real.count else {
            throw FormatError(path: fake.source, message: "\(fake.count) images against \(real.count) real ones: the sets must be the same size")
        }
        let swd = Self.slicedWasserstein(real, .realPositions, fake, .fakePositions, seed: seed, cachedA: realDescriptors)
        var pairing = QualityStream.fakePairs.generator(seed: seed)
        let msssim = MultiScaleSSIM.mean(of: fake, pairs: MultiScaleSSIM.pairs(count: fake.count, random: &pairing))
        return QualityFigures(resolutions: resolutions, slicedWasserstein: swd, floor: nil, multiScaleSSIMFake: msssim,
                              multiScaleSSIMReal: multiScaleSSIMReal, countReal: real.count, countFake: fake.count, seed: seed)
    }

    /// SWD x1e3 per level between two sets of the same size and side, level by level.
    public static func slicedWasserstein(_ a: QualityImages, _ streamA: QualityStream, _ b: QualityImages,
                                         _ streamB: QualityStream, seed: UInt64, cachedA: [[Float]]? = nil) -> [Double] {
        precondition(a.count == b.count && a.imageSize == b.imageSize)
        let levels = SlicedWasserstein.resolutions(imageSize: a.imageSize).count
        let m = SlicedWasserstein.descriptorCount(images: a.count)
        return (0..<levels).map { level in
            var positionsA = streamA.generator(seed: seed, level: level)
            var positionsB = streamB.generator(seed: seed, level: level)
            var directionStream = QualityStream.directions.generator(seed: seed, level: level)
            let descriptorsA = cachedA?[level]
                ?? SlicedWasserstein.descriptors(of: a, level: level, levelCount: levels, random: &positionsA)
            let descriptorsB = SlicedWasserstein.descriptors(of: b, level: level, levelCount: levels, random: &positionsB)
            let directions = SlicedWasserstein.directions(random: &directionStream)
            return 1e3 * SlicedWasserstein.distance(descriptorsA, descriptorsB, count: m, directions: directions)
        }
    }
}

/// The `evaluate` tool's job on whole sets: choose the images, then `QualityEvaluator`.
public enum QualityEvaluation {
    /// `count` images of `images`: all of them when the set holds exactly `count`, else the first
    /// `count` of a permutation (`random.permutation(images.count)`) in ascending index order.
    /// Fewer than `count` is an error naming the set and both numbers.
    public static func select(_ images: QualityImages, count: Int, role: String, random: inout RandomGenerator) throws -> QualityImages {
        guard images.count >= count else {
            throw FormatError(path: images.source, message: "the \(role) set holds \(images.count) image\(images.count == 1 ? "" : "s"), fewer than --count \(count)")
        }
        if images.count == count { return images }
        return images.subset(Array(random.permutation(images.count).prefix(count)).sorted())
    }

    /// The two disjoint halves of `min(count, real.count / 2)` images each for `--floor`: the first and
    /// the second block of one permutation (stream `floorSplit`), each in ascending order.
    public static func floorHalves(of real: QualityImages, count: Int, seed: UInt64) -> (QualityImages, QualityImages) {
        let half = min(count, real.count / 2)
        var random = QualityStream.floorSplit.generator(seed: seed)
        let order = random.permutation(real.count)
        return (real.subset(Array(order[0..<half]).sorted()), real.subset(Array(order[half..<(2 * half)]).sorted()))
    }

    /// The whole evaluation: count defaults to the smaller set's size; each set larger than `count` is
    /// subsampled (streams `realSelection`, `fakeSelection`); `floor` adds the real halves' distance.
    public static func run(real: QualityImages, fake: QualityImages, count: Int? = nil, seed: UInt64,
                           floor: Bool = false) throws -> QualityFigures {
        for (images, role) in [(real, "real"), (fake, "fake")] where images.count == 0 {
            throw FormatError(path: images.source, message: "the \(role) set holds no images")
        }
        guard fake.imageSize == real.imageSize else {
            throw FormatError(path: fake.source, message: "holds \(fake.imageSize)x\(fake.imageSize) images, the real images (\(real.source)) are \(real.imageSize)x\(real.imageSize)")
        }
        let n = count ?? min(real.count, fake.count)
        var realRandom = QualityStream.realSelection.generator(seed: seed)
        var fakeRandom = QualityStream.fakeSelection.generator(seed: seed)
        let chosenReal = try select(real, count: n, role: "real", random: &realRandom)
        let chosenFake = try select(fake, count: n, role: "fake", random: &fakeRandom)
        let evaluator = try QualityEvaluator(real: chosenReal, seed: seed)
        var figures = try evaluator.evaluate(fake: chosenFake)
        if floor {
            let (a, b) = floorHalves(of: real, count: n, seed: seed)
            guard a.count >= 1 else {
                throw FormatError(path: real.source, message: "--floor needs at least 2 real images")
            }
            figures.floor = QualityEvaluator.slicedWasserstein(a, .floorPositionsA, b, .floorPositionsB, seed: seed)
        }
        return figures
    }
}
