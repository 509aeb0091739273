import FaceEngine

/// The sample grid a training run writes: what a generator makes of given latents, in evaluation mode
/// (running BatchNorm statistics), as one PNG contact sheet, by default 8 columns with 2 black pixels
/// between the tiles (64 latents give an 8x8 grid).
public enum SampleGrid {
    /// Renders `count` latents [count, Z] through `generator` into a PNG.
    public static func png(generator: Generator, latents: UnsafePointer<Float>, count: Int, columns: Int = 8,
                           padding: Int = 2, background: BackgroundColor = BackgroundColor(red: 0, green: 0, blue: 0))
        throws -> [UInt8] {
        precondition(count >= 1)
        let size = generator.configuration.imageSize, tileBytes = 3 * size * size
        let tiles = try Sampler(generator: generator, batchSize: count).decode(latents: latents, count: count)
        let sheet = ContactSheet(tileSize: size, columns: columns, padding: padding, background: background)
        try tiles.withUnsafeBufferPointer { pointer in
            for index in 0..<count { try sheet.add(pointer.baseAddress! + index * tileBytes) }
        }
        return try sheet.png()!
    }
}
