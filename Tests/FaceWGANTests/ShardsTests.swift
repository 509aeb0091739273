import Foundation
import XCTest
@testable import FaceWGAN

/// A .npy reader written separately from Npy.readHeader, so the shards are checked by an
/// independent parser: it handles exactly what numpy.save writes for a 1.0 |u1 array.
struct IndependentNpy {
    var shape: [Int]
    var data: [UInt8]

    init(_ bytes: [UInt8]) throws {
        struct Bad: Error { var why: String }
        guard bytes.count >= 10, bytes[0] == 0x93, String(decoding: bytes[1..<6], as: UTF8.self) == "NUMPY",
              bytes[6] == 1, bytes[7] == 0 else { throw Bad(why: "magic/version") }
        let length = Int(bytes[8]) + 256 * Int(bytes[9])
        guard (10 + length) % 64 == 0, bytes.count >= 10 + length, bytes[10 + length - 1] == 0x0A else { throw Bad(why: "alignment") }
        let header = String(decoding: bytes[10..<(10 + length)], as: UTF8.self)
        guard header.hasPrefix("{'descr': '|u1', 'fortran_order': False, 'shape': (") else { throw Bad(why: header) }
        let inside = header.split(separator: "(")[1].split(separator: ")")[0]
        shape = inside.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        data = Array(bytes[(10 + length)...])
        guard data.count == shape.reduce(1, *) else { throw Bad(why: "data size \(data.count) for \(shape)") }
    }
}

final class ShardsTests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "facewgan-shards-\(UUID().uuidString)"
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: SHA-256 (FIPS 180-4 test vectors)

    /// index.json's counts are summed without overflow (the sum once trapped in -O builds) and must
    /// not be negative; file names must be plain.
    func testIndexCountsAndNamesAreChecked() {
        func refused(_ shards: String, count: String = "1", _ words: [String], line: UInt = #line) {
            let json = "{\"format\": \"facewgan-shards\", \"version\": 1, \"image_size\": 4, \"channels\": 3, \"count\": \(count), \"shards\": [\(shards)]}"
            XCTAssertThrowsError(try ShardIndex.decode(Array(json.utf8), path: "index.json"), line: line) { error in
                let message = (error as? FormatError)?.message ?? "\(error)"
                for word in words { XCTAssertTrue(message.contains(word), "'\(word)' in \(message)", line: line) }
            }
        }
        let big = "{\"file\": \"a.npy\", \"count\": 9223372036854775807, \"sha256\": \"0\"}"
        refused(big + ", " + big, ["counts overflow"])
        refused("{\"file\": \"a.npy\", \"count\": -1, \"sha256\": \"0\"}, {\"file\": \"b.npy\", \"count\": 2, \"sha256\": \"0\"}",
                ["negative 'count' -1"])
        refused("{\"file\": \"../a.npy\", \"count\": 1, \"sha256\": \"0\"}", ["plain file name"])
        refused("{\"file\": \"a.npy\", \"count\": 1, \"sha256\": \"0\"}", count: "2", ["'count' 2 does not match"])
    }

    func testSHA256KnownVectors() {
        XCTAssertEqual(SHA256.hex([UInt8]()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hex([UInt8](repeating: 0x61, count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testSHA256IncrementalEqualsOneShot() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 7 + 3) }
        for chunk in [1, 3, 55, 63, 64, 65, 200] {
            var hasher = SHA256()
            var offset = 0
            while offset < bytes.count {
                hasher.update(bytes[offset..<min(offset + chunk, bytes.count)])
                offset += chunk
            }
            XCTAssertEqual(hasher.finalizeHex(), SHA256.hex(bytes), "chunk \(chunk)")
        }
    }

    // MARK: shard directory

    func image(_ value: UInt8, size: Int) -> [UInt8] { [UInt8](repeating: value, count: size * size * 3) }

    func append(_ writer: ShardDirectoryWriter, _ value: UInt8, source: String = "a.jpg") throws {
        try image(value, size: writer.imageSize).withUnsafeBytes {
            try writer.append($0, source: source, crop: PixelRect(x: 1, y: 2, width: 3, height: 4))
        }
    }

    func files() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: directory).sorted() }

    func testShardsIndexAndManifest() throws {
        let writer = try ShardDirectoryWriter(directory: directory, imageSize: 4, shardSize: 2, overwrite: false)
        for i in 0..<5 { try append(writer, UInt8(10 * i), source: "dir/img\(i).png") }
        let index = try writer.finish()
        XCTAssertEqual(try files(), ["index.json", "manifest.tsv", "shard-00000.npy", "shard-00001.npy", "shard-00002.npy"])
        XCTAssertEqual(index.shards.map(\.count), [2, 2, 1])
        for (n, entry) in index.shards.enumerated() {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/" + entry.file)))
            XCTAssertEqual(SHA256.hex(bytes), entry.sha256)
            let npy = try IndependentNpy(bytes)
            XCTAssertEqual(npy.shape, [entry.count, 4, 4, 3])
            for k in 0..<entry.count {
                XCTAssertEqual(Array(npy.data[(k * 48)..<((k + 1) * 48)]), image(UInt8(10 * (2 * n + k)), size: 4))
            }
        }
        // index.json is plain JSON with the documented keys.
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/index.json"))) as! [String: Any]
        XCTAssertEqual(json["format"] as? String, "facewgan-shards")
        XCTAssertEqual(json["version"] as? Int, 1)
        XCTAssertEqual(json["image_size"] as? Int, 4)
        XCTAssertEqual(json["channels"] as? Int, 3)
        XCTAssertEqual(json["count"] as? Int, 5)
        let decoded = try JSONDecoder().decode(ShardIndex.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/index.json")))
        XCTAssertEqual(decoded, index)
        let manifest = try String(contentsOfFile: directory + "/manifest.tsv", encoding: .utf8)
        let lines = manifest.split(separator: "\n")
        XCTAssertEqual(lines.count, 6)
        XCTAssertEqual(lines[0], "shard\tindex\tpath\tx\ty\tw\th")
        XCTAssertEqual(lines[3], "shard-00001.npy\t0\tdir/img2.png\t1\t2\t3\t4")
        XCTAssertEqual(lines[5], "shard-00002.npy\t0\tdir/img4.png\t1\t2\t3\t4")
    }

    func testNonEmptyDirectoryNeedsOverwrite() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: directory + "/keep.txt", contents: Data("x".utf8))
        XCTAssertThrowsError(try ShardDirectoryWriter(directory: directory, imageSize: 4, shardSize: 2, overwrite: false)) { error in
            XCTAssertTrue("\(error)".contains("not empty"), "\(error)")
        }
    }

    func testOverwriteReplacesOldShards() throws {
        let first = try ShardDirectoryWriter(directory: directory, imageSize: 4, shardSize: 1, overwrite: false)
        for i in 0..<3 { try append(first, UInt8(i)) }
        try first.finish()
        let second = try ShardDirectoryWriter(directory: directory, imageSize: 4, shardSize: 1, overwrite: true)
        // The old index is gone as soon as the new run starts: no index ever lists a mix.
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/index.json"))
        try append(second, 7)
        let index = try second.finish()
        XCTAssertEqual(index.count, 1)
        XCTAssertEqual(try files(), ["index.json", "manifest.tsv", "shard-00000.npy"])
    }

    func testAbandonedRunLeavesNoIndexAndNoHalfShard() throws {
        // A run that fails after one full shard and half of the next (as if killed or out of disk).
        let writer = try ShardDirectoryWriter(directory: directory, imageSize: 4, shardSize: 2, overwrite: false)
        for i in 0..<3 { try append(writer, UInt8(i)) }
        XCTAssertTrue(try files().contains { $0.hasPrefix(".shard-00001.npy.tmp-") }, "the open shard is a temporary")
        writer.abandon()
        // What remains: the complete first shard only, no temporary, no manifest, no index.
        XCTAssertEqual(try files(), ["shard-00000.npy"])
        let npy = try IndependentNpy([UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/shard-00000.npy"))))
        XCTAssertEqual(npy.shape, [2, 4, 4, 3])
    }

    func testManifestEscapesTabsAndNewlines() {
        XCTAssertEqual(ShardDirectoryWriter.escapeField("plain/path.jpg"), "plain/path.jpg")
        XCTAssertEqual(ShardDirectoryWriter.escapeField("a\tb\nc\\d"), "a\\tb\\nc\\\\d")
    }

    func testIndexJSONEscapesNames() {
        XCTAssertEqual(ShardIndex.quoted("a\"b\\c\u{1}"), "\"a\\\"b\\\\c\\u0001\"")
    }
}
