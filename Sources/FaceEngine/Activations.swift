import Foundation

/// LeakyReLU with negative slope 0.2 (the critic's activation), applied in place.
/// The slope at a point can be read from the output (same sign as the input), so no input is kept:
/// s = 1 where y > 0, else 0.2 (PyTorch's choice at 0).
public enum LeakyReLU {
    public static let negativeSlope: Float = 0.2

    public static func forward(_ values: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forRanges(count) { range in
            for index in range {
                let value = values[index]
                values[index] = value > 0 ? value : value * negativeSlope
            }
        }
    }

    /// gradient *= s(output). Serves the backward pass and, for tangents, the linearized forward
    /// (y' = s*x'), since both apply the same diagonal Jacobian; its second derivative is zero.
    public static func applyJacobian(output: UnsafePointer<Float>, to gradient: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forRanges(count) { range in
            for index in range { gradient[index] *= output[index] > 0 ? 1 : negativeSlope }
        }
    }
}

/// ReLU in place; its Jacobian is read from the output (y > 0).
public enum ReLU {
    public static func forward(_ values: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forRanges(count) { range in
            for index in range { values[index] = max(values[index], 0) }
        }
    }

    public static func backward(output: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forRanges(count) { range in
            for index in range { gradient[index] = output[index] > 0 ? gradient[index] : 0 }
        }
    }
}

/// tanh in place; its derivative 1 - y^2 is read from the output.
public enum Tanh {
    public static func forward(_ values: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forRanges(count) { range in
            for index in range { values[index] = tanhf(values[index]) }
        }
    }

    public static func backward(output: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forRanges(count) { range in
            for index in range { gradient[index] *= 1 - output[index] * output[index] }
        }
    }
}
