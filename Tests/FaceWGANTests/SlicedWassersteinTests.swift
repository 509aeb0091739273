import FaceEngine
import Foundation
import TestSupport
import XCTest
@testable import FaceWGAN

/// The multi-scale SWD's parts (sort, pyramid, descriptors, distance) and its known answers.
final class SlicedWassersteinTests: XCTestCase {
    func images(_ pixels: [UInt8], size: Int) -> QualityImages {
        QualityImages(pixels: pixels, count: pixels.count / (size * size * 3), imageSize: size)
    }

    func swd(_ a: [UInt8], _ b: [UInt8], size: Int, seed: UInt64 = 1) -> [Double] {
        QualityEvaluator.slicedWasserstein(images(a, size: size), .realPositions, images(b, size: size), .fakePositions, seed: seed)
    }

    func testRadixSortMatchesTheStandardSort() {
        var random = RandomGenerator(seed: 9)
        for count in [0, 1, 2, 7, 1000, 70_000] {
            var values = [Float](repeating: 0, count: count)
            values.withUnsafeMutableBufferPointer { random.fillNormal($0) }
            for index in stride(from: 0, to: count, by: 97) { values[index] = 0 }
            for index in stride(from: 3, to: count, by: 101) { values[index] *= 1e30 }
            var sorted = values
            var scratch = [UInt32](repeating: 0, count: max(count, 1))
            sorted.withUnsafeMutableBufferPointer { buffer in
                scratch.withUnsafeMutableBufferPointer { FloatRadixSort.sort(buffer.baseAddress!, count: count, scratch: $0.baseAddress!) }
            }
            XCTAssertEqual(sorted, values.sorted(), "count \(count)")
        }
    }

    func testResolutionsAndDescriptorCounts() {
        XCTAssertEqual(SlicedWasserstein.resolutions(imageSize: 32), [32, 16])
        XCTAssertEqual(SlicedWasserstein.resolutions(imageSize: 64), [64, 32, 16])
        XCTAssertEqual(SlicedWasserstein.resolutions(imageSize: 128), [128, 64, 32, 16])
        XCTAssertEqual(SlicedWasserstein.descriptorCount(images: 10), 1280)
        XCTAssertEqual(SlicedWasserstein.descriptorCount(images: 2048), 1 << 18)
        XCTAssertEqual(SlicedWasserstein.descriptorCount(images: 10_000), 1 << 18)
    }

    /// The separable, polyphase pyramid equals the textbook one: 2D 5x5 binomial convolution with
    /// mirror boundaries, in Double (tolerance 1e-3 on values in 0...255: Float rounding only).
    func testPyramidMatchesADirect2DConvolution() {
        let size = 32, levels = 2
        let pixels = QualityFixtures.blobs(count: 1, size: size, seed: 4)
        let taps: [Double] = [1, 4, 6, 4, 1].map { $0 / 16 }
        func mirror(_ i: Int, _ n: Int) -> Int { i < 0 ? -i : (i >= n ? 2 * n - 2 - i : i) }
        func convolve(_ plane: [Double], _ n: Int, gain: Double) -> [Double] {
            var out = [Double](repeating: 0, count: n * n)
            for y in 0..<n {
                for x in 0..<n {
                    var sum = 0.0
                    for i in 0..<5 { for j in 0..<5 { sum += gain * taps[i] * taps[j] * plane[mirror(y + i - 2, n) * n + mirror(x + j - 2, n)] } }
                    out[y * n + x] = sum
                }
            }
            return out
        }
        var pyramid = LaplacianPyramid(imageSize: size, levelCount: levels)
        for channel in 0..<3 {
            let g0 = (0..<(size * size)).map { Double(pixels[3 * $0 + channel]) }
            let blurred = convolve(g0, size, gain: 1)
            let half = size / 2
            let g1 = (0..<(half * half)).map { blurred[(2 * ($0 / half)) * size + 2 * ($0 % half)] }
            var inserted = [Double](repeating: 0, count: size * size)
            for y in 0..<half { for x in 0..<half { inserted[2 * y * size + 2 * x] = g1[y * half + x] } }
            let up = convolve(inserted, size, gain: 4)
            let level0 = (0..<(size * size)).map { g0[$0] - up[$0] }
            pixels.withUnsafeBufferPointer { image in
                pyramid.withLevel(0, of: image.baseAddress!) { planes in
                    for index in 0..<(size * size) { XCTAssertEqual(Double(planes[channel * size * size + index]), level0[index], accuracy: 1e-3) }
                }
                pyramid.withLevel(1, of: image.baseAddress!) { planes in
                    for index in 0..<(half * half) { XCTAssertEqual(Double(planes[channel * half * half + index]), g1[index], accuracy: 1e-3) }
                }
            }
        }
    }

    func testAConstantImageHasFlatDetailLevels() {
        let size = 64
        let pixels = [UInt8](repeating: 77, count: size * size * 3)
        var pyramid = LaplacianPyramid(imageSize: size, levelCount: 3)
        pixels.withUnsafeBufferPointer { image in
            for level in 0..<3 {
                let side = size >> level
                pyramid.withLevel(level, of: image.baseAddress!) { planes in
                    let expected: Float = level == 2 ? 77 : 0
                    for index in 0..<(3 * side * side) { XCTAssertEqual(planes[index], expected, accuracy: 1e-4) }
                }
            }
        }
    }

    func testDescriptorsAreNormalisedPerChannel() {
        let size = 32
        let set = images(QualityFixtures.blobs(count: 12, size: size, seed: 2), size: size)
        var random = RandomGenerator(seed: 1)
        let descriptors = SlicedWasserstein.descriptors(of: set, level: 0, levelCount: 2, random: &random)
        let m = SlicedWasserstein.descriptorCount(images: 12)
        XCTAssertEqual(descriptors.count, m * 147)
        for channel in 0..<3 {
            var sum = 0.0, squares = 0.0
            for index in 0..<m { for k in 0..<49 { let v = Double(descriptors[index * 147 + channel * 49 + k]); sum += v; squares += v * v } }
            let n = Double(m * 49)
            XCTAssertEqual(sum / n, 0, accuracy: 1e-5)
            XCTAssertEqual(squares / n, 1, accuracy: 1e-4)
        }
    }

    func testDirectionsAreUnitVectors() {
        var random = RandomGenerator(seed: 3)
        let directions = SlicedWasserstein.directions(random: &random)
        XCTAssertEqual(directions.count, 512 * 147)
        for row in 0..<512 {
            let norm = (0..<147).reduce(0.0) { $0 + Double(directions[row * 147 + $1]) * Double(directions[row * 147 + $1]) }
            XCTAssertEqual(norm, 1, accuracy: 1e-5)
        }
    }

    /// The same descriptors on both sides: exactly 0.
    func testTheSameDescriptorsAreAtDistanceExactlyZero() {
        let set = images(QualityFixtures.blobs(count: 8, size: 32, seed: 5), size: 32)
        var positions = RandomGenerator(seed: 1), directionStream = RandomGenerator(seed: 2)
        let descriptors = SlicedWasserstein.descriptors(of: set, level: 0, levelCount: 2, random: &positions)
        let directions = SlicedWasserstein.directions(random: &directionStream)
        XCTAssertEqual(SlicedWasserstein.distance(descriptors, descriptors, count: 8 * 128, directions: directions), 0)
    }

    /// A set against itself, with its own neighbourhood draws on each side, is small: sampling noise,
    /// far below a blurred copy's distance, which grows with every blur pass (at every level but the
    /// coarsest, where blur barely changes the 16 px Gaussian, and in the mean).
    func testSelfDistanceIsSmallAndBlurMakesItGrow() {
        let size = 32
        let set = QualityFixtures.blobs(count: 64, size: size, seed: 11)
        let itself = swd(set, set, size: size)
        var previous = itself
        for passes in 1...3 {
            let blurred = swd(set, QualityFixtures.blurred(set, size: size, passes: passes), size: size)
            XCTAssertGreaterThan(blurred[0], previous[0], "swd_32 after \(passes) blur passes: \(blurred) vs \(previous)")
            XCTAssertGreaterThan(blurred.reduce(0, +), previous.reduce(0, +), "swd_mean after \(passes) blur passes")
            if passes == 1 { XCTAssertLessThan(itself[0], 0.5 * blurred[0], "self \(itself) against one blur pass \(blurred)") }
            previous = blurred
        }
    }

    /// Brightening half the images by d (per-set normalisation removes a shift of all of them) makes the
    /// coarsest level's descriptors bimodal: the distance grows with d.
    func testDistanceGrowsWithABrightnessShiftOfHalfTheSet() {
        let size = 32
        let set = QualityFixtures.blobs(count: 64, size: size, seed: 12)
        var previous = swd(set, set, size: size)
        for amount in [12, 24, 48] {
            let shifted = swd(set, QualityFixtures.halfBrightened(set, size: size, amount: amount), size: size)
            XCTAssertGreaterThan(shifted[1], previous[1], "swd_16 with half the set brightened by \(amount): \(shifted) vs \(previous)")
            previous = shifted
        }
    }

    /// The same figures whatever the thread count (fixed sum pieces and direction chunks).
    func testFiguresDoNotDependOnTheThreadCount() throws {
        let size = 32
        let real = images(QualityFixtures.blobs(count: 20, size: size, seed: 13), size: size)
        let fake = images(QualityFixtures.blobs(count: 24, size: size, seed: 14), size: size)
        let threads = Parallel.threadCount
        defer { Parallel.setThreadCount(threads) }
        Parallel.setThreadCount(1)
        let one = try QualityEvaluation.run(real: real, fake: fake, seed: 3, floor: true)
        Parallel.setThreadCount(3)
        let three = try QualityEvaluation.run(real: real, fake: fake, seed: 3, floor: true)
        XCTAssertEqual(one, three)
        XCTAssertEqual(one.countReal, 20)
        XCTAssertEqual(one.countFake, 20)
    }

    /// Training's use: the real descriptors computed once and kept give the same figures.
    func testRetainedRealDescriptorsGiveTheSameFigures() throws {
        let size = 32
        let real = images(QualityFixtures.blobs(count: 10, size: size, seed: 16), size: size)
        let fake = images(QualityFixtures.blobs(count: 10, size: size, seed: 17), size: size)
        let plain = try QualityEvaluator(real: real, seed: 8).evaluate(fake: fake)
        let retained = try QualityEvaluator(real: real, seed: 8, retainRealDescriptors: true)
        XCTAssertEqual(try retained.evaluate(fake: fake), plain)
        XCTAssertEqual(try retained.evaluate(fake: fake), plain)
        XCTAssertThrowsError(try retained.evaluate(fake: images(QualityFixtures.blobs(count: 9, size: size, seed: 17), size: size)))
    }

    func testJSONKeysAndOrder() throws {
        let size = 32
        let real = images(QualityFixtures.blobs(count: 6, size: size, seed: 15), size: size)
        let figures = try QualityEvaluation.run(real: real, fake: real, seed: 1, floor: true)
        let line = figures.jsonLine()
        let keys = ["swd_32", "swd_16", "swd_mean", "swd_floor_32", "swd_floor_16", "swd_floor_mean", "ms_ssim_fake",
                    "ms_ssim_real", "count_real", "count_fake", "seed", "seconds"]
        let positions = keys.map { line.range(of: "\"\($0)\":")?.lowerBound }
        XCTAssertFalse(positions.contains(nil), line)
        XCTAssertEqual(positions.compactMap { $0 }, positions.compactMap { $0 }.sorted(), line)
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        XCTAssertEqual(object?.count, keys.count)
        XCTAssertFalse(line.contains("\n"))
    }

    func testTooFewImagesAndMismatchedSizesAreErrorsNamingTheSet() {
        let small = QualityImages(pixels: QualityFixtures.blobs(count: 3, size: 32, seed: 1), count: 3, imageSize: 32, source: "small.npy")
        let big = QualityImages(pixels: QualityFixtures.blobs(count: 4, size: 64, seed: 1), count: 4, imageSize: 64, source: "big.npy")
        XCTAssertThrowsError(try QualityEvaluation.run(real: small, fake: small, count: 5, seed: 0)) { error in
            XCTAssertEqual("\(error)", "small.npy: the real set holds 3 images, fewer than --count 5")
        }
        XCTAssertThrowsError(try QualityEvaluation.run(real: small, fake: big, seed: 0)) { error in
            XCTAssertTrue("\(error)".hasPrefix("big.npy: holds 64x64 images"), "\(error)")
        }
    }
}
