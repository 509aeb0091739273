import Foundation
import XCTest
@testable import FaceWGAN

/// Runs the built `preprocess` executable end to end on fixtures made here.
final class PreprocessToolTests: XCTestCase {
    var root: String!

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "facewgan-preprocess-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root + "/in/sub", withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
    }

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
        /// The JSON summary line.
        var summary: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [String: Any] ?? [:]
        }
        var skipped: [String: Int] { summary["skipped_by_reason"] as? [String: Int] ?? [:] }
    }

    func run(_ arguments: [String], stdin: String? = nil) throws -> Run {
        let result = try ToolRunner.run("preprocess", arguments, input: stdin.map { Data($0.utf8) })
        return Run(status: result.status, stdout: result.output, stderr: result.standardError)
    }

    func write(_ bytes: [UInt8], _ name: String) {
        _ = FileManager.default.createFile(atPath: root + "/in/" + name, contents: Data(bytes))
    }

    /// A face-like test card: a gradient with a bright disc in the middle.
    static func card(width: Int, height: Int) -> RGBImage {
        var pixels: [UInt8] = []
        for y in 0..<height {
            for x in 0..<width {
                let dx = Double(x) - Double(width) / 2, dy = Double(y) - Double(height) / 2
                let inside = dx * dx + dy * dy < Double(min(width, height) * min(width, height)) / 16
                pixels += [inside ? 240 : UInt8(x * 255 / max(width - 1, 1)), inside ? 200 : UInt8(y * 255 / max(height - 1, 1)), 90]
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// Good images of each kind and one of each bad kind.
    func makeFixtures() throws {
        let card = Self.card(width: 89, height: 109)
        write(try ImageEncoder.jpeg(card, quality: 90), "a-baseline.jpg")
        write(try ImageEncoder.jpeg(samples: card.pixels, width: 89, height: 109, components: 3, progressive: true), "b-progressive.JPG")
        write(try ImageEncoder.jpeg(samples: card.pixels, width: 89, height: 109, components: 3, arithmetic: true), "c-arith.jpeg")
        write(try ImageEncoder.jpeg(samples: card.pixels.enumerated().filter { $0.offset % 3 == 0 }.map(\.element),
                                    width: 89, height: 109, components: 1), "d-gray.jpg")
        let cmyk = card.pixels.indices.filter { $0 % 3 == 0 }.flatMap { i in [card.pixels[i], card.pixels[i + 1], card.pixels[i + 2], 255] as [UInt8] }
        write(try ImageEncoder.jpeg(samples: cmyk, width: 89, height: 109, components: 4, storedAs: .ycck), "e-ycck.jpg")
        write(try ImageEncoder.jpeg(samples: card.pixels, width: 89, height: 109, components: 3, orientation: 6), "f-rotated.jpg")
        write(try ImageEncoder.png(card), "sub/g-rgb.png")
        let rgba = card.pixels.indices.filter { $0 % 3 == 0 }.flatMap { i in [card.pixels[i], card.pixels[i + 1], card.pixels[i + 2], 128] as [UInt8] }
        write(try ImageEncoder.png(samples: rgba, width: 89, height: 109, colorType: .rgba, sixteenBit: true), "sub/h-rgba16.PNG")
        write(try ImageEncoder.jpeg(Self.card(width: 400, height: 300), quality: 90), "i-large.jpg")  // DCT-scaled
        // Bad ones.
        let good = try ImageEncoder.jpeg(card, quality: 90)
        write(Array(good[0..<(good.count / 2)]), "x-truncated.jpg")
        let png = try ImageEncoder.png(card)
        write(Array(png[0..<(png.count / 2)]), "x-truncated.png")
        write([], "x-empty.jpg")
        write(Array("this is a text file\n".utf8), "x-text.jpg")
        write(try ImageEncoder.jpeg(Self.card(width: 7, height: 7)), "x-tiny.jpg")  // crop under a quarter of 32
        write(Array("ignored: no image extension".utf8), "notes.txt")
    }

    static let goodCount = 9
    static let badReasons: [String: Int] = ["truncated": 2, "empty-file": 1, "not-an-image": 1, "crop-too-small": 1]

    func readShard(_ path: String) throws -> (shape: [Int], data: [UInt8]) {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let info = try Npy.readHeader(bytes, path: path)
        try Npy.checkImages(info, count: info.shape.first ?? 0, size: info.shape.count > 1 ? info.shape[1] : 0, fileSize: bytes.count, path: path)
        XCTAssertEqual(info.descr, "|u1")
        return (info.shape, Array(bytes[info.dataOffset...]))
    }

    func testEndToEndWithGoodAndBadFiles() throws {
        try makeFixtures()
        let out = root + "/out"
        let result = try run([root + "/in", "--out", out, "--size", "32", "--shard-size", "4", "--threads", "2"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.summary["images"] as? Int, Self.goodCount, result.stdout)
        XCTAssertEqual(result.skipped, Self.badReasons)
        XCTAssertEqual(result.summary["shards"] as? Int, 3)
        // One stderr line per skipped file, naming it and the reason.
        for name in ["x-truncated.jpg", "x-truncated.png", "x-empty.jpg", "x-text.jpg", "x-tiny.jpg"] {
            XCTAssertTrue(result.stderr.contains(name), "stderr should name \(name): \(result.stderr)")
        }
        XCTAssertTrue(result.stderr.contains("empty-file"))
        // Shards: counts 4, 4, 1, shape (N, 32, 32, 3), hashes as in the index.
        let index = try JSONDecoder().decode(ShardIndex.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/index.json")))
        XCTAssertEqual(index.count, Self.goodCount)
        XCTAssertEqual(index.imageSize, 32)
        XCTAssertEqual(index.shards.map(\.count), [4, 4, 1])
        for entry in index.shards {
            let shard = try readShard(out + "/" + entry.file)
            XCTAssertEqual(shard.shape, [entry.count, 32, 32, 3])
            XCTAssertEqual(SHA256.hex([UInt8](try Data(contentsOf: URL(fileURLWithPath: out + "/" + entry.file)))), entry.sha256)
        }
        // Manifest: sorted paths, crop boxes in displayed pixels (the rotated one is 109 wide).
        let manifest = try String(contentsOfFile: out + "/manifest.tsv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(manifest.count, 1 + Self.goodCount)
        XCTAssertTrue(manifest[1].hasPrefix("shard-00000.npy\t0\t\(root!)/in/a-baseline.jpg\t0\t10\t89\t89"), String(manifest[1]))
        XCTAssertTrue(manifest.contains { $0.hasSuffix("f-rotated.jpg\t10\t0\t89\t89") }, "\(manifest)")
        XCTAssertTrue(manifest.contains { $0.hasSuffix("i-large.jpg\t50\t0\t300\t300") }, "\(manifest)")
        // Paths sorted by byte value: "sub/..." sorts between "i-large.jpg" and "x-...".
        XCTAssertTrue(manifest.last!.contains("/in/sub/h-rgba16.PNG"), String(manifest.last!))
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: out).contains { $0.contains(".tmp-") })
    }

    func testImagesOfEveryKindLookAlike() throws {
        // The same card through every decoder path ends up as nearly the same 32x32 image.
        try makeFixtures()
        let out = root + "/out"
        let result = try run([root + "/in", "--out", out, "--size", "32", "--quiet"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let shard = try readShard(out + "/shard-00000.npy")
        let reference = Array(shard.data[0..<3072])
        let manifest = try String(contentsOfFile: out + "/manifest.tsv", encoding: .utf8).split(separator: "\n").dropFirst()
        for (i, line) in manifest.enumerated() where !line.contains("i-large") && !line.contains("f-rotated") {
            let image = Array(shard.data[(i * 3072)..<((i + 1) * 3072)])
            var difference = zip(image, reference).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }
            if line.contains("d-gray") {  // gray: compare with the reference's first channel
                difference = (0..<1024).reduce(0) { $0 + abs(Int(image[3 * $1]) - Int(reference[3 * $1])) } * 3
            }
            if line.contains("h-rgba16") {  // half transparent over white
                let flattened = reference.map { (Int($0) * 128 + 255 * 127 + 127) / 255 }
                difference = zip(image, flattened).reduce(0) { $0 + abs(Int($1.0) - $1.1) }
            }
            // JPEG generations and chroma handling differ by a few levels; a wrong path by ~50+.
            XCTAssertLessThan(Double(difference) / 3072, 6, "\(line)")
        }
    }

    func testDeterministicAcrossThreadCounts() throws {
        try makeFixtures()
        let one = try run([root + "/in", "--out", root + "/one", "--size", "32", "--threads", "1", "-q"])
        let two = try run([root + "/in", "--out", root + "/two", "--size", "32", "--threads", "2", "-q"])
        XCTAssertEqual(one.status, 0)
        XCTAssertEqual(two.status, 0)
        for name in ["shard-00000.npy", "index.json"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: root + "/one/" + name)),
                           try Data(contentsOf: URL(fileURLWithPath: root + "/two/" + name)), name)
        }
    }

    func testFiltersAndCropModes() throws {
        write(try ImageEncoder.png(RGBImage(width: 70, height: 50, red: 12, green: 130, blue: 250)), "flat.png")
        for filter in ["lanczos", "bicubic", "bilinear", "box"] {
            for crop in [["--crop", "center"], ["--crop", "none"], ["--crop-size", "40"]] {
                let out = root + "/out-\(filter)-\(crop.joined())"
                let result = try run([root + "/in/flat.png", "--out", out, "--size", "16", "--filter", filter] + crop)
                XCTAssertEqual(result.status, 0, result.stderr)
                let shard = try readShard(out + "/shard-00000.npy")
                XCTAssertEqual(shard.data, RGBImage(width: 16, height: 16, red: 12, green: 130, blue: 250).pixels,
                               "a constant image stays constant (\(filter) \(crop))")
            }
        }
        let tooLarge = try run([root + "/in/flat.png", "--out", root + "/big", "--crop-size", "60"])
        XCTAssertEqual(tooLarge.status, 1)
        XCTAssertEqual(tooLarge.skipped, ["crop-too-large": 1])
    }

    func testStdinRecordsWithBoxes() throws {
        write(try ImageEncoder.png(Self.card(width: 200, height: 160)), "card.png")
        let path = root + "/in/card.png"
        let records = """
        # detector output
        \(path)\t50 40 60 80
        \(path)\t190 150 40 40
        \(path)\t500 500 10 10
        \(path)\t10 10 0 5
        \(path)\t1 2 three 4
        \(path)
        \(root!)/in/missing.png\t1 1 5 5

        """
        let result = try run(["-", "--out", root + "/out", "--crop", "box", "--margin", "0.25", "--size", "32"], stdin: records)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.summary["images"] as? Int, 2)
        XCTAssertEqual(result.skipped, ["bad-box": 2, "bad-record": 1, "missing-box": 1, "unreadable": 1])
        XCTAssertTrue(result.stderr.contains("stdin line 6"), result.stderr)
        let manifest = try String(contentsOfFile: root + "/out/manifest.tsv", encoding: .utf8).split(separator: "\n")
        // 60x80 box centred at (80, 80), grown by 25% per side of 80 -> 120, centred and kept inside.
        XCTAssertTrue(manifest[1].hasSuffix("\t20\t20\t120\t120"), String(manifest[1]))
        // A box at the corner: the 60x60 square is pushed back inside the image.
        XCTAssertTrue(manifest[2].hasSuffix("\t140\t100\t60\t60"), String(manifest[2]))
    }

    func testStrictStopsAtFirstSkip() throws {
        try makeFixtures()
        let result = try run([root + "/in", "--out", root + "/out", "--strict", "--size", "32", "-q"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("--strict"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/out/index.json"))
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: root + "/out").contains { $0.contains(".tmp-") })
    }

    func testNothingWrittenIsAnError() throws {
        write([], "empty.jpg")
        let result = try run([root + "/in", "--out", root + "/out"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.skipped, ["empty-file": 1])
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/out/index.json"))
    }

    func testMaxPixels() throws {
        write(try ImageEncoder.jpeg(Self.card(width: 100, height: 100)), "hundred.jpg")
        let result = try run([root + "/in", "--out", root + "/out", "--max-pixels", "9999"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.skipped, ["too-many-pixels": 1])
    }

    func testExistingOutputNeedsForce() throws {
        write(try ImageEncoder.jpeg(Self.card(width: 64, height: 64)), "one.jpg")
        XCTAssertEqual(try run([root + "/in", "--out", root + "/out", "-q"]).status, 0)
        let again = try run([root + "/in", "--out", root + "/out", "-q"])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("--force"), again.stderr)
        XCTAssertEqual(try run([root + "/in", "--out", root + "/out", "-q", "--force"]).status, 0)
    }

    func testUsageErrorsExitTwo() throws {
        XCTAssertEqual(try run(["--out", root + "/out"]).status, 2)  // no input
        XCTAssertEqual(try run([root + "/in", "--out", root + "/out", "--size", "0"]).status, 2)
        XCTAssertEqual(try run([root + "/in", "--out", root + "/out", "--filter", "nearest"]).status, 2)
        XCTAssertEqual(try run([root + "/in", "--out", root + "/out", "--crop", "box", "--crop-size", "10"]).status, 2)
        XCTAssertEqual(try run([root + "/in"]).status, 2)  // no --out
        let help = try run(["--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("--crop-size"))
    }
}
