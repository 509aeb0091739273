import CPNG
import FaceEngine
import Foundation
import TestSupport
import XCTest
@testable import FaceWGAN


/// Decodes a PNG with libpng's simplified reading API (independent of our encoder's code path) into
/// 8-bit RGB; nil when libpng refuses it.
func decodePNGWithLibpng(_ bytes: [UInt8]) -> (pixels: [UInt8], width: Int, height: Int)? {
    var image = png_image()
    image.version = png_uint_32(PNG_IMAGE_VERSION)
    let begun = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
    guard begun != 0 else { return nil }
    image.format = png_uint_32(PNG_FORMAT_RGB)
    let width = Int(image.width), height = Int(image.height)
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    let finished = pixels.withUnsafeMutableBytes {
        png_image_finish_read(&image, nil, $0.baseAddress, png_int_32(width * 3), nil)
    }
    png_image_free(&image)
    return finished != 0 ? (pixels, width, height) : nil
}

final class SamplingTests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "facewgan-sampling-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func makeSampler(useEMA: Bool = true, truncation: Float = 1, batch: Int = 4) throws -> Sampler {
        let generator = try makeSamplingCheckpoint().makeGenerator(useEMA: useEMA, backend: BLASBackend())
        return Sampler(generator: generator, truncation: truncation, batchSize: batch)
    }

    func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    func testPixelConversion() {
        XCTAssertEqual(PixelConversion.byte(-1), 0)
        XCTAssertEqual(PixelConversion.byte(1), 255)
        XCTAssertEqual(PixelConversion.byte(0), 128, "127.5 rounds half away from zero")
        XCTAssertEqual(PixelConversion.byte(-0.5), 64, "63.75 rounds to 64")
        XCTAssertEqual(PixelConversion.byte(3), 255)
        XCTAssertEqual(PixelConversion.byte(-3), 0)
        XCTAssertEqual(PixelConversion.byte(.nan), 0)
        // Planar [3, 1, 2] to interleaved [1, 2, 3].
        let planar: [Float] = [-1, 0, 1]
        XCTAssertEqual(PixelConversion.interleavedRGB(planar: planar, size: 1), [0, 128, 255])
        let two: [Float] = [-1, -1, -1, -1, 0, 0, 0, 0, 1, 1, 1, 1]
        XCTAssertEqual(PixelConversion.interleavedRGB(planar: two, size: 2), Array(repeating: [0, 128, 255], count: 4).flatMap { $0 })
    }

    /// The image of a latent is the same whether decoded alone or in a batch of others: evaluation
    /// mode uses running statistics. Floats agree to 1e-5 (BLAS may block a batch of 1 differently
    /// from a batch of 5), and the 8-bit pixels agree exactly here.
    func testBatchIndependence() throws {
        let sampler = try makeSampler()
        var normals = GaussianLatents(dimension: 8, seed: 5)
        let latents = (0..<5).flatMap { _ in normals.next() }
        let size = 32 * 32 * 3
        let together = try! sampler.generator.forward(latents: latents, count: 5, mode: .evaluation).images.array
        let togetherBytes = try! sampler.decode(latents: latents, count: 5)
        for index in 0..<5 {
            let alone = Array(latents[(index * 8)..<((index + 1) * 8)])
            let single = try! sampler.generator.forward(latents: alone, count: 1, mode: .evaluation).images.array
            let expected = Array(together[(index * size)..<((index + 1) * size)])
            let largest = zip(single, expected).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(largest, 1e-5, "image \(index): largest difference \(largest)")
            XCTAssertEqual(try! sampler.decode(latents: alone, count: 1), Array(togetherBytes[(index * size)..<((index + 1) * size)]))
        }
        // Not trivially equal images.
        XCTAssertNotEqual(Array(togetherBytes[0..<size]), Array(togetherBytes[size..<(2 * size)]))
    }

    func testDirectoryOutputIsDeterministicAndNamedByIndex() throws {
        let sampler = try makeSampler(batch: 3)
        let first = directory + "/one", second = directory + "/two/nested"
        XCTAssertEqual(try sampler.run(source: .gaussian(count: 7, seed: 2), destination: .directory(first)), 7)
        try makeSampler(batch: 3).run(source: .gaussian(count: 7, seed: 2), destination: .directory(second))
        let names = try FileManager.default.contentsOfDirectory(atPath: first).sorted()
        XCTAssertEqual(names, (0..<7).map { Sampler.fileName(index: $0) })
        XCTAssertEqual(names.first, "000000.png")
        for name in names { XCTAssertEqual(try bytes(first + "/" + name), try bytes(second + "/" + name), name) }
        XCTAssertEqual(Sampler.fileName(index: 1_234_567), "1234567.png")
    }

    /// Each PNG decodes, with libpng's reader, to exactly the pixels of the generator's image.
    func testPNGsAreReadableAndHoldTheImage() throws {
        let sampler = try makeSampler()
        try sampler.run(source: .gaussian(count: 2, seed: 3), destination: .directory(directory))
        var normals = GaussianLatents(dimension: 8, seed: 3)
        let latents = normals.next() + normals.next()
        let tiles = try! sampler.decode(latents: latents, count: 2)
        for index in 0..<2 {
            let png = try bytes(directory + "/" + Sampler.fileName(index: index))
            XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
            let decoded = try XCTUnwrap(decodePNGWithLibpng(png))
            XCTAssertEqual(decoded.width, 32)
            XCTAssertEqual(decoded.height, 32)
            XCTAssertEqual(decoded.pixels, Array(tiles[(index * 3072)..<((index + 1) * 3072)]))
        }
    }

    func testEncoderHandlesIncompressibleImages() throws {
        var random = RandomGenerator(seed: 71)
        let pixels = (0..<(300 * 200 * 3)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        let png = try ImageEncoder.png(samples: pixels, width: 300, height: 200, colorType: .rgb)
        XCTAssertGreaterThan(png.count, pixels.count, "random pixels do not compress")
        let decoded = try XCTUnwrap(decodePNGWithLibpng(png))
        XCTAssertEqual(decoded.pixels, pixels)
    }

    func testContactSheetLayoutAndPixels() throws {
        XCTAssertEqual(ContactSheetLayout(count: 10, tileSize: 32, columns: nil, padding: 2).columns, 4)
        XCTAssertEqual(ContactSheetLayout(count: 9, tileSize: 32, columns: nil, padding: 2).columns, 3)
        let layout = ContactSheetLayout(count: 5, tileSize: 32, columns: 2, padding: 3)
        XCTAssertEqual(layout.rows, 3)
        XCTAssertEqual(layout.width, 2 * 32 + 3 * 3)
        XCTAssertEqual(layout.height, 3 * 32 + 4 * 3)
        XCTAssertEqual(layout.origin(of: 3).x, 3 + 35)
        XCTAssertEqual(layout.origin(of: 3).y, 3 + 35)

        let sampler = try makeSampler(batch: 2)
        let path = directory + "/sheet.png"
        try sampler.run(source: .gaussian(count: 5, seed: 4),
                        destination: .grid(path: path, columns: 2, padding: 3, background: BackgroundColor(red: 10, green: 20, blue: 30)))
        let sheet = try XCTUnwrap(decodePNGWithLibpng(try bytes(path)))
        XCTAssertEqual(sheet.width, layout.width)
        XCTAssertEqual(sheet.height, layout.height)
        func pixel(_ x: Int, _ y: Int) -> [UInt8] { Array(sheet.pixels[((y * sheet.width + x) * 3)..<((y * sheet.width + x) * 3 + 3)]) }
        XCTAssertEqual(pixel(0, 0), [10, 20, 30])
        XCTAssertEqual(pixel(sheet.width - 1, sheet.height - 1), [10, 20, 30], "the empty sixth cell is background")
        var normals = GaussianLatents(dimension: 8, seed: 4)
        let latents = (0..<4).flatMap { _ in normals.next() }
        let tiles = try! sampler.decode(latents: latents, count: 4)
        let tile3 = Array(tiles[(3 * 3072)..<(4 * 3072)])
        let (x, y) = layout.origin(of: 3)
        for row in [0, 17, 31] {
            let start = ((y + row) * sheet.width + x) * 3
            XCTAssertEqual(Array(sheet.pixels[start..<(start + 96)]), Array(tile3[(row * 96)..<((row + 1) * 96)]))
        }
    }

    func testBackgroundColors() {
        XCTAssertEqual(BackgroundColor(parsing: "#000000"), BackgroundColor(red: 0, green: 0, blue: 0))
        XCTAssertEqual(BackgroundColor(parsing: "ff8001"), BackgroundColor(red: 255, green: 128, blue: 1))
        XCTAssertEqual(BackgroundColor(parsing: "#fA0"), BackgroundColor(red: 255, green: 170, blue: 0))
        XCTAssertEqual(BackgroundColor(parsing: "White"), BackgroundColor(red: 255, green: 255, blue: 255))
        XCTAssertEqual(BackgroundColor(parsing: "grey"), BackgroundColor(parsing: "gray"))
        XCTAssertEqual(BackgroundColor(red: 1, green: 171, blue: 255).description, "#01abff")
        for bad in ["", "#12345", "#ggg", "chartreuse-ish", "#1234567", "+12345"] {
            XCTAssertNil(BackgroundColor(parsing: bad), bad)
        }
    }

    /// --write-latents saves what the generator saw (after truncation); decoding those again without
    /// truncation gives the same images, and psi = 0 collapses every latent to the same image.
    func testTruncationAndWrittenLatents() throws {
        let latentsPath = directory + "/used.txt"
        try makeSampler(truncation: 0.5).run(source: .gaussian(count: 3, seed: 6), destination: .directory(directory + "/a"),
                                             latentsPath: latentsPath)
        var normals = GaussianLatents(dimension: 8, seed: 6)
        let expected = (0..<3).map { _ in normals.next().map { $0 * 0.5 } }
        XCTAssertEqual(try LatentReader(path: latentsPath, dimension: 8).readAll().map(\.latent), expected)
        try makeSampler().run(source: .stream(LatentReader(path: latentsPath, dimension: 8)), destination: .directory(directory + "/b"))
        for index in 0..<3 {
            let name = "/" + Sampler.fileName(index: index)
            XCTAssertEqual(try bytes(directory + "/a" + name), try bytes(directory + "/b" + name))
        }
        try makeSampler(truncation: 0).run(source: .gaussian(count: 2, seed: 6), destination: .directory(directory + "/c"))
        XCTAssertEqual(try bytes(directory + "/c/000000.png"), try bytes(directory + "/c/000001.png"))
    }

    func testEMAAndRawGeneratorsDiffer() throws {
        try makeSampler(useEMA: true).run(source: .gaussian(count: 1, seed: 1), destination: .directory(directory + "/ema"))
        try makeSampler(useEMA: false).run(source: .gaussian(count: 1, seed: 1), destination: .directory(directory + "/raw"))
        XCTAssertNotEqual(try bytes(directory + "/ema/000000.png"), try bytes(directory + "/raw/000000.png"))
    }

    /// A bad line in the middle of a stream: the error names it; the grid and the latents file are
    /// not written, and no temporary file is left behind. (For --out DIR, the complete PNGs of
    /// earlier batches stay.)
    func testBadStreamWritesNothingPartial() throws {
        let input = directory + "/in.txt"
        let good = "0 0 0 0 0 0 0 0\n"
        try (String(repeating: good, count: 5) + "1 2 3\n" + good).write(toFile: input, atomically: false, encoding: .utf8)
        let sheet = directory + "/sheet.png", latents = directory + "/used.txt"
        XCTAssertThrowsError(try makeSampler(batch: 2).run(
            source: .stream(LatentReader(path: input, dimension: 8)),
            destination: .grid(path: sheet, columns: nil, padding: 0, background: BackgroundColor(red: 0, green: 0, blue: 0)),
            latentsPath: latents)) { error in
            XCTAssertEqual((error as? FormatError)?.path, input)
            XCTAssertTrue("\(error)".contains("line 6"), "\(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["in.txt"])

        let out = directory + "/out"
        XCTAssertThrowsError(try makeSampler(batch: 2).run(source: .stream(LatentReader(path: input, dimension: 8)),
                                                           destination: .directory(out)))
        let written = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        XCTAssertEqual(written, ["000000.png", "000001.png", "000002.png", "000003.png"], "two whole batches, no temporary file")
        for name in written { XCTAssertNotNil(decodePNGWithLibpng(try bytes(out + "/" + name)), name) }
    }

    func testOutputPathThatIsAFileIsRefusedBeforeDecoding() throws {
        let path = directory + "/file"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data([1])))
        XCTAssertThrowsError(try makeSampler().run(source: .gaussian(count: 1, seed: 1), destination: .directory(path))) {
            XCTAssertTrue("\($0)".contains("not a directory"), "\($0)")
        }
        XCTAssertThrowsError(try makeSampler().run(
            source: .gaussian(count: 1, seed: 1),
            destination: .grid(path: directory + "/missing/sheet.png", columns: nil, padding: 0,
                               background: BackgroundColor(red: 0, green: 0, blue: 0))))
    }

    func testContactSheetRefusesToGrowPastItsLimit() {
        // 4 tiles of 10 x 10 with padding 1 on a 2 x 2 sheet: 23 x 23 = 529 pixels; a fifth needs 3 x 2.
        let sheet = ContactSheet(tileSize: 10, columns: nil, padding: 1, background: BackgroundColor(red: 0, green: 0, blue: 0),
                                 maximumPixels: 600)
        let tile = [UInt8](repeating: 0, count: 10 * 10 * 3)
        for _ in 0..<4 { XCTAssertNoThrow(try sheet.add(tile)) }
        XCTAssertThrowsError(try sheet.add(tile)) { XCTAssertTrue("\($0)".contains("over the limit of 600 pixels"), "\($0)") }
        XCTAssertEqual(sheet.count, 4)
        XCTAssertEqual(ContactSheet.defaultMaximumPixels, 100_000_000)
    }

    func testCheckpointWithoutEMAGeneratorSaysSo() throws {
        var checkpoint = makeSamplingCheckpoint()
        checkpoint.tensors = checkpoint.tensors.filter { !$0.key.hasPrefix("generator_ema.") }
        XCTAssertNoThrow(try checkpoint.makeSamplingGenerator(useEMA: false, backend: BLASBackend()))
        XCTAssertThrowsError(try checkpoint.makeSamplingGenerator(useEMA: true, backend: BLASBackend())) {
            XCTAssertTrue("\($0)".contains("no EMA generator"), "\($0)")
        }
    }

    func testCheckpointLookup() throws {
        let run = directory + "/run"
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        XCTAssertThrowsError(try Checkpoint.resolve(runOrFile: run)) { XCTAssertTrue("\($0)".contains("without checkpoint.safetensors")) }
        try makeSamplingCheckpoint().write(path: run + "/checkpoint.safetensors")
        XCTAssertEqual(try Checkpoint.resolve(runOrFile: run), run + "/checkpoint.safetensors")
        XCTAssertEqual(try Checkpoint.resolve(runOrFile: run + "/"), run + "/checkpoint.safetensors")
        XCTAssertEqual(try Checkpoint.read(runOrFile: run).configuration.latentDimension, 8)
        XCTAssertThrowsError(try Checkpoint.resolve(runOrFile: directory + "/nothing")) {
            XCTAssertTrue("\($0)".contains("no such checkpoint"))
        }
    }
}
