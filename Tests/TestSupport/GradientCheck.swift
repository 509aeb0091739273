import FaceEngine
import XCTest

/// Central finite differences in Float32 for the gradient tests.
///
/// Directional form: for a random unit direction d over a tensor's values p, compare
/// (L(p + h d) - L(p - h d)) / 2h with <grad, d>. One check covers every value of the tensor at
/// once; a wrong factor, sign or missing term changes the directional derivative by far more than
/// the tolerance. Losses are evaluated in Float32 and accumulated in Double by the callers, so with
/// h = 1e-2 the rounding error of the difference quotient is about 1e-4 of the loss's scale.
public enum GradientCheck {
    public static func randomDirection(_ count: Int, random: inout RandomGenerator) -> [Float] {
        var direction = [Float](repeating: 0, count: count)
        direction.withUnsafeMutableBufferPointer { random.fillNormal($0) }
        let norm = direction.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
        return direction.map { Float(Double($0) / norm) }
    }

    /// Returns (finite difference, analytic) of the directional derivative of `loss` along a random
    /// direction over `values[0..<count]`; `values` is restored afterwards.
    public static func directional(values: UnsafeMutablePointer<Float>, count: Int, analytic gradient: [Float],
                            step: Float = 1e-2, seed: UInt64 = 7, loss: () -> Double) -> (numeric: Double, analytic: Double) {
        var random = RandomGenerator(seed: seed)
        let direction = randomDirection(count, random: &random)
        let original = Array(UnsafeBufferPointer(start: values, count: count))
        for index in 0..<count { values[index] = original[index] + step * direction[index] }
        let plus = loss()
        for index in 0..<count { values[index] = original[index] - step * direction[index] }
        let minus = loss()
        for index in 0..<count { values[index] = original[index] }
        let numeric = (plus - minus) / (2 * Double(step))
        let analytic = zip(gradient, direction).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        return (numeric, analytic)
    }

    /// `directional` for a loss that is only piecewise smooth: starting at 1e-2, the step is divided by
    /// 4 until `pattern` (which side of its kink each activation is on) is the same at both ends as at
    /// the unperturbed point, down to 5e-5 (then the test fails).
    public static func directionalKeepingPattern(values: UnsafeMutablePointer<Float>, count: Int, analytic: [Float],
                                                 pattern: () -> [Bool], loss: () -> Double,
                                                 file: StaticString = #filePath, line: UInt = #line)
        -> (numeric: Double, analytic: Double) {
        _ = loss()
        let base = pattern()
        var step: Float = 1e-2
        while true {
            var patternsHeld = true
            let result = directional(values: values, count: count, analytic: analytic, step: step) {
                let value = loss()
                if pattern() != base { patternsHeld = false }
                return value
            }
            if patternsHeld || step < 5e-5 {
                XCTAssert(patternsHeld, "no step keeps the activations on their side", file: file, line: line)
                return result
            }
            step /= 4
        }
    }

    public static func assertClose(_ result: (numeric: Double, analytic: Double), relative: Double, absolute: Double,
                            _ name: String, file: StaticString = #filePath, line: UInt = #line) {
        let error = abs(result.numeric - result.analytic)
        let scale = max(abs(result.numeric), abs(result.analytic))
        XCTAssert(error <= relative * scale + absolute,
                  "\(name): finite difference \(result.numeric) vs analytic \(result.analytic)", file: file, line: line)
    }

    /// sum_i weights_i * values_i in Double: a scalar loss whose gradient with respect to `values` is `weights`.
    public static func weightedSum(_ values: UnsafePointer<Float>, _ weights: [Float]) -> Double {
        var sum = 0.0
        for index in weights.indices { sum += Double(values[index]) * Double(weights[index]) }
        return sum
    }

    /// Moves the critic's layer-norm scales and offsets (`norm*` slots) away from 1 / 0, so that every
    /// term of their gradients shows.
    public static func perturbNormalizations(_ store: ParameterStore, random: inout RandomGenerator) {
        for slot in store.slots where slot.name.hasPrefix("norm") {
            let base: Float = slot.name.hasSuffix("weight") ? 1 : 0
            store.set(slot, randomArray(slot.count, random: &random, scale: 0.3).map { $0 + base })
        }
    }

    public static func randomArray(_ count: Int, random: inout RandomGenerator, scale: Float = 1) -> [Float] {
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBufferPointer { random.fillNormal($0) }
        return values.map { $0 * scale }
    }
}

extension Tensor {
    public static func random(_ shape: [Int], random: inout RandomGenerator, scale: Float = 1) -> Tensor {
        Tensor(shape: shape, values: GradientCheck.randomArray(shape.reduce(1, *), random: &random, scale: scale))
    }
}
