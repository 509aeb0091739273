import XCTest
@testable import FaceWGAN

/// Crop geometry, DCT scale choice and input records, without files.
final class PreprocessPlanTests: XCTestCase {
    func rect(_ mode: CropMode, _ width: Int, _ height: Int, box: FaceBox? = nil, size: Int = 64) -> Result<PixelRect, Skip> {
        Result { () throws(Skip) -> PixelRect in
            try CropPlan.rect(mode: mode, imageWidth: width, imageHeight: height, box: box, outputSize: size)
        }
    }

    func testCenterCrop() {
        XCTAssertEqual(try rect(.center(size: nil), 178, 218).get(), PixelRect(x: 0, y: 20, width: 178, height: 178))
        XCTAssertEqual(try rect(.center(size: 108), 178, 218).get(), PixelRect(x: 35, y: 55, width: 108, height: 108))
        XCTAssertEqual(try rect(.center(size: nil), 89, 109).get(), PixelRect(x: 0, y: 10, width: 89, height: 89))
        XCTAssertThrowsError(try rect(.center(size: 200), 178, 218).get())
        XCTAssertThrowsError(try rect(.center(size: nil), 15, 100).get()) { error in
            XCTAssertEqual((error as? Skip)?.reason, .cropTooSmall)
        }
        XCTAssertNoThrow(try rect(.center(size: nil), 16, 100).get())  // exactly a quarter
    }

    func testBoxCrop() {
        let face = FaceBox(x: 50, y: 40, width: 60, height: 80)
        XCTAssertEqual(try rect(.box(margin: 0), 200, 160, box: face).get(), PixelRect(x: 40, y: 40, width: 80, height: 80))
        XCTAssertEqual(try rect(.box(margin: 0.25), 200, 160, box: face).get(), PixelRect(x: 20, y: 20, width: 120, height: 120))
        // Grown past the image: the square shrinks to the shorter side and stays inside.
        XCTAssertEqual(try rect(.box(margin: 2), 200, 160, box: face).get(), PixelRect(x: 0, y: 0, width: 160, height: 160))
        XCTAssertThrowsError(try rect(.box(margin: 0), 200, 160, box: FaceBox(x: 200, y: 0, width: 5, height: 5)).get())
        XCTAssertThrowsError(try rect(.box(margin: 0), 200, 160, box: FaceBox(x: 0, y: 0, width: 0, height: 5)).get())
        // Absurd numbers from a hostile record give a crop, not a crash.
        XCTAssertEqual(try rect(.box(margin: 0), 200, 160, box: FaceBox(x: -1e300, y: -1e300, width: 1e301, height: 1e301)).get(),
                       PixelRect(x: 40, y: 0, width: 160, height: 160))
        XCTAssertThrowsError(try rect(.box(margin: 0), 200, 160, box: nil).get()) { error in
            XCTAssertEqual((error as? Skip)?.reason, .missingBox)
        }
    }

    func testJPEGScaleChoice() {
        func scale(_ side: Int, _ size: Int) -> Int {
            CropPlan.jpegScale(crop: PixelRect(x: 0, y: 0, width: side, height: side), outputSize: size)
        }
        XCTAssertEqual(scale(89, 64), 8)     // under twice the target: full decode
        XCTAssertEqual(scale(127, 64), 8)
        XCTAssertEqual(scale(128, 64), 4)    // 128 * 4/8 = 64
        XCTAssertEqual(scale(178, 64), 3)    // 66.75
        XCTAssertEqual(scale(1024, 64), 1)   // 128: the smallest libjpeg scale
        XCTAssertEqual(scale(300, 128), 4)   // 150
    }

    func testRecordParsing() {
        XCTAssertNil(InputListing.parseRecord("", lineNumber: 1))
        XCTAssertNil(InputListing.parseRecord("# comment", lineNumber: 1))
        XCTAssertEqual(InputListing.parseRecord("a b.jpg", lineNumber: 3), InputRecord(path: "a b.jpg", line: 3))
        XCTAssertEqual(InputListing.parseRecord("x.jpg\t1 2.5 3 4\r", lineNumber: 1)?.box, FaceBox(x: 1, y: 2.5, width: 3, height: 4))
        XCTAssertEqual(InputListing.parseRecord("x.jpg\t1\t2\t3\t4", lineNumber: 1)?.box, FaceBox(x: 1, y: 2, width: 3, height: 4))
        XCTAssertNotNil(InputListing.parseRecord("x.jpg\t1 2 3", lineNumber: 1)?.problem)
        XCTAssertTrue(InputListing.parseRecord("x.jpg\t1 2 w 4", lineNumber: 1)?.problem?.contains("field w") ?? false)
    }

    func testExtensions() {
        XCTAssertTrue(InputListing.hasImageExtension("a.JPG"))
        XCTAssertTrue(InputListing.hasImageExtension("a.b.jpeg"))
        XCTAssertTrue(InputListing.hasImageExtension("x.Png"))
        XCTAssertFalse(InputListing.hasImageExtension("x.gif"))
        XCTAssertFalse(InputListing.hasImageExtension(".jpg"))
        XCTAssertFalse(InputListing.hasImageExtension("jpg"))
    }
}
