import FaceEngine

/// Seeded standard normal latents, one latent at a time: each latent takes the next
/// `fillNormal` of Z values from one xoshiro256** stream seeded with `seed`. So the i-th latent is
/// the same whatever the batch size, and `sample --count K --seed S` draws the same latents as
/// `interpolate --keyframes K --seed S` (and the first latent of `interpolate --walk N --seed S`).
public struct GaussianLatents {
    public let dimension: Int
    private var random: RandomGenerator

    public init(dimension: Int, seed: UInt64) {
        precondition(dimension >= 1)
        self.dimension = dimension
        random = RandomGenerator(seed: seed)
    }

    public mutating func next(into destination: UnsafeMutablePointer<Float>) {
        random.fillNormal(UnsafeMutableBufferPointer(start: destination, count: dimension))
    }

    public mutating func next() -> [Float] {
        var latent = [Float](repeating: 0, count: dimension)
        latent.withUnsafeMutableBufferPointer { next(into: $0.baseAddress!) }
        return latent
    }
}
