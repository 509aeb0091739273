/// Generator output to 8-bit pixels: value v in [-1, 1] becomes round((v + 1) * 127.5), clamped to
/// 0...255 (NaN becomes 0), and the planes [3, S, S] become interleaved RGB rows [S, S, 3].
public enum PixelConversion {
    @inline(__always)
    public static func byte(_ value: Float) -> UInt8 {
        let scaled = ((value + 1) * 127.5).rounded()
        guard scaled >= 0 else { return 0 }  // also NaN
        return scaled >= 255 ? 255 : UInt8(scaled)
    }

    /// One image [3, size, size] (planar, as the generator writes it) into `destination` [size, size, 3].
    public static func interleavedRGB(planar image: UnsafePointer<Float>, size: Int,
                                      into destination: UnsafeMutablePointer<UInt8>) {
        let plane = size * size
        for pixel in 0..<plane {
            destination[3 * pixel] = byte(image[pixel])
            destination[3 * pixel + 1] = byte(image[plane + pixel])
            destination[3 * pixel + 2] = byte(image[2 * plane + pixel])
        }
    }

    public static func interleavedRGB(planar image: UnsafePointer<Float>, size: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 3 * size * size) { buffer, initialized in
            interleavedRGB(planar: image, size: size, into: buffer.baseAddress!)
            initialized = 3 * size * size
        }
    }
}
