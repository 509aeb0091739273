import CImageCodec

/// The container formats we decode, told apart by their first bytes (never by the file name).
public enum ImageFormat: String, Sendable {
    case jpeg
    case png

    /// The format whose signature starts `bytes`, or nil.
    public static func sniff(_ bytes: UnsafeRawBufferPointer) -> ImageFormat? {
        if bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF { return .jpeg }
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        if bytes.count >= 8 && (0..<8).allSatisfy({ bytes[$0] == png[$0] }) { return .png }
        return nil
    }
}

/// Why an image could not be decoded. `kind` is stable (it names the counter in summaries);
/// `message` says more.
public struct ImageDecodingError: Error, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case empty = "empty-file"
        case notAnImage = "not-an-image"
        case truncated
        case corrupt
        case unsupported
        case tooManyPixels = "too-many-pixels"
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message.isEmpty ? kind.rawValue : "\(kind.rawValue): \(message)" }
}

/// What an image's header says, before any pixel is decoded.
public struct ImageHeader: Equatable, Sendable {
    public var format: ImageFormat
    /// Size as stored in the file.
    public var width: Int
    public var height: Int
    /// EXIF orientation 1...8 (JPEG only; 1 when absent).
    public var orientation: Int
    /// The JPEG colour space (FW_JPEG_*), 0 for PNG.
    public var colorSpace: Int
    public var progressive: Bool

    /// Size as displayed, after the orientation is applied.
    public var orientedWidth: Int { orientation >= 5 ? height : width }
    public var orientedHeight: Int { orientation >= 5 ? width : height }
}

/// Decodes JPEG (libjpeg-turbo) and PNG (libpng) to 8-bit RGB. One instance per thread: it keeps
/// the codec state between images.
///
/// Grayscale becomes RGB by replication; CMYK / YCCK JPEGs are converted as Pillow converts them;
/// palette, 16-bit and alpha PNGs become 8-bit RGB (16-bit values v scaled to round(v*255/65535))
/// with alpha composited over `pngBackground`: out = (c*a + bg*(255-a) + 127)/255 in 8-bit values
/// (what flattening in Pillow or ImageMagick gives; the gAMA chunk is ignored as they ignore it).
/// Corrupt data gives an error, never a crash.
public final class ImageDecoder {
    /// The colour transparent PNG pixels are composited over: white.
    public static let pngBackground: (UInt8, UInt8, UInt8) = (255, 255, 255)

    private let jpeg: OpaquePointer
    private let png: OpaquePointer
    private var pending: ImageFormat?
    private var header: ImageHeader?

    /// The codecs' state could not be allocated (out of memory).
    public struct AllocationError: Error, CustomStringConvertible {
        public var description: String { "out of memory creating the JPEG and PNG decoders" }
    }

    public init() throws {
        let jpeg = fw_jpeg_decoder_create(), png = fw_png_decoder_create()
        guard let jpeg, let png else {
            if let jpeg { fw_jpeg_decoder_destroy(jpeg) }
            if let png { fw_png_decoder_destroy(png) }
            throw AllocationError()
        }
        self.jpeg = jpeg
        self.png = png
    }

    deinit {
        fw_jpeg_decoder_destroy(jpeg)
        fw_png_decoder_destroy(png)
    }

    /// Reads the header of `data`, which must stay valid and unchanged until `decode` returns.
    public func readHeader(_ data: UnsafeRawBufferPointer) throws -> ImageHeader {
        pending = nil
        header = nil
        fw_png_abort(png)
        guard data.count > 0 else { throw ImageDecodingError(.empty, "zero-byte file") }
        guard let format = ImageFormat.sniff(data) else {
            throw ImageDecodingError(.notAnImage, "neither a JPEG nor a PNG signature")
        }
        let bytes = data.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let result: ImageHeader
        switch format {
        case .jpeg:
            var info = fw_jpeg_info()
            let code = fw_jpeg_read_header(jpeg, bytes, data.count, &info)
            guard code == 0 else { throw Self.error(code, String(cString: fw_jpeg_message(jpeg))) }
            result = ImageHeader(format: .jpeg, width: Int(info.width), height: Int(info.height),
                                 orientation: Int(info.orientation), colorSpace: Int(info.color_space),
                                 progressive: info.progressive != 0)
        case .png:
            var info = fw_png_info()
            let code = fw_png_read_header(png, bytes, data.count, &info)
            guard code == 0 else { throw Self.error(code, String(cString: fw_png_message(png))) }
            result = ImageHeader(format: .png, width: Int(info.width), height: Int(info.height),
                                 orientation: 1, colorSpace: 0, progressive: false)
        }
        guard result.width > 0 && result.height > 0 else {
            throw ImageDecodingError(.corrupt, "image of size \(result.width)x\(result.height)")
        }
        pending = format
        header = result
        return result
    }

    /// The decoded size at scale scaleNumerator/8 (JPEG DCT scaling; PNG is always full size),
    /// before orientation.
    public func scaledSize(scaleNumerator: Int) -> (width: Int, height: Int) {
        guard let header else { return (0, 0) }
        if header.format == .png || scaleNumerator == 8 { return (header.width, header.height) }
        var width: Int32 = 0, height: Int32 = 0
        _ = fw_jpeg_scaled_size(jpeg, Int32(scaleNumerator), &width, &height)
        return (Int(width), Int(height))
    }

    /// Decodes the image whose header was just read, at scaleNumerator/8 (1...8; JPEG only), with
    /// its EXIF orientation applied when `applyOrientation`.
    public func decode(scaleNumerator: Int = 8, applyOrientation: Bool = true) throws -> RGBImage {
        guard let format = pending, let header else {
            throw ImageDecodingError(.corrupt, "decode called without a header")
        }
        pending = nil
        let size = scaledSize(scaleNumerator: format == .jpeg ? scaleNumerator : 8)
        let count = size.width * size.height * 3
        var failure: ImageDecodingError?
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let code: Int32
            switch format {
            case .jpeg:
                code = fw_jpeg_decode_rgb(jpeg, Int32(scaleNumerator), buffer.baseAddress, count)
                if code != 0 { failure = Self.error(code, String(cString: fw_jpeg_message(jpeg))) }
            case .png:
                let background = Self.pngBackground
                code = fw_png_decode_rgb(png, buffer.baseAddress, count, Int32(background.0),
                                         Int32(background.1), Int32(background.2))
                if code != 0 { failure = Self.error(code, String(cString: fw_png_message(png))) }
            }
            if code != 0 { buffer.initialize(repeating: 0) }
            initialized = count
        }
        if let failure { throw failure }
        let image = RGBImage(width: size.width, height: size.height, pixels: pixels)
        return applyOrientation ? image.oriented(header.orientation) : image
    }

    /// Decodes a whole file's bytes at full size, orientation applied, refusing more than maxPixels.
    public func decode(_ data: UnsafeRawBufferPointer, maxPixels: Int = 100_000_000) throws -> RGBImage {
        let header = try readHeader(data)
        guard header.width * header.height <= maxPixels else {
            throw ImageDecodingError(.tooManyPixels, "\(header.width)x\(header.height) is over \(maxPixels) pixels")
        }
        return try decode()
    }

    /// Convenience for byte arrays.
    public func decode(_ bytes: [UInt8], maxPixels: Int = 100_000_000) throws -> RGBImage {
        try bytes.withUnsafeBytes { try decode($0, maxPixels: maxPixels) }
    }

    private static func error(_ code: Int32, _ message: String) -> ImageDecodingError {
        switch code {
        case Int32(FW_ERROR_TRUNCATED): return ImageDecodingError(.truncated, message)
        case Int32(FW_ERROR_UNSUPPORTED): return ImageDecodingError(.unsupported, message)
        default: return ImageDecodingError(.corrupt, message)
        }
    }
}
