import FaceEngine
import FaceWGAN
import Foundation

/// Generated image sets for the quality-figure tests: [count, S, S, 3] uint8, HWC like a shard.
public enum QualityFixtures {
    /// Smooth "scenes": a random base colour, four Gaussian blobs of random place, radius and colour,
    /// and Gaussian noise of deviation 8, clamped to 0...255 (values mostly in 20...200).
    public static func blobs(count: Int, size: Int, seed: UInt64) -> [UInt8] {
        var random = RandomGenerator(seed: seed)
        var pixels = [UInt8](repeating: 0, count: count * size * size * 3)
        var noise = [Float](repeating: 0, count: size * size * 3)
        for image in 0..<count {
            let base = (0..<3).map { _ in 40 + 80 * random.uniform() }
            var blobs: [(x: Float, y: Float, radius: Float, colour: [Float])] = []
            for _ in 0..<4 {
                let x = Float(size) * random.uniform(), y = Float(size) * random.uniform()
                let radius = 2 + (Float(size) / 4 - 2) * random.uniform()
                blobs.append((x, y, radius, (0..<3).map { _ in -40 + 100 * random.uniform() }))
            }
            noise.withUnsafeMutableBufferPointer { random.fillNormal($0) }
            for y in 0..<size {
                for x in 0..<size {
                    for channel in 0..<3 {
                        var value = base[channel]
                        for blob in blobs {
                            let dx = Float(x) - blob.x, dy = Float(y) - blob.y
                            value += blob.colour[channel] * exp(-(dx * dx + dy * dy) / (2 * blob.radius * blob.radius))
                        }
                        value += 8 * noise[(y * size + x) * 3 + channel]
                        pixels[((image * size + y) * size + x) * 3 + channel] = UInt8(max(0, min(255, value.rounded())))
                    }
                }
            }
        }
        return pixels
    }

    /// `passes` of the 3x3 binomial blur [1,2,1]^T[1,2,1]/16 (edges clamped), rounded to bytes.
    public static func blurred(_ pixels: [UInt8], size: Int, passes: Int) -> [UInt8] {
        var current = pixels.map(Float.init)
        let count = pixels.count / (size * size * 3)
        for _ in 0..<passes {
            var next = current
            for image in 0..<count {
                for y in 0..<size {
                    for x in 0..<size {
                        for channel in 0..<3 {
                            var sum: Float = 0
                            for dy in -1...1 {
                                for dx in -1...1 {
                                    let yy = min(max(y + dy, 0), size - 1), xx = min(max(x + dx, 0), size - 1)
                                    let weight = Float((2 - abs(dy)) * (2 - abs(dx))) / 16
                                    sum += weight * current[((image * size + yy) * size + xx) * 3 + channel]
                                }
                            }
                            next[((image * size + y) * size + x) * 3 + channel] = sum
                        }
                    }
                }
            }
            current = next
        }
        return current.map { UInt8(max(0, min(255, $0.rounded()))) }
    }

    /// Every second image brightened by `amount` (clamped at 255).
    public static func halfBrightened(_ pixels: [UInt8], size: Int, amount: Int) -> [UInt8] {
        let bytes = size * size * 3
        var out = pixels
        for image in stride(from: 1, to: pixels.count / bytes, by: 2) {
            for index in (image * bytes)..<((image + 1) * bytes) { out[index] = UInt8(min(255, Int(out[index]) + amount)) }
        }
        return out
    }

    /// Writes `pixels` as a uint8 .npy of shape (count, S, S, 3).
    public static func writeNpy(_ pixels: [UInt8], size: Int, path: String) throws {
        let count = pixels.count / (size * size * 3)
        try Data(Npy.header(descr: "|u1", shape: [count, size, size, 3]) + pixels).write(to: URL(fileURLWithPath: path))
    }

    /// Writes `pixels` as a shard directory (shards of `shardSize` images) as preprocess would.
    public static func writeShards(_ pixels: [UInt8], size: Int, directory: String, shardSize: Int = 16) throws {
        let bytes = size * size * 3
        let writer = try ShardDirectoryWriter(directory: directory, imageSize: size, shardSize: shardSize, overwrite: true)
        try pixels.withUnsafeBytes { raw in
            for image in 0..<(pixels.count / bytes) {
                try writer.append(UnsafeRawBufferPointer(rebasing: raw[(image * bytes)..<((image + 1) * bytes)]),
                                  source: "fixture-\(image)", crop: PixelRect(x: 0, y: 0, width: size, height: size))
            }
        }
        _ = try writer.finish()
    }

    /// Writes each image as `000000.png`, `000001.png`, ... in `directory`.
    public static func writePNGs(_ pixels: [UInt8], size: Int, directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let bytes = size * size * 3
        for image in 0..<(pixels.count / bytes) {
            let png = try ImageEncoder.png(samples: Array(pixels[(image * bytes)..<((image + 1) * bytes)]), width: size,
                                           height: size, colorType: .rgb)
            try Data(png).write(to: URL(fileURLWithPath: directory + "/" + String(format: "%06d.png", image)))
        }
    }
}
