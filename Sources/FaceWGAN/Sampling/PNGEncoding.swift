import CPNG

/// 8-bit RGB PNG encoding through libpng's simplified API (png_image_write_to_memory), which
/// reports errors through the png_image instead of longjmp. Default zlib settings; no ancillary
/// chunks, so equal pixels give equal bytes.
public enum SamplePNG {
    /// Encodes `pixels` ([height, width, 3] interleaved RGB rows) as a PNG file's bytes.
    public static func encodeRGB(_ pixels: UnsafePointer<UInt8>, width: Int, height: Int) throws -> [UInt8] {
        precondition(width > 0 && height > 0)
        guard width <= Int(Int32.max) / 3, height <= Int(Int32.max) else {
            throw FormatError(path: "<png>", message: "image \(width) x \(height) is too large for a PNG")
        }
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.width = png_uint_32(width)
        image.height = png_uint_32(height)
        image.format = png_uint_32(PNG_FORMAT_RGB)
        let stride = png_int_32(width * 3)
        // Room for the raw rows with their filter bytes plus zlib's and the chunks' overhead; when
        // it is not enough, libpng says how much is, and the second attempt uses that.
        let raw = height * (width * 3 + 1)
        var capacity = raw + raw / 100 + 4096
        for _ in 0..<2 {
            var output = [UInt8](repeating: 0, count: capacity)
            var size = png_alloc_size_t(capacity)
            let succeeded = output.withUnsafeMutableBytes { memory in
                png_image_write_to_memory(&image, memory.baseAddress, &size, 0, pixels, stride, nil)
            }
            if succeeded != 0 {
                output.removeSubrange(Int(size)...)
                png_image_free(&image)
                return output
            }
            if image.warning_or_error & 3 >= 2 {  // PNG_IMAGE_ERROR
                let message = withUnsafeBytes(of: image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                png_image_free(&image)
                throw FormatError(path: "<png>", message: "libpng: \(message)")
            }
            capacity = max(Int(size), capacity * 2)
        }
        png_image_free(&image)
        throw FormatError(path: "<png>", message: "libpng could not size its output")
    }

    public static func encodeRGB(_ pixels: [UInt8], width: Int, height: Int) throws -> [UInt8] {
        precondition(pixels.count == width * height * 3)
        return try pixels.withUnsafeBufferPointer { try encodeRGB($0.baseAddress!, width: width, height: height) }
    }
}
