import XCTest
@testable import FaceWGAN

/// Decoding of every colour type, EXIF orientation, DCT scaling and damaged files. Fixtures are
/// encoded here with libjpeg / libpng (ImageEncoder), never read from disk.
final class ImagesCodecTests: XCTestCase {
    /// A smooth image with four distinct quadrant tints, so orientation and colour survive JPEG.
    static func quadrants(width: Int = 32, height: Int = 16) -> RGBImage {
        var pixels: [UInt8] = []
        for y in 0..<height {
            for x in 0..<width {
                let right = x >= width / 2, bottom = y >= height / 2
                switch (right, bottom) {
                case (false, false): pixels += [220, 30, 30]
                case (true, false): pixels += [30, 220, 30]
                case (false, true): pixels += [30, 30, 220]
                case (true, true): pixels += [230, 230, 40]
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    static func meanAbsoluteDifference(_ a: [UInt8], _ b: [UInt8]) -> Double {
        precondition(a.count == b.count)
        return Double(zip(a, b).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }) / Double(a.count)
    }

    func decode(_ bytes: [UInt8], maxPixels: Int = 100_000_000) throws -> RGBImage {
        try ImageDecoder().decode(bytes, maxPixels: maxPixels)
    }

    func decodingError(_ bytes: [UInt8], maxPixels: Int = 100_000_000) -> ImageDecodingError.Kind? {
        do {
            _ = try decode(bytes, maxPixels: maxPixels)
            return nil
        } catch let error as ImageDecodingError {
            return error.kind
        } catch {
            XCTFail("unexpected error \(error)")
            return nil
        }
    }

    // MARK: JPEG

    func testBaselineJPEGRoundTrip() throws {
        let image = Self.quadrants()
        let decoded = try decode(try ImageEncoder.jpeg(image, quality: 95))
        XCTAssertEqual(decoded.width, 32)
        XCTAssertEqual(decoded.height, 16)
        // JPEG at quality 95 subsamples chroma 2x2, which smears the sharp colour edges of this small
        // image: about 6 gray levels on average (measured 5.98), far below a wrong decode's ~100.
        XCTAssertLessThan(Self.meanAbsoluteDifference(decoded.pixels, image.pixels), 8)
    }

    func testGrayscaleJPEGBecomesRGB() throws {
        let gray = [UInt8](repeating: 77, count: 16 * 16)
        let decoded = try decode(try ImageEncoder.jpeg(samples: gray, width: 16, height: 16, components: 1))
        XCTAssertEqual(decoded, RGBImage(width: 16, height: 16, red: 77, green: 77, blue: 77))
    }

    func testCMYKAndYCCKJPEGBecomeRGB() throws {
        // Stored as Photoshop does (inverted, Adobe marker): C=0 M=255 Y=255 K=0 is pure red, so the
        // stored samples are 255, 0, 0, 255. Pillow gives R = (255-C)(255-K)/255 = 255.
        let stored = [UInt8](repeating: 0, count: 16 * 16 * 4).enumerated().map { [255, 0, 0, 255][$0.offset % 4] as UInt8 }
        for space in [ImageEncoder.JPEGColorSpace.cmyk, .ycck] {
            let bytes = try ImageEncoder.jpeg(samples: stored, width: 16, height: 16, components: 4, storedAs: space, quality: 100)
            let header = try ImageDecoder().readHeader(bytes.withUnsafeBytes { UnsafeRawBufferPointer($0) })
            XCTAssertEqual(header.colorSpace, Int(space.rawValue))
            let decoded = try decode(bytes)
            let (r, g, b) = decoded[8, 8]
            XCTAssertGreaterThan(r, 250, "\(space)")
            XCTAssertLessThan(g, 5, "\(space)")
            XCTAssertLessThan(b, 5, "\(space)")
        }
    }

    func testProgressiveAndArithmeticJPEGDecodeLikeBaseline() throws {
        let image = Self.quadrants()
        let baseline = try decode(try ImageEncoder.jpeg(image, quality: 90))
        let progressive = try decode(try ImageEncoder.jpeg(samples: image.pixels, width: 32, height: 16, components: 3,
                                                           progressive: true))
        let arithmetic = try decode(try ImageEncoder.jpeg(samples: image.pixels, width: 32, height: 16, components: 3,
                                                          arithmetic: true))
        // Same quantisation, only the entropy coding differs: identical pixels.
        XCTAssertEqual(progressive, baseline)
        XCTAssertEqual(arithmetic, baseline)
    }

    func testEXIFOrientationIsApplied() throws {
        let image = Self.quadrants()
        for bigEndian in [false, true] {
            for orientation in 1...8 {
                let bytes = try ImageEncoder.jpeg(samples: image.pixels, width: 32, height: 16, components: 3, quality: 95,
                                                  orientation: orientation, exifBigEndian: bigEndian)
                let decoder = try ImageDecoder()
                let header = try bytes.withUnsafeBytes { try decoder.readHeader($0) }
                XCTAssertEqual(header.orientation, orientation)
                let decoded = try bytes.withUnsafeBytes { _ = try decoder.readHeader($0); return try decoder.decode() }
                let expected = image.oriented(orientation)
                XCTAssertEqual(decoded.width, expected.width, "orientation \(orientation)")
                XCTAssertEqual(decoded.height, expected.height, "orientation \(orientation)")
                // Quadrant centres keep their tint within JPEG error.
                for (x, y) in [(expected.width / 4, expected.height / 4), (3 * expected.width / 4, 3 * expected.height / 4)] {
                    let a = decoded[x, y], b = expected[x, y]
                    XCTAssertLessThan(abs(Int(a.0) - Int(b.0)) + abs(Int(a.1) - Int(b.1)) + abs(Int(a.2) - Int(b.2)), 24,
                                      "orientation \(orientation) big-endian \(bigEndian) at \(x),\(y)")
                }
            }
        }
    }

    func testDCTScaling() throws {
        let image = Self.quadrants(width: 64, height: 48)
        let bytes = try ImageEncoder.jpeg(image, quality: 95)
        let decoder = try ImageDecoder()
        for numerator in [1, 2, 3, 4, 8] {
            let scaled = try bytes.withUnsafeBytes { raw -> RGBImage in
                _ = try decoder.readHeader(raw)
                XCTAssertEqual(decoder.scaledSize(scaleNumerator: numerator).width, (64 * numerator + 7) / 8)
                return try decoder.decode(scaleNumerator: numerator)
            }
            XCTAssertEqual(scaled.width, (64 * numerator + 7) / 8)
            XCTAssertEqual(scaled.height, (48 * numerator + 7) / 8)
            let (r, g, b) = scaled[scaled.width / 4, scaled.height / 4]
            XCTAssertGreaterThan(r, 190)
            XCTAssertLessThan(g, 60)
            XCTAssertLessThan(b, 60)
        }
    }

    func testDamagedJPEGs() throws {
        let bytes = try ImageEncoder.jpeg(Self.quadrants(width: 64, height: 64), quality: 90)
        XCTAssertEqual(decodingError(Array(bytes[0..<(bytes.count * 2 / 3)])), .truncated)
        XCTAssertEqual(decodingError(Array(bytes[0..<40])), .truncated)  // inside the header
        XCTAssertEqual(decodingError(Array(bytes[0..<3])), .truncated)
        XCTAssertEqual(decodingError([0xFF, 0xD8, 0xFF] + [UInt8](repeating: 0x41, count: 100)), .corrupt)
        XCTAssertEqual(decodingError([]), .empty)
        XCTAssertEqual(decodingError(Array("hello, I am not a JPEG\n".utf8)), .notAnImage)
        // The whole file still decodes after all that (the decoder recovers from each error).
        XCTAssertNoThrow(try decode(bytes))
    }

    func testDecompressionBombRefusedBeforeDecoding() throws {
        var bytes = try ImageEncoder.jpeg(Self.quadrants(width: 16, height: 16), quality: 90)
        // Patch the SOF0 frame size to 60000 x 60000 (3.6 gigapixels).
        let sof = try XCTUnwrap((0..<bytes.count - 1).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 })
        bytes[sof + 5] = 0xEA; bytes[sof + 6] = 0x60; bytes[sof + 7] = 0xEA; bytes[sof + 8] = 0x60
        XCTAssertEqual(decodingError(bytes), .tooManyPixels)
        let header = try ImageDecoder().readHeader(bytes.withUnsafeBytes { UnsafeRawBufferPointer($0) })
        XCTAssertEqual(header.width, 60000)
    }

    // MARK: PNG

    func testPNGColorTypes() throws {
        let rgb = Self.quadrants()
        XCTAssertEqual(try decode(try ImageEncoder.png(rgb)), rgb)
        XCTAssertEqual(try decode(try ImageEncoder.png(samples: rgb.pixels, width: 32, height: 16, colorType: .rgb,
                                                       sixteenBit: true)), rgb)
        let gray: [UInt8] = (0..<64).map { UInt8($0 * 4) }
        let grayImage = RGBImage(width: 8, height: 8, pixels: gray.flatMap { [$0, $0, $0] })
        XCTAssertEqual(try decode(try ImageEncoder.png(samples: gray, width: 8, height: 8, colorType: .gray)), grayImage)
        XCTAssertEqual(try decode(try ImageEncoder.png(samples: gray, width: 8, height: 8, colorType: .gray,
                                                       sixteenBit: true)), grayImage)
        let palette: [UInt8] = [10, 20, 30, 200, 100, 50]
        let indices: [UInt8] = (0..<64).map { UInt8($0 % 2) }
        let decoded = try decode(try ImageEncoder.png(samples: indices, width: 8, height: 8, colorType: .palette,
                                                      palette: palette))
        XCTAssertEqual(decoded[0, 0].0, 10)
        XCTAssertEqual(decoded[1, 0].2, 50)
    }

    func testPNGAlphaIsFlattenedOverWhite() throws {
        // out = (c*a + 255*(255-a) + 127) / 255, as flattening onto white in Pillow or ImageMagick.
        let rgba: [UInt8] = [0, 0, 0, 255, 0, 0, 0, 0, 100, 50, 200, 128, 255, 0, 0, 64]
        let decoded = try decode(try ImageEncoder.png(samples: rgba, width: 4, height: 1, colorType: .rgba))
        func flat(_ c: Int, _ a: Int) -> UInt8 { UInt8((c * a + 255 * (255 - a) + 127) / 255) }
        XCTAssertEqual(decoded.pixels, [0, 0, 0, 255, 255, 255, flat(100, 128), flat(50, 128), flat(200, 128),
                                        255, flat(0, 64), flat(0, 64)])
        let grayAlpha: [UInt8] = [0, 255, 0, 0]
        XCTAssertEqual(try decode(try ImageEncoder.png(samples: grayAlpha, width: 2, height: 1, colorType: .grayAlpha)).pixels,
                       [0, 0, 0, 255, 255, 255])
        let rgba16 = try ImageEncoder.png(samples: rgba, width: 4, height: 1, colorType: .rgba, sixteenBit: true)
        XCTAssertEqual(try decode(rgba16), decoded)
    }

    func testDamagedPNGs() throws {
        let bytes = try ImageEncoder.png(Self.quadrants(width: 64, height: 64), compression: 0)
        XCTAssertEqual(decodingError(Array(bytes[0..<(bytes.count / 2)])), .truncated)
        XCTAssertEqual(decodingError(Array(bytes[0..<20])), .truncated)
        var crc = bytes
        crc[29] ^= 0xFF  // IHDR CRC
        XCTAssertEqual(decodingError(crc), .corrupt)
        XCTAssertEqual(decodingError(Array(bytes[0..<8]) + Array("not png chunks at all".utf8)), .corrupt)
        XCTAssertNoThrow(try decode(bytes))
    }
}
