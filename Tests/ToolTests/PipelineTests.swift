import FaceWGAN
import Foundation
import XCTest

/// pipeline.sh end to end on 40 faces of the sample set with a tiny model (the CI smoke run of issue 6):
/// every output exists and decodes, a re-run skips every stage, failures name their stage.
final class PipelineTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    var root: URL!
    var images: URL { root.appendingPathComponent("faces") }
    var out: URL { root.appendingPathComponent("out") }

    /// Small, fast settings: 32x32, width 4, z-dim 8, batch 8, 3 steps; a walk of 2 keyframes x 3.
    var environment: [String: String] {
        ["FACEWGAN_BIN": ToolRunner.binaryDirectory.path, "SIZE": "32", "STEPS": "3", "WIDTH": "4", "Z_DIM": "8",
         "BATCH": "8", "THREADS": "2", "LOG_EVERY": "1", "CHECKPOINT_EVERY": "2", "SAMPLE_EVERY": "2",
         "GRID_COUNT": "6", "GRID_COLUMNS": "3", "KEYFRAMES": "2", "WALK_STEPS": "3"]
    }

    override func setUpWithError() throws {
        for tool in ["preprocess", "train", "sample", "interpolate"] { _ = try ToolRunner.executable(tool) }
        root = try ToolRunner.temporaryDirectory()
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        for index in 0..<40 {
            let name = String(format: "%06d.png", index)
            try FileManager.default.copyItem(at: Self.repository.appendingPathComponent("data/faces/" + name),
                                             to: images.appendingPathComponent(name))
        }
    }

    override func tearDownWithError() throws {
        if let root { try? FileManager.default.removeItem(at: root) }
    }

    func pipeline(_ arguments: [String], environment extra: [String: String] = [:]) throws -> ToolRunner.Result {
        try ToolRunner.run(path: URL(fileURLWithPath: "/bin/bash"),
                           [Self.repository.appendingPathComponent("pipeline.sh").path] + arguments,
                           environment: environment.merging(extra) { $1 })
    }

    func decode(_ url: URL) throws -> RGBImage {
        try ImageDecoder().decode(Array(try Data(contentsOf: url)))
    }

    func testRunsEveryStageAndOutputsDecodeThenSkipsThemOnARerun() throws {
        let first = try pipeline([images.path, out.path])
        XCTAssertEqual(first.status, 0, first.standardError)
        let index = try String(contentsOf: out.appendingPathComponent("shards/index.json"), encoding: .utf8)
        XCTAssertTrue(index.contains("\"count\": 40") || index.contains("\"count\":40"), index)
        let checkpoint = try Checkpoint.read(path: out.appendingPathComponent("run/checkpoint.safetensors").path)
        XCTAssertEqual(checkpoint.step, 3)
        let grid = try decode(out.appendingPathComponent("grid.png"))
        XCTAssertEqual(grid.width, 3 * 32 + 4 * 2)
        XCTAssertEqual(grid.height, 2 * 32 + 3 * 2)
        let latents = try String(contentsOf: out.appendingPathComponent("walk/latents.txt"), encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("#") }
        XCTAssertEqual(latents.count, 6)  // 2 keyframes x 3, looped
        XCTAssertEqual(latents.first?.split(separator: " ").count, 8)
        for frame in 0..<6 {
            let image = try decode(out.appendingPathComponent(String(format: "walk/frames/%06d.png", frame)))
            XCTAssertEqual(image.width, 32)
        }
        let strip = try decode(out.appendingPathComponent("walk/strip.png"))
        XCTAssertEqual(strip.width, 6 * 32 + 7 * 1)
        XCTAssertEqual(strip.height, 32 + 2)
        for path in ["shards/", "run/checkpoint.safetensors", "grid.png", "walk/strip.png", "walk/frames"] {
            XCTAssertTrue(first.output.contains(path), "\(path) in \(first.output)")
        }

        let gridBytes = try Data(contentsOf: out.appendingPathComponent("grid.png"))
        let second = try pipeline([images.path, out.path])
        XCTAssertEqual(second.status, 0, second.standardError)
        for stage in ["preprocess:", "train:", "grid:", "walk:"] {
            XCTAssertTrue(second.standardError.contains("==> \(stage)"), stage)
        }
        XCTAssertEqual(second.standardError.components(separatedBy: "skipped").count - 1, 6, second.standardError)
        XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent("grid.png")), gridBytes)
    }

    func testResumeContinuesTrainingAndRemakesTheOutputs() throws {
        XCTAssertEqual(try pipeline([images.path, out.path]).status, 0)
        // More steps without --resume: refused with the hint; with --resume: continued to step 5.
        let refused = try pipeline([images.path, out.path, "--steps", "5"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.standardError.contains("--resume"), refused.standardError)
        XCTAssertTrue(refused.standardError.contains("stage \"train\" failed"), refused.standardError)
        let resumed = try pipeline([images.path, out.path, "--steps", "5", "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.standardError)
        XCTAssertTrue(resumed.standardError.contains("resuming"), resumed.standardError)
        XCTAssertEqual(try Checkpoint.read(path: out.appendingPathComponent("run/checkpoint.safetensors").path).step, 5)
        XCTAssertNoThrow(try decode(out.appendingPathComponent("grid.png")))
        XCTAssertNoThrow(try decode(out.appendingPathComponent("walk/strip.png")))
    }

    func testAFailingStageIsNamed() throws {
        let noImages = try pipeline([root.appendingPathComponent("nothing-here").path, out.path])
        XCTAssertEqual(noImages.status, 1)
        XCTAssertTrue(noImages.standardError.contains("stage \"preprocess\" failed"), noImages.standardError)
        // train supports 32, 64 and 128 pixels: shards of 48 make the train stage fail.
        let badSize = try pipeline([images.path, out.path], environment: ["SIZE": "48"])
        XCTAssertNotEqual(badSize.status, 0)
        XCTAssertTrue(badSize.standardError.contains("stage \"train\" failed"), badSize.standardError)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("shards/index.json").path))
    }

    func testUsageErrors() throws {
        let help = try pipeline(["--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.output.contains("usage: ./pipeline.sh"))
        XCTAssertEqual(try pipeline(["--no-such-flag"]).status, 2)
        XCTAssertEqual(try pipeline([images.path, out.path], environment: ["STEPS": "many"]).status, 2)
        XCTAssertEqual(try pipeline(["a", "b", "c"]).status, 2)
    }
}
