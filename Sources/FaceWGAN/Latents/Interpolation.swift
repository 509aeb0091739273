import Foundation

/// How to go from one latent to the next.
public enum InterpolationMethod: String, CaseIterable, Sendable {
    /// Spherical: along the great circle, so the norm stays typical for Gaussian latents (White 2016,
    /// "Sampling Generative Networks"). Falls back to `lerp` where the angle is tiny (or the
    /// endpoints are opposite or zero, where no single great circle exists).
    case slerp
    /// Linear: (1 - t) a + t b. Midpoints of Gaussian latents have an atypically small norm.
    case lerp
}

public enum Interpolation {
    /// Below this angle (radians) slerp is lerp to within float precision, and is computed as lerp.
    public static let smallAngle = 1e-4

    /// (1 - t) a + t b, computed in Double.
    public static func lerp(_ a: [Float], _ b: [Float], _ t: Double) -> [Float] {
        precondition(a.count == b.count)
        return (0..<a.count).map { Float((1 - t) * Double(a[$0]) + t * Double(b[$0])) }
    }

    /// sin((1 - t) theta) / sin(theta) * a + sin(t theta) / sin(theta) * b, theta the angle between a
    /// and b. t = 0 gives a and t = 1 gives b exactly; for |a| = |b| every point has that norm.
    public static func slerp(_ a: [Float], _ b: [Float], _ t: Double) -> [Float] {
        precondition(a.count == b.count)
        let normA = norm(a), normB = norm(b)
        guard normA > 0, normB > 0 else { return lerp(a, b, t) }
        // theta = 2 atan2(|a^ - b^|, |a^ + b^|): accurate at every angle, unlike acos of the dot product.
        var difference = 0.0, sum = 0.0
        for index in a.indices {
            let x = Double(a[index]) / normA, y = Double(b[index]) / normB
            difference += (x - y) * (x - y)
            sum += (x + y) * (x + y)
        }
        let theta = 2 * atan2(difference.squareRoot(), sum.squareRoot())
        guard theta > smallAngle, Double.pi - theta > smallAngle else { return lerp(a, b, t) }
        let sine = sin(theta)
        let weightA = sin((1 - t) * theta) / sine, weightB = sin(t * theta) / sine
        return (0..<a.count).map { Float(weightA * Double(a[$0]) + weightB * Double(b[$0])) }
    }

    public static func interpolate(_ a: [Float], _ b: [Float], _ t: Double, method: InterpolationMethod) -> [Float] {
        switch method {
        case .slerp: return slerp(a, b, t)
        case .lerp: return lerp(a, b, t)
        }
    }

    public static func norm(_ x: [Float]) -> Double {
        x.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    }
}

/// The latents of a path through keyframes k0, k1, ..., k(K-1): each segment k(i) -> k(i+1) gives
/// `steps` latents at t = 0, 1/steps, ..., (steps-1)/steps, the first being the keyframe itself.
/// Without `loop` the path ends with the last keyframe: (K-1) * steps + 1 latents. With `loop` a
/// last segment k(K-1) -> k0 closes the cycle and k0 is not repeated: K * steps latents, and the
/// frame after the last one is the first, so a looping animation has no jump and no repeated frame.
public struct KeyframePath: Sequence, IteratorProtocol {
    public let keyframes: [[Float]]
    public let steps: Int
    public let loop: Bool
    public let method: InterpolationMethod
    private var index = 0

    public init(keyframes: [[Float]], steps: Int, loop: Bool, method: InterpolationMethod) {
        precondition(!keyframes.isEmpty && steps >= 1)
        precondition(Self.count(keyframes: keyframes.count, steps: steps, loop: loop) != nil, "the path's length overflows")
        self.keyframes = keyframes
        self.steps = steps
        self.loop = loop
        self.method = method
        count = Self.count(keyframes: keyframes.count, steps: steps, loop: loop)!
    }

    public let count: Int

    /// The number of latents of a path, or nil when it does not fit an Int (check before building one).
    public static func count(keyframes: Int, steps: Int, loop: Bool) -> Int? {
        guard let product = MemoryBudget.checkedProduct(loop ? keyframes : keyframes - 1, steps) else { return nil }
        if loop { return product }
        let (total, overflow) = product.addingReportingOverflow(1)
        return overflow ? nil : total
    }

    public mutating func next() -> [Float]? {
        guard index < count else { return nil }
        defer { index += 1 }
        let segment = index / steps, step = index % steps
        if step == 0 || segment == keyframes.count - 1 && !loop { return keyframes[segment] }
        let from = keyframes[segment], to = keyframes[(segment + 1) % keyframes.count]
        return Interpolation.interpolate(from, to, Double(step) / Double(steps), method: method)
    }
}

/// A smooth random walk on the sphere through a random start z0 (the first latent of `GaussianLatents`
/// with the same seed), keeping its norm r. Each step moves `stepSize` along the sphere (a rotation
/// by stepSize / r radians in the plane of the position and the heading) and then turns the heading
/// at random: heading += sqrt(angle) * g, g Gaussian in the tangent plane with unit expected norm,
/// so the heading forgets its direction after about one radian of travel (a persistent walk, not
/// Brownian jitter). Positions are computed in Double and renormalized each step.
public struct SphericalRandomWalk: Sequence, IteratorProtocol {
    public let count: Int
    public let stepSize: Double
    private var random: GaussianLatents
    private var position: [Double]
    private var heading: [Double]
    private let radius: Double
    private var index = 0

    public init(dimension: Int, count: Int, stepSize: Double, seed: UInt64) {
        precondition(dimension >= 2 && count >= 0 && stepSize >= 0)
        self.count = count
        self.stepSize = stepSize
        random = GaussianLatents(dimension: dimension, seed: seed)
        position = random.next().map(Double.init)
        radius = Swift.max(position.reduce(0) { $0 + $1 * $1 }.squareRoot(), .leastNormalMagnitude)
        heading = [Double](repeating: 0, count: dimension)
        heading = tangentNoise()
        normalize(&heading)
    }

    public mutating func next() -> [Float]? {
        guard index < count else { return nil }
        defer { index += 1 }
        if index > 0 { advance() }
        return position.map { Float($0) }
    }

    private mutating func advance() {
        let angle = stepSize / radius
        // Rotate in the plane (position, heading): the new heading is the transported old one.
        let c = cos(angle), s = sin(angle)
        for i in position.indices {
            let p = position[i], h = heading[i]
            position[i] = c * p + s * radius * h
            heading[i] = -s * p / radius + c * h
        }
        let length = position.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for i in position.indices { position[i] *= radius / length }
        let noise = tangentNoise()
        let scale = angle.squareRoot()
        for i in heading.indices { heading[i] += scale * noise[i] }
        // Back into the tangent plane (the rotation and the noise leave tiny radial parts), unit length.
        let radial = zip(heading, position).reduce(0) { $0 + $1.0 * $1.1 } / (radius * radius)
        for i in heading.indices { heading[i] -= radial * position[i] }
        normalize(&heading)
    }

    /// Gaussian noise in the tangent plane at `position`, of expected norm about 1.
    private mutating func tangentNoise() -> [Double] {
        var noise = random.next().map(Double.init)
        let scale = 1 / Double(noise.count).squareRoot()
        let radial = zip(noise, position).reduce(0) { $0 + $1.0 * $1.1 } / (radius * radius)
        for i in noise.indices { noise[i] = (noise[i] - radial * position[i]) * scale }
        return noise
    }

    private func normalize(_ vector: inout [Double]) {
        let length = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard length > 0 else { return }
        for i in vector.indices { vector[i] /= length }
    }
}
