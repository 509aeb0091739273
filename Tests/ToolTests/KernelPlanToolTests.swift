import Foundation
import TestSupport
import XCTest

/// `--tune` end to end: train tunes the oneDNN kernels once and says what it cost, a second run starts
/// from the cache, `--tune off` measures nothing, and a broken cache is a warning, never a failure.
final class KernelPlanToolTests: XCTestCase {
    var root: URL!
    var data: String { root.appendingPathComponent("shards").path }
    var cacheHome: String { root.appendingPathComponent("cache").path }
    var cacheFile: String { cacheHome + "/facewgan/kernel-plans.json" }

    override func setUpWithError() throws {
        root = try ToolRunner.temporaryDirectory()
        try writeBlobShards(directory: data, count: 16, shardSize: 8, seed: 51, greenStep: 15)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    func train(_ out: String, _ extra: [String]) throws -> ToolRunner.Result {
        try ToolRunner.run("train", ["--data", data, "--out", out, "--batch", "4", "--width", "4", "--z-dim", "8",
                                     "--threads", "2", "--steps", "2", "--backend", "onednn"] + extra,
                           environment: ["XDG_CACHE_HOME": cacheHome])
    }

    func testTrainTunesOnceThenStartsFromTheCache() throws {
        let first = try train(root.appendingPathComponent("a").path, [])
        XCTAssertEqual(first.status, 0, first.standardError)
        let planLines = first.standardError.split(separator: "\n").filter { $0.contains("kernel plan:") }
        XCTAssertEqual(planLines.count, 1, first.standardError)
        XCTAssertTrue(planLines[0].contains("tuned in") && planLines[0].contains(cacheFile), "\(planLines[0])")
        XCTAssertTrue(FileManager.default.fileExists(atPath: cacheFile))

        let second = try train(root.appendingPathComponent("b").path, [])
        XCTAssertEqual(second.status, 0, second.standardError)
        XCTAssertTrue(second.standardError.contains("from the cache"), second.standardError)
        XCTAssertFalse(second.standardError.contains("tuned in"), second.standardError)
        // Same data, seed and plan: the same weights.
        let a = try Data(contentsOf: root.appendingPathComponent("a/checkpoint.safetensors"))
        let b = try Data(contentsOf: root.appendingPathComponent("b/checkpoint.safetensors"))
        XCTAssertEqual(a, b)
    }

    func testTuneOffMeasuresNothingAndWritesNoCache() throws {
        let result = try train(root.appendingPathComponent("a").path, ["--tune", "off"])
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertFalse(result.standardError.contains("kernel plan:"), result.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cacheFile))
    }

    func testABrokenCacheIsAWarning() throws {
        try FileManager.default.createDirectory(atPath: cacheHome + "/facewgan", withIntermediateDirectories: true)
        try Data("{ half a file".utf8).write(to: URL(fileURLWithPath: cacheFile))
        let result = try train(root.appendingPathComponent("a").path, [])
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardError.contains("warning: ignoring the kernel plan cache \(cacheFile): not a JSON object"),
                      result.standardError)
        XCTAssertTrue(result.standardError.contains("tuned in"), result.standardError)
        let rewritten = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cacheFile)))
        XCTAssertNotNil((rewritten as? [String: Any])?["machines"])
    }

    func testAnUnknownTuneValueIsAUsageError() throws {
        for tool in ["train", "sample"] {
            let result = try ToolRunner.run(tool, ["--tune", "always"])
            XCTAssertEqual(result.status, 2, result.standardError)
            XCTAssertTrue(result.standardError.contains("'always' is invalid for '--tune <tune>'. Please provide one of 'on' and 'off'."),
                          result.standardError)
        }
    }
}
