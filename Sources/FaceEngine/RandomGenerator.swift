import Foundation

/// The engine's seeded random numbers: xoshiro256** (Blackman and Vigna), its 256-bit state filled
/// from the seed by SplitMix64. The state is four UInt64 words that can be saved and restored
/// (`state`), so a resumed run continues the exact same sequence.
///
/// - uniform Float in [0, 1): the top 24 bits of one output, times 2^-24;
/// - standard normal: Box-Muller on two uniform Doubles in (0, 1] and [0, 1) from two outputs,
///   yielding two samples (cos and sin branch) that fill consecutive positions.
public struct RandomGenerator: Sendable, Equatable {
    public private(set) var state: [UInt64]

    public init(seed: UInt64) {
        var splitMix = seed
        var words = [UInt64]()
        for _ in 0..<4 {
            splitMix &+= 0x9E37_79B9_7F4A_7C15
            var z = splitMix
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            words.append(z ^ (z >> 31))
        }
        state = words
    }

    /// Restores a saved state; nil unless it has four words, not all zero.
    public init?(state: [UInt64]) {
        guard state.count == 4, state.contains(where: { $0 != 0 }) else { return nil }
        self.state = state
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = rotate(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = rotate(state[3], 45)
        return result
    }

    @inline(__always) private func rotate(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Uniform Double in [0, 1).
    public mutating func uniformDouble() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform integer in 0..<bound (Lemire's multiply-shift with rejection, unbiased).
    public mutating func integer(below bound: Int) -> Int {
        precondition(bound > 0)
        let range = UInt64(bound)
        var product = next().multipliedFullWidth(by: range)
        if product.low < range {
            let threshold = (0 &- range) % range
            while product.low < threshold { product = next().multipliedFullWidth(by: range) }
        }
        return Int(product.high)
    }

    public mutating func fillUniform(_ buffer: UnsafeMutableBufferPointer<Float>) {
        for index in buffer.indices { buffer[index] = uniform() }
    }

    public mutating func fillUniform(_ buffer: UnsafeMutableBufferPointer<Float>, low: Float, high: Float) {
        for index in buffer.indices { buffer[index] = low + (high - low) * uniform() }
    }

    public mutating func fillNormal(_ buffer: UnsafeMutableBufferPointer<Float>) {
        var index = 0
        while index < buffer.count {
            let u1 = 1.0 - uniformDouble()  // (0, 1]: log stays finite
            let u2 = uniformDouble()
            let radius = (-2.0 * log(u1)).squareRoot()
            buffer[index] = Float(radius * cos(2.0 * Double.pi * u2))
            if index + 1 < buffer.count { buffer[index + 1] = Float(radius * sin(2.0 * Double.pi * u2)) }
            index += 2
        }
    }

    /// A Fisher-Yates shuffle of 0..<count.
    public mutating func permutation(_ count: Int) -> [Int] {
        var order = Array(0..<count)
        var index = count - 1
        while index > 0 {
            order.swapAt(index, integer(below: index + 1))
            index -= 1
        }
        return order
    }
}
