import FaceEngine
import Foundation
import TestSupport
import XCTest
@testable import FaceWGAN

/// The built `evaluate` executable end to end: its JSON line, its inputs, its errors.
final class EvaluateToolTests: XCTestCase {
    var root: String!
    let size = 32
    var shards: String { root + "/real" }

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "facewgan-evaluate-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try QualityFixtures.writeShards(QualityFixtures.blobs(count: 24, size: size, seed: 31), size: size, directory: shards)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: root) }

    func evaluate(_ arguments: [String]) throws -> ToolRunner.Result {
        try ToolRunner.run("evaluate", arguments + ["--threads", "2"])
    }

    func object(_ result: ToolRunner.Result) throws -> [String: Any] {
        XCTAssertEqual(result.output.filter { $0 == "\n" }.count, 1, "one line: \(result.output)")
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: result.standardOutput) as? [String: Any], result.output)
    }

    /// The line without its wall time.
    func withoutSeconds(_ line: String) -> String {
        line.replacingOccurrences(of: #", "seconds": [0-9.]+"#, with: "", options: .regularExpression)
    }

    func fakes(count: Int = 20, seed: UInt64 = 32) -> [UInt8] {
        QualityFixtures.blurred(QualityFixtures.blobs(count: count, size: size, seed: seed), size: size, passes: 1)
    }

    func testPrintsOneJSONLineWithEveryKeyAndIsDeterministic() throws {
        let npy = root + "/fake.npy"
        try QualityFixtures.writeNpy(fakes(), size: size, path: npy)
        let first = try evaluate(["--real", shards, "--fake", npy, "--seed", "4", "--floor"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let json = try object(first)
        for key in ["swd_32", "swd_16", "swd_mean", "swd_floor_32", "swd_floor_16", "swd_floor_mean", "ms_ssim_fake",
                    "ms_ssim_real", "count_real", "count_fake", "seed", "seconds"] {
            XCTAssertNotNil(json[key], "\(key) in \(first.output)")
        }
        XCTAssertEqual(json["count_real"] as? Int, 20)
        XCTAssertEqual(json["count_fake"] as? Int, 20)
        XCTAssertEqual(json["seed"] as? Int, 4)
        XCTAssertTrue(first.stderr.contains("evaluate: 20 fakes against 20 reals"), first.stderr)
        let again = try evaluate(["--real", shards, "--fake", npy, "--seed", "4", "--floor", "--quiet"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(again.stderr, "")
        XCTAssertEqual(withoutSeconds(again.output), withoutSeconds(first.output))
        let otherSeed = try evaluate(["--real", shards, "--fake", npy, "--seed", "5", "--floor", "-q"])
        XCTAssertNotEqual(withoutSeconds(otherSeed.output), withoutSeconds(first.output))
    }

    /// The same images as a directory of PNGs, as shards and as a .npy file: the same figures.
    func testFakesAsPNGDirectoryShardsAndNpyAgree() throws {
        let pixels = fakes(count: 24)
        try QualityFixtures.writePNGs(pixels, size: size, directory: root + "/pngs")
        try QualityFixtures.writeShards(pixels, size: size, directory: root + "/fake-shards", shardSize: 10)
        try QualityFixtures.writeNpy(pixels, size: size, path: root + "/fake.npy")
        var lines = [String]()
        for fake in [root + "/pngs", root + "/fake-shards", root + "/fake.npy"] {
            let result = try evaluate(["--real", shards, "--fake", fake, "--count", "16", "--seed", "2", "-q"])
            XCTAssertEqual(result.status, 0, "\(fake): \(result.stderr)")
            lines.append(withoutSeconds(result.output))
        }
        XCTAssertEqual(lines[0], lines[1])
        XCTAssertEqual(lines[0], lines[2])
        XCTAssertTrue(lines[0].contains("\"count_fake\": 16"), lines[0])
    }

    func testCheckpointGeneratesTheFakes() throws {
        try FileManager.default.createDirectory(atPath: root + "/run", withIntermediateDirectories: true)
        try makeSamplingCheckpoint().write(path: root + "/run/checkpoint.safetensors")
        let result = try evaluate(["--real", shards, "--checkpoint", root + "/run", "--count", "12", "--seed", "1", "-q"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try object(result)
        XCTAssertEqual(json["count_fake"] as? Int, 12)
        XCTAssertEqual(json["count_real"] as? Int, 12)
        // The fakes are the images `sample --count 12 --seed 1` writes.
        let sampled = try ToolRunner.run("sample", ["--checkpoint", root + "/run", "--count", "12", "--seed", "1",
                                                    "--out", root + "/sampled", "-q"])
        XCTAssertEqual(sampled.status, 0, sampled.stderr)
        let fromPNGs = try evaluate(["--real", shards, "--fake", root + "/sampled", "--count", "12", "--seed", "1", "-q"])
        XCTAssertEqual(withoutSeconds(fromPNGs.output), withoutSeconds(result.output))
        // Default count with a checkpoint: min(real images, 10000).
        let all = try evaluate(["--real", shards, "--checkpoint", root + "/run", "-q", "--truncation", "0.7"])
        XCTAssertEqual(all.status, 0, all.stderr)
        XCTAssertEqual(try object(all)["count_fake"] as? Int, 24)
    }

    func testBadInputsExitWithStatusOneNamingTheFile() throws {
        // An empty directory.
        try FileManager.default.createDirectory(atPath: root + "/empty", withIntermediateDirectories: true)
        let empty = try evaluate(["--real", shards, "--fake", root + "/empty"])
        XCTAssertEqual(empty.status, 1)
        XCTAssertTrue(empty.stderr.contains(root + "/empty") && empty.stderr.contains("no PNG or JPEG"), empty.stderr)
        // A PNG of another size.
        try QualityFixtures.writePNGs(fakes(count: 3), size: size, directory: root + "/mixed")
        let small = QualityFixtures.blobs(count: 1, size: 16, seed: 1)
        try Data(try ImageEncoder.png(samples: small, width: 16, height: 16, colorType: .rgb))
            .write(to: URL(fileURLWithPath: root + "/mixed/odd.png"))
        let mismatch = try evaluate(["--real", shards, "--fake", root + "/mixed"])
        XCTAssertEqual(mismatch.status, 1)
        XCTAssertTrue(mismatch.stderr.contains(root + "/mixed/odd.png: is 16x16, the real images are 32x32"), mismatch.stderr)
        // An unreadable (corrupt) image.
        try FileManager.default.removeItem(atPath: root + "/mixed/odd.png")
        try Data("not a png".utf8).write(to: URL(fileURLWithPath: root + "/mixed/000001.png"))
        let corrupt = try evaluate(["--real", shards, "--fake", root + "/mixed"])
        XCTAssertEqual(corrupt.status, 1)
        XCTAssertTrue(corrupt.stderr.contains(root + "/mixed/000001.png"), corrupt.stderr)
        // A .npy with no images.
        try QualityFixtures.writeNpy([], size: size, path: root + "/none.npy")
        let none = try evaluate(["--real", shards, "--fake", root + "/none.npy"])
        XCTAssertEqual(none.status, 1)
        XCTAssertTrue(none.stderr.contains(root + "/none.npy: the fake set holds no images"), none.stderr)
        // --count above a set's size names the set and both numbers.
        try QualityFixtures.writeNpy(fakes(count: 10), size: size, path: root + "/ten.npy")
        let tooMany = try evaluate(["--real", shards, "--fake", root + "/ten.npy", "--count", "15"])
        XCTAssertEqual(tooMany.status, 1)
        XCTAssertTrue(tooMany.stderr.contains(root + "/ten.npy: the fake set holds 10 images, fewer than --count 15"), tooMany.stderr)
        // A .npy of another size, a .npy of another dtype, a missing file.
        try QualityFixtures.writeNpy(QualityFixtures.blobs(count: 4, size: 64, seed: 1), size: 64, path: root + "/big.npy")
        let bigger = try evaluate(["--real", shards, "--fake", root + "/big.npy"])
        XCTAssertEqual(bigger.status, 1)
        XCTAssertTrue(bigger.stderr.contains(root + "/big.npy: holds 64x64 images"), bigger.stderr)
        try Data(Npy.header(descr: "<f4", shape: [2, 32, 32, 3]) + [UInt8](repeating: 0, count: 2 * 32 * 32 * 3 * 4))
            .write(to: URL(fileURLWithPath: root + "/floats.npy"))
        let floats = try evaluate(["--real", shards, "--fake", root + "/floats.npy"])
        XCTAssertEqual(floats.status, 1)
        XCTAssertTrue(floats.stderr.contains(root + "/floats.npy: holds <f4"), floats.stderr)
        let missing = try evaluate(["--real", root + "/nothing", "--fake", root + "/ten.npy"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains(root + "/nothing: no such file"), missing.stderr)
        for result in [empty, mismatch, corrupt, none, tooMany, bigger, floats, missing] {
            XCTAssertEqual(result.output, "")
            XCTAssertFalse(result.stderr.contains("Fatal error"), result.stderr)
        }
    }

    func testUsageErrorsExitWithStatusTwo() throws {
        try QualityFixtures.writeNpy(fakes(count: 4), size: size, path: root + "/four.npy")
        let noReal = try evaluate(["--fake", root + "/four.npy"])
        XCTAssertEqual(noReal.status, 2, noReal.stderr)
        XCTAssertTrue(noReal.stderr.contains("--real"), noReal.stderr)
        let both = try evaluate(["--real", shards, "--fake", root + "/four.npy", "--checkpoint", root])
        XCTAssertEqual(both.status, 2, both.stderr)
        let neither = try evaluate(["--real", shards])
        XCTAssertEqual(neither.status, 2, neither.stderr)
        let countOne = try evaluate(["--real", shards, "--fake", root + "/four.npy", "--count", "1"])
        XCTAssertEqual(countOne.status, 2, countOne.stderr)
        let help = try ToolRunner.run("evaluate", ["--help"])
        XCTAssertEqual(help.status, 0)
        for text in ["--real", "--fake", "--checkpoint", "--floor", "2^18", "5,000", "4 scales"] {
            XCTAssertTrue(help.output.contains(text), "--help mentions \(text)")
        }
    }
}
