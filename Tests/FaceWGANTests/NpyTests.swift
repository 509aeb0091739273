import Foundation
import XCTest
@testable import FaceWGAN

/// The one .npy reader and writer (Formats/Npy.swift): uint8 image shards and float32 latents.
final class NpyTests: XCTestCase {
    /// `readHeader` must fail with a FormatError naming `path` and containing every word.
    func assertRefused(_ bytes: [UInt8], path: String = "x.npy", mentioning words: [String],
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Npy.readHeader(bytes, path: path), file: file, line: line) { error in
            assertNames(error, path: path, words, file: file, line: line)
        }
    }

    func assertNames(_ error: Error, path: String, _ words: [String], file: StaticString = #filePath, line: UInt = #line) {
        guard let error = error as? FormatError else { return XCTFail("not a FormatError: \(error)", file: file, line: line) }
        XCTAssertEqual(error.path, path, file: file, line: line)
        for word in words { XCTAssertTrue(error.message.contains(word), "'\(word)' in \(error.message)", file: file, line: line) }
    }

    func testHeaderIsWhatNumpyWrites() {
        let header = Npy.header(descr: "|u1", shape: [2, 64, 64, 3])
        XCTAssertEqual(header.count, 128)
        XCTAssertEqual(header.last, 0x0A)
        let text = String(decoding: header[10...], as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 64, 64, 3), }   "))
        XCTAssertTrue(String(decoding: Npy.header(descr: "<f4", shape: [5])[10...], as: UTF8.self)
            .hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }"))
        // A header padded for a larger count has the same length whatever the count.
        XCTAssertEqual(Npy.header(descr: "|u1", shape: [1, 9, 9, 3], paddedFor: [99_999_999, 9, 9, 3]).count,
                       Npy.header(descr: "|u1", shape: [99_999_999, 9, 9, 3]).count)
    }

    func testImageShardHeaderRoundTripAndChecks() throws {
        let header = Npy.header(descr: "|u1", shape: [3, 2, 2, 3])
        let info = try Npy.readHeader(header + [UInt8](repeating: 7, count: 36), path: "s.npy")
        XCTAssertEqual(info, Npy.ArrayInfo(descr: "|u1", fortranOrder: false, shape: [3, 2, 2, 3], dataOffset: 128))
        XCTAssertNoThrow(try Npy.checkImages(info, count: 3, size: 2, fileSize: 128 + 36, path: "s.npy"))
        XCTAssertThrowsError(try Npy.checkImages(info, count: 3, size: 2, fileSize: 128 + 35, path: "s.npy")) {
            assertNames($0, path: "s.npy", ["size 163 bytes", "expected 164", "truncated or padded"])
        }
        XCTAssertThrowsError(try Npy.checkImages(info, count: 4, size: 2, fileSize: 128 + 36, path: "s.npy")) {
            assertNames($0, path: "s.npy", ["holds |u1 [3, 2, 2, 3]", "index.json says |u1 [4, 2, 2, 3]"])
        }
        let floats = try Npy.readHeader(Npy.header(descr: "<f4", shape: [3, 2, 2, 3]), path: "s.npy")
        XCTAssertThrowsError(try Npy.checkImages(floats, count: 3, size: 2, fileSize: 128 + 144, path: "s.npy")) {
            assertNames($0, path: "s.npy", ["holds <f4"])
        }
    }

    func testLatentHeaderInBothVersions() throws {
        let latents: [[Float]] = [[1, 2, 3], [4, 5, 6]]
        for version: UInt8 in [1, 2] {
            let bytes = LatentStreamTests.npy(latents, version: version)
            let info = try Npy.readHeader(bytes, path: "z.npy")
            XCTAssertEqual(info.descr, "<f4")
            XCTAssertEqual(info.shape, [2, 3])
            XCTAssertEqual(info.dataOffset, bytes.count - 24, "version \(version)")
            let (rows, columns) = try Npy.checkLatents(info, path: "z.npy")
            XCTAssertEqual(rows, 2)
            XCTAssertEqual(columns, 3)
        }
        // Through a stream, exactly the header's bytes are consumed, so the stream is left at the data.
        let bytes = LatentStreamTests.npy(latents, version: 2)
        var consumed = 0
        let info = try Npy.readHeader(path: "<stdin>") { count in
            defer { consumed += count }
            return consumed + count <= bytes.count ? Array(bytes[consumed..<(consumed + count)]) : nil
        }
        XCTAssertEqual(consumed, info.dataOffset)
    }

    func testLatentChecksNameWhatIsWrong() throws {
        func refusal(_ bytes: [UInt8], _ words: [String], line: UInt = #line) {
            XCTAssertThrowsError(try Npy.checkLatents(try Npy.readHeader(bytes, path: "z.npy"), path: "z.npy"), line: line) {
                assertNames($0, path: "z.npy", words, line: line)
            }
        }
        let latents: [[Float]] = [[1, 2, 3]]
        refusal(LatentStreamTests.npy(latents, descr: "|u1"), ["dtype '|u1'", "float32"])
        refusal(LatentStreamTests.npy(latents, fortran: true), ["Fortran"])
        refusal(LatentStreamTests.npy(latents, shape: "(3,)"), ["(3,)", "1 dimension", "(N, Z)"])
        refusal(LatentStreamTests.npy(latents, shape: "(1, 1, 3)"), ["(1, 1, 3)", "3 dimensions"])
        refusal(LatentStreamTests.npy([], shape: "(4, 0)"), ["(4, 0)", "not usable"])
        let shard = Npy.header(descr: "|u1", shape: [1, 2, 2, 3]) + [UInt8](repeating: 0, count: 12)
        refusal(shard, ["'|u1'"])
    }

    func testHeaderRefusalsNameTheFileAndTheField() {
        let good = LatentStreamTests.npy([[1, 2, 3]])
        assertRefused(Array("not a numpy file at all".utf8), path: "a.npy", mentioning: ["not a .npy file"])
        assertRefused(Array(good.prefix(5)), mentioning: ["truncated .npy header"])
        assertRefused(Array(good.prefix(60)), mentioning: ["truncated .npy header"])
        var version = good
        version[6] = 3
        assertRefused(version, mentioning: ["version 3.0", "not supported"])
        var long = LatentStreamTests.npy([[1, 2, 3]], version: 2)
        long[10] = 0x10  // header length over 1 MiB
        assertRefused(long, mentioning: ["too long"])
        func withHeader(_ dictionary: String) -> [UInt8] {
            let text = Array((dictionary + "\n").utf8)
            return Npy.magic + [1, 0, UInt8(text.count & 0xFF), UInt8(text.count >> 8)] + text
        }
        assertRefused(withHeader("{'fortran_order': False, 'shape': (1, 3), }"), mentioning: ["'descr'"])
        assertRefused(withHeader("{'descr': '<f4', 'shape': (1, 3), }"), mentioning: ["'fortran_order'"])
        assertRefused(withHeader("{'descr': '<f4', 'fortran_order': 0, 'shape': (1, 3), }"), mentioning: ["'fortran_order'", "True or False"])
        assertRefused(withHeader("{'descr': '<f4', 'fortran_order': False, }"), mentioning: ["'shape'"])
        assertRefused(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (1, x), }"), mentioning: ["shape", "(1, x)", "not readable"])
        assertRefused(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (1, -3), }"), mentioning: ["not readable"])
        assertRefused(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (1048576, 1048576, 1048576), }"),
                      mentioning: ["too many elements"])
        assertRefused(Npy.magic + [1, 0, 2, 0, 0xFF, 0xFE], mentioning: ["not UTF-8"])
        // Keys in double quotes are read too.
        XCTAssertEqual(try Npy.readHeader(withHeader("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 3), }"),
                                          path: "x.npy").shape, [2, 3])
    }
}
