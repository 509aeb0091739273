import XCTest
@testable import FaceWGAN

/// Resampling against values obtained once from Pillow 13.0.0 (pip wheel), with:
///   a[y, x] = ((x*37 + y*11) % 256, (x*x*5 + y*3) % 256, 255 if (x+y) % 2 else 0) on 8x8,
///   Image.fromarray(a).resize((3, 3), F), .resize((5, 11), F), .resize((4, 4), F, box=(1.5, 0.25, 7.0, 6.5))
/// Our resampler does Pillow's fixed-point arithmetic, so the expected tolerance is zero.
final class ImagesResamplingTests: XCTestCase {
    static func pattern() -> RGBImage {
        var pixels: [UInt8] = []
        for y in 0..<8 {
            for x in 0..<8 {
                pixels += [UInt8((x * 37 + y * 11) % 256), UInt8((x * x * 5 + y * 3) % 256), (x + y) % 2 == 1 ? 255 : 0]
            }
        }
        return RGBImage(width: 8, height: 8, pixels: pixels)
    }

    static let pillow: [ResamplingFilter: (down: [UInt8], up: [UInt8], box: [UInt8])] = [
        .box: (
            [48, 11, 113, 141, 66, 128, 148, 186, 142, 76, 19, 128, 169, 74, 128, 133, 151, 128, 103, 26, 142, 196, 81, 128, 89, 116, 113],
            [19, 3, 128, 74, 20, 0, 130, 63, 128, 185, 125, 255, 113, 213, 128, 30, 6, 128, 85, 23, 255, 141, 66, 128, 196, 128, 0, 124, 216, 128, 30, 6, 128, 85, 23, 255, 141, 66, 128, 196, 128, 0, 124, 216, 128, 41, 9, 128, 96, 26, 0, 152, 69, 128, 207, 131, 255, 135, 219, 128, 52, 12, 128, 107, 29, 255, 163, 72, 128, 218, 134, 0, 146, 222, 128, 63, 15, 128, 118, 32, 0, 174, 75, 128, 229, 137, 255, 29, 97, 128, 63, 15, 128, 118, 32, 0, 174, 75, 128, 229, 137, 255, 29, 97, 128, 74, 18, 128, 129, 35, 255, 185, 78, 128, 240, 140, 0, 40, 100, 128, 85, 21, 128, 140, 38, 0, 196, 81, 128, 251, 143, 255, 51, 103, 128, 85, 21, 128, 140, 38, 0, 196, 81, 128, 251, 143, 255, 51, 103, 128, 96, 24, 128, 151, 41, 255, 207, 84, 128, 6, 146, 0, 62, 106, 128],
            [80, 22, 128, 117, 47, 128, 173, 105, 128, 228, 182, 128, 96, 26, 0, 133, 51, 255, 189, 109, 128, 244, 186, 0, 113, 31, 128, 150, 56, 128, 206, 114, 128, 133, 191, 128, 135, 37, 128, 172, 62, 128, 228, 120, 128, 27, 197, 128]),
        .bilinear: (
            [53, 13, 127, 142, 70, 128, 156, 181, 128, 80, 21, 128, 165, 78, 128, 132, 152, 128, 106, 28, 128, 176, 85, 128, 90, 122, 127],
            [15, 2, 104, 71, 21, 113, 130, 63, 128, 188, 131, 142, 93, 218, 151, 21, 4, 132, 77, 23, 130, 136, 65, 128, 194, 133, 125, 99, 220, 123, 29, 6, 136, 85, 25, 133, 144, 67, 128, 202, 135, 122, 107, 222, 119, 37, 8, 106, 93, 27, 114, 152, 69, 128, 210, 137, 141, 115, 224, 149, 45, 10, 140, 101, 29, 135, 160, 71, 128, 218, 139, 120, 123, 226, 115, 54, 13, 128, 110, 32, 128, 169, 74, 128, 193, 142, 128, 79, 153, 128, 62, 15, 115, 118, 34, 120, 177, 76, 128, 168, 144, 135, 35, 80, 140, 70, 17, 149, 126, 36, 141, 185, 78, 128, 176, 146, 114, 43, 82, 106, 78, 19, 119, 134, 38, 122, 193, 80, 128, 184, 148, 133, 51, 84, 136, 86, 21, 123, 142, 40, 125, 196, 82, 128, 133, 150, 130, 59, 86, 132, 92, 23, 151, 148, 42, 142, 196, 84, 128, 56, 152, 113, 65, 88, 104],
            [67, 17, 127, 119, 51, 128, 171, 103, 127, 196, 172, 127, 84, 21, 125, 136, 55, 132, 188, 107, 126, 213, 176, 124, 102, 26, 127, 154, 60, 129, 206, 112, 127, 134, 166, 126, 118, 31, 129, 170, 65, 124, 222, 117, 128, 90, 162, 130]),
        .bicubic: (
            [43, 8, 126, 146, 66, 127, 158, 194, 129, 71, 15, 127, 174, 78, 127, 132, 156, 127, 102, 23, 129, 185, 90, 127, 82, 119, 126],
            [11, 1, 101, 68, 18, 121, 129, 61, 128, 198, 132, 134, 89, 223, 154, 18, 3, 135, 75, 20, 129, 136, 63, 128, 205, 134, 126, 96, 225, 120, 26, 5, 140, 83, 22, 130, 144, 65, 128, 213, 136, 125, 104, 227, 115, 34, 7, 104, 91, 24, 122, 152, 67, 128, 222, 138, 133, 113, 229, 151, 42, 9, 145, 99, 26, 132, 160, 69, 128, 235, 140, 123, 128, 242, 110, 51, 12, 128, 108, 29, 128, 173, 72, 128, 201, 147, 128, 74, 155, 128, 58, 14, 110, 115, 31, 123, 185, 74, 128, 166, 154, 132, 20, 68, 145, 67, 16, 151, 124, 33, 133, 193, 76, 128, 179, 156, 122, 35, 81, 104, 75, 18, 115, 131, 35, 125, 201, 78, 128, 199, 158, 130, 43, 83, 140, 83, 20, 120, 141, 37, 126, 207, 80, 128, 132, 160, 129, 54, 85, 135, 90, 22, 154, 148, 39, 134, 209, 82, 128, 39, 162, 121, 63, 87, 101],
            [66, 15, 127, 119, 48, 128, 171, 100, 127, 204, 174, 127, 84, 20, 126, 137, 53, 130, 189, 105, 127, 230, 180, 125, 101, 25, 127, 154, 58, 129, 212, 111, 127, 134, 173, 126, 119, 30, 128, 171, 63, 126, 238, 117, 128, 79, 170, 129]),
        .lanczos: (
            [36, 6, 126, 152, 62, 127, 160, 202, 129, 65, 12, 127, 182, 78, 127, 134, 159, 127, 101, 18, 129, 189, 95, 127, 76, 117, 126],
            [10, 1, 96, 69, 18, 138, 124, 61, 128, 206, 131, 117, 89, 225, 159, 16, 2, 138, 75, 19, 124, 130, 62, 128, 212, 132, 131, 95, 226, 117, 26, 5, 142, 85, 22, 123, 140, 65, 128, 221, 135, 132, 104, 227, 113, 33, 7, 101, 92, 24, 136, 147, 67, 128, 230, 137, 119, 114, 233, 154, 42, 9, 148, 101, 26, 121, 154, 70, 128, 246, 138, 134, 132, 249, 107, 50, 12, 128, 107, 29, 128, 174, 69, 128, 205, 151, 128, 71, 157, 128, 57, 14, 107, 112, 31, 134, 193, 68, 128, 162, 163, 121, 10, 64, 148, 66, 16, 154, 121, 33, 119, 200, 71, 128, 177, 164, 136, 29, 80, 101, 73, 18, 113, 127, 35, 132, 208, 73, 128, 212, 166, 123, 37, 86, 142, 83, 21, 117, 139, 38, 131, 213, 76, 128, 127, 169, 124, 50, 87, 138, 89, 22, 159, 147, 39, 117, 213, 77, 128, 32, 170, 138, 61, 88, 96],
            [68, 15, 127, 118, 48, 128, 174, 96, 128, 198, 177, 126, 86, 20, 128, 137, 53, 127, 191, 101, 127, 234, 184, 128, 103, 25, 128, 151, 57, 127, 217, 110, 127, 132, 173, 128, 121, 30, 127, 165, 62, 128, 253, 118, 128, 76, 167, 126]),
    ]

    func check(_ filter: ResamplingFilter) {
        let image = Self.pattern()
        let expected = Self.pillow[filter]!
        XCTAssertEqual(image.resized(width: 3, height: 3, filter: filter).pixels, expected.down, "\(filter) 8x8 -> 3x3")
        XCTAssertEqual(image.resized(width: 5, height: 11, filter: filter).pixels, expected.up, "\(filter) 8x8 -> 5x11")
        XCTAssertEqual(image.resized(width: 4, height: 4, filter: filter, box: (1.5, 0.25, 7.0, 6.5)).pixels,
                       expected.box, "\(filter) box -> 4x4")
    }

    func testBoxMatchesPillow() { check(.box) }
    func testBilinearMatchesPillow() { check(.bilinear) }
    func testBicubicMatchesPillow() { check(.bicubic) }
    func testLanczosMatchesPillow() { check(.lanczos) }

    func testConstantImageStaysConstant() {
        let image = RGBImage(width: 37, height: 23, red: 200, green: 3, blue: 128)
        for filter in ResamplingFilter.allCases {
            for (w, h) in [(64, 64), (8, 8), (37, 23), (5, 90), (1, 1)] {
                let out = image.resized(width: w, height: h, filter: filter)
                XCTAssertEqual(out, RGBImage(width: w, height: h, red: 200, green: 3, blue: 128), "\(filter) \(w)x\(h)")
            }
        }
    }

    func testSameSizeIsACopy() {
        let image = Self.pattern()
        for filter in ResamplingFilter.allCases {
            XCTAssertEqual(image.resized(width: 8, height: 8, filter: filter), image)
        }
    }

    func testRegionActsLikeACropFirst() {
        // Resampling a region must equal cropping then resampling (no pixel outside the region is read).
        let image = Self.pattern()
        let region = PixelRect(x: 2, y: 1, width: 5, height: 6)
        let cropped = image.cropped(to: region).resized(width: 3, height: 4, filter: .lanczos)
        var out = [UInt8](repeating: 0, count: 3 * 4 * 3)
        image.pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { destination in
                Resampler().resample(source: source.baseAddress!, sourceStride: 24, region: region, outputWidth: 3,
                                     outputHeight: 4, filter: .lanczos, output: destination.baseAddress!)
            }
        }
        XCTAssertEqual(out, cropped.pixels)
    }

    func testWeightsSumToOne() {
        // Each output's fixed-point weights sum to 2^22 within rounding (one unit per tap).
        for filter in ResamplingFilter.allCases {
            let weights = ResamplingWeights(inputSize: 89, start: 0, end: 89, outputSize: 64, filter: filter)
            for i in 0..<64 {
                let taps = Int(weights.counts[i])
                let sum = (0..<taps).reduce(0) { $0 + Int(weights.weights[i * weights.kernelSize + $1]) }
                XCTAssertLessThanOrEqual(abs(sum - (1 << 22)), taps, "\(filter) output \(i)")
            }
        }
    }

    func testOrientationMapsCorners() {
        // 3x2 image with distinct pixels; a viewer shows orientation 6 rotated 90 degrees clockwise.
        let pixels: [UInt8] = (0..<6).flatMap { [UInt8($0), 0, 0] }
        let image = RGBImage(width: 3, height: 2, pixels: pixels)  // rows: 0 1 2 / 3 4 5
        func red(_ image: RGBImage) -> [UInt8] { stride(from: 0, to: image.pixels.count, by: 3).map { image.pixels[$0] } }
        XCTAssertEqual(red(image.oriented(1)), [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(red(image.oriented(2)), [2, 1, 0, 5, 4, 3])
        XCTAssertEqual(red(image.oriented(3)), [5, 4, 3, 2, 1, 0])
        XCTAssertEqual(red(image.oriented(4)), [3, 4, 5, 0, 1, 2])
        XCTAssertEqual(red(image.oriented(5)), [0, 3, 1, 4, 2, 5])
        XCTAssertEqual(red(image.oriented(6)), [3, 0, 4, 1, 5, 2])
        XCTAssertEqual(red(image.oriented(7)), [5, 2, 4, 1, 3, 0])
        XCTAssertEqual(red(image.oriented(8)), [2, 5, 1, 4, 0, 3])
        XCTAssertEqual(image.oriented(6).width, 2)
        XCTAssertEqual(image.oriented(6).height, 3)
        XCTAssertEqual(image.oriented(9), image)
    }
}
