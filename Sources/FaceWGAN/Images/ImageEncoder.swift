import CImageCodec

/// Errors from the encoders (rare: bad arguments or out of memory).
public struct ImageEncodingError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// PNG and JPEG encoding of 8-bit images (sample grids, and fixtures in tests).
public enum ImageEncoder {
    /// PNG colour types (the PNG specification's numbers).
    public enum PNGColorType: Int32, Sendable {
        case gray = 0, rgb = 2, palette = 3, grayAlpha = 4, rgba = 6

        var channels: Int {
            switch self {
            case .gray, .palette: return 1
            case .grayAlpha: return 2
            case .rgb: return 3
            case .rgba: return 4
            }
        }
    }

    /// An 8-bit RGB PNG of `image`.
    public static func png(_ image: RGBImage, compression: Int = 6) throws -> [UInt8] {
        try png(samples: image.pixels, width: image.width, height: image.height, colorType: .rgb,
                compression: compression)
    }

    /// A PNG of raw 8-bit `samples` (width * height * channels of `colorType`). With `sixteenBit`,
    /// each sample v is stored as v * 257, the exact 16-bit equivalent. `palette` (RGB triples) goes
    /// with `.palette`.
    public static func png(samples: [UInt8], width: Int, height: Int, colorType: PNGColorType,
                           sixteenBit: Bool = false, palette: [UInt8] = [], compression: Int = 6) throws -> [UInt8] {
        guard samples.count == width * height * colorType.channels else {
            throw ImageEncodingError(message: "png: \(samples.count) samples for \(width)x\(height)x\(colorType.channels)")
        }
        let rows: [UInt8] = sixteenBit ? samples.flatMap { [$0, $0] } : samples
        var output: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let paletteEntries = palette.count / 3
        let code = rows.withUnsafeBufferPointer { rowBytes in
            palette.withUnsafeBufferPointer { paletteBytes in
                fw_png_encode(rowBytes.baseAddress, Int32(width), Int32(height), colorType.rawValue,
                              sixteenBit ? 16 : 8, paletteBytes.baseAddress, Int32(paletteEntries),
                              Int32(compression), &output, &size, &message, message.count)
            }
        }
        return try take(code, output, size, message, what: "png")
    }

    /// JPEG colour spaces stored in the file.
    public enum JPEGColorSpace: Int32, Sendable {
        case gray = 1, rgb = 2, yCbCr = 3, cmyk = 4, ycck = 5
    }

    /// A JPEG of `samples` with `components` 1 (gray), 3 (RGB) or 4 (CMYK, stored as Photoshop does:
    /// inverted, with an Adobe marker). `orientation` 1...8 adds an EXIF APP1 segment.
    public static func jpeg(samples: [UInt8], width: Int, height: Int, components: Int,
                            storedAs colorSpace: JPEGColorSpace? = nil, quality: Int = 90,
                            progressive: Bool = false, arithmetic: Bool = false,
                            orientation: Int? = nil, exifBigEndian: Bool = false) throws -> [UInt8] {
        guard samples.count == width * height * components else {
            throw ImageEncodingError(message: "jpeg: \(samples.count) samples for \(width)x\(height)x\(components)")
        }
        var output: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let code = samples.withUnsafeBufferPointer { pixels in
            fw_jpeg_encode(pixels.baseAddress, Int32(width), Int32(height), Int32(components),
                           colorSpace?.rawValue ?? 0, Int32(quality), progressive ? 1 : 0, arithmetic ? 1 : 0,
                           Int32(orientation ?? 0), exifBigEndian ? 1 : 0, &output, &size, &message, message.count)
        }
        return try take(code, output, size, message, what: "jpeg")
    }

    /// A JPEG of an RGB image.
    public static func jpeg(_ image: RGBImage, quality: Int = 90, orientation: Int? = nil) throws -> [UInt8] {
        try jpeg(samples: image.pixels, width: image.width, height: image.height, components: 3,
                 quality: quality, orientation: orientation)
    }

    private static func take(_ code: Int32, _ output: UnsafeMutablePointer<UInt8>?, _ size: Int,
                             _ message: [CChar], what: String) throws -> [UInt8] {
        guard code == 0, let output else {
            let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw ImageEncodingError(message: "\(what) encoding failed: \(text)")
        }
        defer { fw_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: size))
    }
}
