@testable import FaceEngine
import Foundation
import TestSupport
import XCTest

/// LeakyReLU(0.2), ReLU and tanh: forward values at chosen points (including the kink at 0) and
/// backward against finite differences at random points kept away from the kinks.
final class ActivationsTests: XCTestCase {
    let points: [Float] = [-3, -0.5, 0, 0.25, 2]

    func applied(_ forward: (UnsafeMutablePointer<Float>, Int) -> Void, _ values: [Float]) -> [Float] {
        let tensor = Tensor(shape: [values.count], values: values)
        forward(tensor.pointer, tensor.count)
        return tensor.array
    }

    /// Random inputs of scale 2 with every value at least 1e-2 away from 0, the kink of both ReLUs:
    /// a step of 1e-2 along a unit direction moves no value across it.
    func awayFromZero(_ count: Int, random: inout RandomGenerator) -> Tensor {
        let values = GradientCheck.randomArray(count, random: &random, scale: 2).map { abs($0) < 1e-2 ? $0 + 0.1 : $0 }
        return Tensor(shape: [count], values: values)
    }

    /// Directional derivative of sum w * f(x) by finite differences vs the backward's w * f'(x).
    func check(forward: @escaping (UnsafeMutablePointer<Float>, Int) -> Void,
               backward: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void,
               relative: Double, absolute: Double, _ name: String, seed: UInt64) {
        var random = RandomGenerator(seed: seed)
        let count = 64
        let input = awayFromZero(count, random: &random)
        let weights = GradientCheck.randomArray(count, random: &random)
        let output = Tensor(shape: [count])
        func loss() -> Double {
            output.copy(from: input)
            forward(output.pointer, count)
            return GradientCheck.weightedSum(output.pointer, weights)
        }
        _ = loss()
        let gradient = Tensor(shape: [count], values: weights)
        backward(output.pointer, gradient.pointer, count)
        GradientCheck.assertClose(GradientCheck.directional(values: input.pointer, count: count, analytic: gradient.array,
                                                            loss: loss),
                                  relative: relative, absolute: absolute, name)
    }

    func testLeakyReLUForwardValues() {
        XCTAssertEqual(LeakyReLU.negativeSlope, 0.2)
        // -0.5 * 0.2 is exact in Float; -3 * 0.2 is written as the Float product it must equal.
        XCTAssertEqual(applied(LeakyReLU.forward, points), [-3 * Float(0.2), -0.1, 0, 0.25, 2])
    }

    func testLeakyReLUSlopeAtZeroIsTheNegativeSlope() {
        // PyTorch's choice: the gradient at exactly 0 takes the negative slope.
        let output = Tensor(shape: [3], values: [0, 1, -0.2])
        let gradient = Tensor(shape: [3], values: [1, 1, 1])
        LeakyReLU.applyJacobian(output: output.pointer, to: gradient.pointer, count: 3)
        XCTAssertEqual(gradient.array, [0.2, 1, 0.2])
    }

    func testLeakyReLUBackwardMatchesFiniteDifferences() {
        // Piecewise linear and no kink crossed: the quotient is exact up to rounding. The shifted
        // inputs x +- h*d are rounded to Float (up to 1.2e-7 at |x| ~ 2); over 64 weighted values and
        // divided by 2h = 2e-2 that is ~5e-5 (seen: 2e-5), hence 2e-4. A slope of 0.25 instead of
        // 0.2 is off by 1e-2.
        check(forward: LeakyReLU.forward, backward: { LeakyReLU.applyJacobian(output: $0, to: $1, count: $2) },
              relative: 1e-4, absolute: 2e-4, "LeakyReLU", seed: 41)
    }

    func testReLUForwardValues() {
        XCTAssertEqual(applied(ReLU.forward, points), [0, 0, 0, 0.25, 2])
        // PyTorch's threshold_backward: no gradient at exactly 0.
        let output = Tensor(shape: [2], values: [0, 3])
        let gradient = Tensor(shape: [2], values: [5, 5])
        ReLU.backward(output: output.pointer, gradient: gradient.pointer, count: 2)
        XCTAssertEqual(gradient.array, [0, 5])
    }

    func testReLUBackwardMatchesFiniteDifferences() {
        // As for LeakyReLU: exact up to rounding (seen: 5e-5).
        check(forward: ReLU.forward, backward: { ReLU.backward(output: $0, gradient: $1, count: $2) },
              relative: 1e-4, absolute: 2e-4, "ReLU", seed: 42)
    }

    func testTanhForwardValues() {
        let values = applied(Tanh.forward, points)
        for (value, point) in zip(values, points) {
            // tanhf is accurate to an ulp or two.
            XCTAssertEqual(Double(value), Foundation.tanh(Double(point)), accuracy: 1e-6, "tanh(\(point))")
        }
        XCTAssertEqual(values[2], 0)
    }

    func testTanhBackwardMatchesFiniteDifferences() {
        // |tanh'''| <= 2 and sum |d_i|^3 <= max |d_i| < 1 for a unit direction: truncation under
        // h^2/3 = 3e-5; rounding as for LeakyReLU, ~5e-5 (seen: 1.5e-5 in all).
        check(forward: Tanh.forward, backward: { Tanh.backward(output: $0, gradient: $1, count: $2) },
              relative: 2e-4, absolute: 2e-4, "Tanh", seed: 43)
    }
}
