import Foundation
import XCTest
@testable import FaceWGAN

/// Tests of slerp / lerp, keyframe paths and the random walk on the sphere.
final class InterpolationTests: XCTestCase {
    func gaussian(_ count: Int, dimension: Int = 32, seed: UInt64 = 3) -> [[Float]] {
        var normals = GaussianLatents(dimension: dimension, seed: seed)
        return (0..<count).map { _ in normals.next() }
    }

    func distance(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
    }

    func angle(_ a: [Float], _ b: [Float]) -> Double {
        let dot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        return acos(max(-1, min(1, dot / (Interpolation.norm(a) * Interpolation.norm(b)))))
    }

    func testSlerpEndpointsAreExact() {
        let keys = gaussian(2)
        XCTAssertEqual(Interpolation.slerp(keys[0], keys[1], 0), keys[0])
        XCTAssertEqual(Interpolation.slerp(keys[0], keys[1], 1), keys[1])
        XCTAssertEqual(Interpolation.lerp(keys[0], keys[1], 0), keys[0])
        XCTAssertEqual(Interpolation.lerp(keys[0], keys[1], 1), keys[1])
    }

    /// Between two latents of equal norm, every slerp point keeps that norm (to float rounding,
    /// relative 1e-6), and the angle is split in proportion to t; lerp's midpoint is shorter.
    func testSlerpKeepsTheNormAndSplitsTheAngle() {
        let keys = gaussian(2)
        let scale = Float(Interpolation.norm(keys[0]) / Interpolation.norm(keys[1]))
        let a = keys[0], b = keys[1].map { $0 * scale }
        let radius = Interpolation.norm(a)
        let total = angle(a, b)
        for t in stride(from: 0.1, to: 1.0, by: 0.1) {
            let point = Interpolation.slerp(a, b, t)
            XCTAssertEqual(Interpolation.norm(point), radius, accuracy: radius * 1e-6, "t = \(t)")
            XCTAssertEqual(angle(a, point), t * total, accuracy: 1e-5, "t = \(t)")
        }
        XCTAssertLessThan(Interpolation.norm(Interpolation.lerp(a, b, 0.5)), 0.9 * radius,
                          "near-orthogonal Gaussian latents: the lerp midpoint is markedly shorter")
    }

    func testSlerpFallsBackToLerpForTinyAndOppositeAngles() {
        let a: [Float] = [1, 2, 3, 4]
        let nearlyA: [Float] = [1, 2, 3, 4.00001]
        XCTAssertEqual(Interpolation.slerp(a, nearlyA, 0.5), Interpolation.lerp(a, nearlyA, 0.5))
        let opposite = a.map { -$0 }
        let middle = Interpolation.slerp(a, opposite, 0.25)
        XCTAssertTrue(middle.allSatisfy(\.isFinite))
        XCTAssertEqual(middle, Interpolation.lerp(a, opposite, 0.25))
        let zero: [Float] = [0, 0, 0, 0]
        XCTAssertEqual(Interpolation.slerp(zero, a, 0.5), [0.5, 1, 1.5, 2])
    }

    func testOpenPathVisitsEveryKeyframeAndEndsOnTheLast() {
        let keys = gaussian(3)
        let path = Array(KeyframePath(keyframes: keys, steps: 4, loop: false, method: .slerp))
        XCTAssertEqual(path.count, 9)
        XCTAssertEqual(KeyframePath(keyframes: keys, steps: 4, loop: false, method: .slerp).count, 9)
        XCTAssertEqual(path[0], keys[0])
        XCTAssertEqual(path[4], keys[1])
        XCTAssertEqual(path[8], keys[2])
        XCTAssertEqual(path[2], Interpolation.slerp(keys[0], keys[1], 0.5))
    }

    /// With --loop the frame after the last is the first: the closing step is as long as the
    /// other steps of its segment, and no keyframe is repeated.
    func testLoopClosesTheCycleWithoutAJumpOrARepeat() {
        // Keyframes of one norm, so that slerp's steps within a segment are of equal length.
        let keys = gaussian(3).map { key in key.map { $0 * Float(6 / Interpolation.norm(key)) } }
        let steps = 8
        let path = Array(KeyframePath(keyframes: keys, steps: steps, loop: true, method: .slerp))
        XCTAssertEqual(path.count, 3 * steps)
        XCTAssertEqual(path[steps], keys[1])
        XCTAssertEqual(path[2 * steps], keys[2])
        XCTAssertNotEqual(path.last, keys[0], "the first frame is not repeated at the end")
        let closing = distance(path.last!, path[0])
        let lastSegment = (2 * steps + 1..<path.count).map { distance(path[$0 - 1], path[$0]) }
        for step in lastSegment {
            XCTAssertEqual(step, closing, accuracy: closing * 1e-4, "slerp steps of one segment are equal")
        }
        XCTAssertEqual(path.last, Interpolation.slerp(keys[2], keys[0], Double(steps - 1) / Double(steps)))
    }

    func testLerpPathAndOneStepPath() {
        let keys = gaussian(2, dimension: 4)
        XCTAssertEqual(Array(KeyframePath(keyframes: keys, steps: 2, loop: false, method: .lerp))[1],
                       Interpolation.lerp(keys[0], keys[1], 0.5))
        XCTAssertEqual(Array(KeyframePath(keyframes: keys, steps: 1, loop: false, method: .slerp)), keys)
        XCTAssertEqual(Array(KeyframePath(keyframes: keys, steps: 1, loop: true, method: .slerp)), keys)
    }

    /// The walk stays on the sphere of its start's norm, moves about `stepSize` per step, starts at
    /// the first Gaussian latent of its seed, and is deterministic.
    func testRandomWalkStaysOnTheSphereWithEvenSteps() {
        let dimension = 64, stepSize = 0.25
        let walk = Array(SphericalRandomWalk(dimension: dimension, count: 200, stepSize: stepSize, seed: 11))
        XCTAssertEqual(walk.count, 200)
        XCTAssertEqual(walk[0], gaussian(1, dimension: dimension, seed: 11)[0])
        let radius = Interpolation.norm(walk[0])
        for latent in walk { XCTAssertEqual(Interpolation.norm(latent), radius, accuracy: radius * 1e-6) }
        // Chord of an arc of length stepSize on a sphere of this radius.
        let chord = 2 * radius * sin(stepSize / (2 * radius))
        for index in 1..<walk.count {
            XCTAssertEqual(distance(walk[index - 1], walk[index]), chord, accuracy: 1e-5)
        }
        XCTAssertEqual(walk, Array(SphericalRandomWalk(dimension: dimension, count: 200, stepSize: stepSize, seed: 11)))
        XCTAssertNotEqual(walk[1], Array(SphericalRandomWalk(dimension: dimension, count: 2, stepSize: stepSize, seed: 12))[1])
    }

    /// Smooth, not jittery: consecutive headings are nearly parallel, while the walk still wanders
    /// away from a straight line over many steps.
    func testRandomWalkIsSmooth() {
        let walk = Array(SphericalRandomWalk(dimension: 64, count: 400, stepSize: 0.1, seed: 4))
        func heading(_ index: Int) -> [Float] { zip(walk[index + 1], walk[index]).map { $0 - $1 } }
        var turns: [Double] = []
        for index in 0..<(walk.count - 2) { turns.append(angle(heading(index), heading(index + 1))) }
        let meanTurn = turns.reduce(0, +) / Double(turns.count)
        XCTAssertLessThan(meanTurn, 0.2, "mean turn per step \(meanTurn) rad")
        XCTAssertGreaterThan(angle(heading(0), heading(walk.count - 2)), 0.3, "the walk wanders")
    }
}
