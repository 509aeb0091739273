import Foundation
import XCTest
@testable import FaceWGAN

/// The one leftover policy: only ".<target>.tmp-<hex>" whose target the caller owns goes.
final class LeftoverTemporaryFilesTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("LeftoverTests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(atPath: directory)
    }

    private func entries() throws -> Set<String> { Set(try FileManager.default.contentsOfDirectory(atPath: directory)) }

    func testRemovesOnlyTemporariesOfOwnedTargets() throws {
        let owned = [".config.json.tmp-3e", ".checkpoint.safetensors.tmp-0123456789abcdef", ".step-000200.png.tmp-a"]
        let kept = [
            "config.json", "step-000200.png",  // the outputs themselves
            ".notes.txt.tmp-1f",               // a temporary of a name the caller does not own
            ".config.json.tmp-",               // no suffix
            ".config.json.tmp-xyz",            // not AtomicStreamFile's hex suffix
            ".config.json.tmp-0123456789abcdef0",  // longer than a 64-bit number
            ".tmp-1f", "config.json.tmp-1f",   // no target, no leading dot
            ".step-2.png.tmp-1f",              // too few digits for a step
        ]
        for name in owned + kept { XCTAssertTrue(FileManager.default.createFile(atPath: directory + "/" + name, contents: Data([1]))) }
        // A directory that looks like a leftover is left alone too (unlink cannot remove it).
        try FileManager.default.createDirectory(atPath: directory + "/.metrics.jsonl.tmp-7", withIntermediateDirectories: false)

        let remaining = try LeftoverTemporaryFiles.remove(in: directory) { target in
            target == "config.json" || target == "checkpoint.safetensors" || target == "metrics.jsonl"
                || LeftoverTemporaryFiles.isNumberedName(target, prefix: "step-", minimumDigits: 6, suffix: ".png")
        }
        let expected = Set(kept + [".metrics.jsonl.tmp-7"])
        XCTAssertEqual(try entries(), expected)
        XCTAssertEqual(Set(remaining), expected, "the names that remain are returned")
    }

    func testLeftoverTargetMatchesAtomicStreamFilesOwnNames() throws {
        let file = try AtomicStreamFile(path: directory + "/index.json")
        let name = try XCTUnwrap(try entries().first)
        XCTAssertEqual(LeftoverTemporaryFiles.leftoverTarget(name), "index.json")
        file.abandon()
    }

    func testNumberedNames() {
        XCTAssertTrue(LeftoverTemporaryFiles.isNumberedName("000123.png", prefix: "", minimumDigits: 6, suffix: ".png"))
        XCTAssertTrue(LeftoverTemporaryFiles.isNumberedName("1234567.png", prefix: "", minimumDigits: 6, suffix: ".png"))
        XCTAssertFalse(LeftoverTemporaryFiles.isNumberedName("12345.png", prefix: "", minimumDigits: 6, suffix: ".png"))
        XCTAssertFalse(LeftoverTemporaryFiles.isNumberedName("00012a.png", prefix: "", minimumDigits: 6, suffix: ".png"))
        XCTAssertTrue(LeftoverTemporaryFiles.isNumberedName("shard-00004.npy", prefix: "shard-", minimumDigits: 0, suffix: ".npy"))
        XCTAssertFalse(LeftoverTemporaryFiles.isNumberedName("shard-.npyx", prefix: "shard-", minimumDigits: 0, suffix: ".npy"))
        XCTAssertFalse(LeftoverTemporaryFiles.isNumberedName("step-.png", prefix: "step-", minimumDigits: 6, suffix: ".png"))
    }

    func testAMissingDirectoryHasNoneAndAFileIsAnErrorNamingIt() throws {
        XCTAssertEqual(try LeftoverTemporaryFiles.remove(in: directory + "/missing") { _ in true }, [])
        XCTAssertTrue(FileManager.default.createFile(atPath: directory + "/file", contents: Data([1])))
        XCTAssertThrowsError(try LeftoverTemporaryFiles.remove(in: directory + "/file") { _ in true }) {
            XCTAssertEqual("\($0)", "\(directory)/file: cannot open the directory: Not a directory")
        }
    }
}
