import FaceEngine
import FaceWGAN

/// A small shard directory of 32x32 smooth blobs of colour (so the images are not pure noise) for the
/// training tests: `count` images, blob centres from `seed`, the green channel stepping by
/// `greenStep` per image.
public func writeBlobShards(directory: String, count: Int, shardSize: Int, seed: UInt64, greenStep: Int) throws {
    let writer = try ShardDirectoryWriter(directory: directory, imageSize: 32, shardSize: shardSize, overwrite: false)
    var random = RandomGenerator(seed: seed)
    for index in 0..<count {
        let centre = (Float(random.integer(below: 32)), Float(random.integer(below: 32)))
        var pixels = [UInt8](repeating: 0, count: 32 * 32 * 3)
        for y in 0..<32 {
            for x in 0..<32 {
                let distance = ((Float(x) - centre.0) * (Float(x) - centre.0) + (Float(y) - centre.1) * (Float(y) - centre.1)).squareRoot()
                let value = UInt8(max(0, min(255, 255 - distance * 8)))
                pixels[(y * 32 + x) * 3] = value
                pixels[(y * 32 + x) * 3 + 1] = UInt8(index * greenStep % 256)
                pixels[(y * 32 + x) * 3 + 2] = 255 - value
            }
        }
        try pixels.withUnsafeBytes { try writer.append($0, source: "fixture-\(index)", crop: PixelRect(x: 0, y: 0, width: 32, height: 32)) }
    }
    _ = try writer.finish()
}
