import FaceEngine
import Foundation
import TestSupport
import XCTest
@testable import FaceWGAN

final class MultiScaleSSIMTests: XCTestCase {
    func testScaleCountsAndWeights() {
        XCTAssertEqual(MultiScaleSSIM.scaleCount(imageSize: 16), 3)
        XCTAssertEqual(MultiScaleSSIM.scaleCount(imageSize: 32), 4)
        XCTAssertEqual(MultiScaleSSIM.scaleCount(imageSize: 64), 5)
        XCTAssertEqual(MultiScaleSSIM.scaleCount(imageSize: 128), 5)
        XCTAssertEqual(MultiScaleSSIM.weights(scales: 5), MultiScaleSSIM.paperWeights)
        let four = MultiScaleSSIM.weights(scales: 4)
        XCTAssertEqual(four.reduce(0, +), 1, accuracy: 1e-12)
        XCTAssertEqual(four[0] / four[1], 0.0448 / 0.2856, accuracy: 1e-12)
    }

    /// fspecial's taps: symmetric, sum 1, and for an even size centred between samples.
    func testWindows() {
        for size in [4, 8, 11] {
            let window = MultiScaleSSIM.window(size: size)
            XCTAssertEqual(window.count, size)
            XCTAssertEqual(window.reduce(0, +), 1, accuracy: 1e-12)
            for index in 0..<size { XCTAssertEqual(window[index], window[size - 1 - index], accuracy: 1e-15) }
        }
        let sigma = 1.5, window = MultiScaleSSIM.window(size: 11)
        XCTAssertEqual(window[5] / window[6], exp(1 / (2 * sigma * sigma)), accuracy: 1e-12)
    }

    func testIdenticalImagesScoreOne() {
        for size in [32, 64] {
            let pixels = QualityFixtures.blobs(count: 1, size: size, seed: 3)
            let score = pixels.withUnsafeBufferPointer { MultiScaleSSIM.score($0.baseAddress!, $0.baseAddress!, imageSize: size) }
            XCTAssertEqual(score, 1, accuracy: 1e-12, "\(size) px")
        }
    }

    /// Independent uniform noise images share no structure: MS-SSIM near 0 (measured ~0.06 at 64 px).
    func testUnrelatedNoiseScoresNearZero() {
        let size = 64
        var random = RandomGenerator(seed: 8)
        let pixels = (0..<(20 * size * size * 3)).map { _ in UInt8(random.integer(below: 256)) }
        let images = QualityImages(pixels: pixels, count: 20, imageSize: size)
        var pairing = RandomGenerator(seed: 1)
        let mean = MultiScaleSSIM.mean(of: images, pairs: MultiScaleSSIM.pairs(count: 20, random: &pairing))
        XCTAssertLessThan(mean, 0.1)
        XCTAssertGreaterThanOrEqual(mean, 0)
    }

    /// A set of one image repeated (a collapsed generator) scores 1; varied images far less.
    func testACollapsedSetScoresFarAboveAVariedOne() {
        let size = 32
        let varied = QualityFixtures.blobs(count: 16, size: size, seed: 4)
        let collapsed = Array((0..<16).map { _ in Array(varied[0..<(size * size * 3)]) }.joined())
        var pairing = RandomGenerator(seed: 1)
        let pairs = MultiScaleSSIM.pairs(count: 16, random: &pairing)
        let variedScore = MultiScaleSSIM.mean(of: QualityImages(pixels: varied, count: 16, imageSize: size), pairs: pairs)
        let collapsedScore = MultiScaleSSIM.mean(of: QualityImages(pixels: collapsed, count: 16, imageSize: size), pairs: pairs)
        XCTAssertEqual(collapsedScore, 1, accuracy: 1e-12)
        XCTAssertLessThan(variedScore, 0.7)
    }

    func testPairsAreDisjointAndCapped() {
        var random = RandomGenerator(seed: 2)
        let pairs = MultiScaleSSIM.pairs(count: 11, random: &random)
        XCTAssertEqual(pairs.count, 5)
        XCTAssertEqual(Set(pairs.flatMap { [$0.0, $0.1] }).count, 10)
        var more = RandomGenerator(seed: 2)
        XCTAssertEqual(MultiScaleSSIM.pairs(count: 12_001, random: &more).count, 5000)
    }
}
