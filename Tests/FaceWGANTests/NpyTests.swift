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
            let bytes = LatentReaderTests.npy(latents, version: version)
            let info = try Npy.readHeader(bytes, path: "z.npy")
            XCTAssertEqual(info.descr, "<f4")
            XCTAssertEqual(info.shape, [2, 3])
            XCTAssertEqual(info.dataOffset, bytes.count - 24, "version \(version)")
            let (rows, columns) = try Npy.checkLatents(info, path: "z.npy")
            XCTAssertEqual(rows, 2)
            XCTAssertEqual(columns, 3)
        }
        // Through a stream, exactly the header's bytes are consumed, so the stream is left at the data.
        let bytes = LatentReaderTests.npy(latents, version: 2)
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
        refusal(LatentReaderTests.npy(latents, descr: "|u1"), ["dtype '|u1'", "float32"])
        refusal(LatentReaderTests.npy(latents, fortran: true), ["Fortran"])
        refusal(LatentReaderTests.npy(latents, shape: "(3,)"), ["(3,)", "1 dimension", "(N, Z)"])
        refusal(LatentReaderTests.npy(latents, shape: "(1, 1, 3)"), ["(1, 1, 3)", "3 dimensions"])
        refusal(LatentReaderTests.npy([], shape: "(4, 0)"), ["(4, 0)", "not usable"])
        let shard = Npy.header(descr: "|u1", shape: [1, 2, 2, 3]) + [UInt8](repeating: 0, count: 12)
        refusal(shard, ["'|u1'"])
    }

    func testHeaderRefusalsNameTheFileAndTheField() {
        let good = LatentReaderTests.npy([[1, 2, 3]])
        assertRefused(Array("not a numpy file at all".utf8), path: "a.npy", mentioning: ["not a .npy file"])
        assertRefused(Array(good.prefix(5)), mentioning: ["truncated .npy header"])
        assertRefused(Array(good.prefix(60)), mentioning: ["truncated .npy header"])
        for (major, minor) in [(4, 0), (0, 0), (1, 1), (2, 1), (3, 1)] as [(UInt8, UInt8)] {
            var version = good
            version[6] = major
            version[7] = minor
            assertRefused(version, mentioning: ["version \(major).\(minor)", "not supported", "1.0, 2.0 and 3.0"])
        }
        var long = LatentReaderTests.npy([[1, 2, 3]], version: 2)
        long[10] = 0x10  // header length over 1 MiB
        assertRefused(long, mentioning: ["too long"])
        long = LatentReaderTests.npy([[1, 2, 3]], version: 2)
        long[8...11] = [0x11, 0x27, 0, 0]  // 10,001: one over numpy.load's max_header_size
        assertRefused(long, mentioning: ["10001 bytes is too long", "more than 10000"])
        let withHeader = Self.withHeader
        assertRefused(withHeader("{'fortran_order': False, 'shape': (1, 3), }"), mentioning: ["'descr'"])
        assertRefused(withHeader("{'descr': '<f4', 'shape': (1, 3), }"), mentioning: ["'fortran_order'"])
        assertRefused(withHeader("{'descr': '<f4', 'fortran_order': 0, 'shape': (1, 3), }"), mentioning: ["'fortran_order'", "True or False"])
        assertRefused(withHeader("{'descr': '<f4', 'fortran_order': False, }"), mentioning: ["'shape'"])
        assertRefused(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (1, x), }"), mentioning: ["'shape' (1, x) at byte 60", "not readable"])
        assertRefused(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (1, -3), }"), mentioning: ["not readable"])
        assertRefused(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (1048576, 1048576, 1048576), }"),
                      mentioning: ["too many elements"])
        assertRefused(Npy.magic + [1, 0, 3, 0, 0xFF, 0xFE, 0x0A], mentioning: ["byte 0xFF at byte 10", "ASCII"])
        // Keys in double quotes are read too.
        XCTAssertEqual(try Npy.readHeader(withHeader("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 3), }"),
                                          path: "x.npy").shape, [2, 3])
    }

    /// A header of `dictionary` + "\n" in format 1.0, unpadded.
    static func withHeader(_ dictionary: String) -> [UInt8] {
        let text = Array((dictionary + "\n").utf8)
        return Npy.magic + [1, 0, UInt8(text.count & 0xFF), UInt8(text.count >> 8)] + text
    }

    /// Issue 15: what numpy refuses, and Python syntax numpy would take but no writer produces, is refused
    /// with the field and the byte (the dict starts at byte 10).
    func testStrictHeaderRefusals() {
        let base = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
        func refused(_ dictionary: String, _ words: [String], line: UInt = #line) {
            assertRefused(Self.withHeader(dictionary), mentioning: words, line: line)
        }
        refused(base + " junk", ["text after the dict at byte 70", "'j'"])
        refused(base + "{}", ["text after the dict", "'{'"])
        refused(base + ",", ["text after the dict", "','"])
        refused(base + " # comment", ["text after the dict", "'#'"])
        refused("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), 'shape': (2, 3), }", ["'shape' twice", "at byte 68"])
        refused("{'descr': '<f4', 'descr': '|u1', 'fortran_order': False, 'shape': (2, 3)}", ["'descr' twice"])
        refused("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}", ["the key 'extra'", "exactly 'descr', 'fortran_order' and 'shape'"])
        refused("{}", ["has no 'descr'"])
        refused("['<f4', False, (2, 3)]", ["not a dict literal", "'['"])
        refused("{'descr': '<f4',\u{0B}'fortran_order': False, 'shape': (2, 3)}", ["at byte 26", "found byte 0x0B"])
        refused(base + "\u{0B}", ["text after the dict", "byte 0x0B"])
        refused("\n" + base, ["not a dict literal", "a line end"])
        refused("{'descr': '<f4', , 'fortran_order': False, 'shape': (2, 3)}", ["expected a quoted key or '}' at byte 27", "','"])
        refused("{'descr' = '<f4', 'fortran_order': False, 'shape': (2, 3)}", ["expected ':' after 'descr' at byte 19", "'='"])
        refused("{'descr' '<f4', 'fortran_order': False, 'shape': (2, 3)}", ["two strings in a row at byte 11"])
        refused("{'descr': '<f4' 'fortran_order': False, 'shape': (2, 3)}", ["two strings in a row"])
        refused("{'descr': '<f4', 'fortran_order': False 'shape': (2, 3)}", ["expected ',' or '}' after the value of 'fortran_order'"])
        refused("{'descr': '\\x3cf4', 'fortran_order': False, 'shape': (2, 3)}", ["backslash", "escapes are not read"])
        refused("{'descr': u'<f4', 'fortran_order': False, 'shape': (2, 3)}", ["'descr' u'<f4'", "not a quoted dtype string"])
        refused("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 3)}", ["'descr'", "structured dtypes are not supported"])
        refused("{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3)}", ["expected ',' or '}' after the value of 'descr' at byte 27", "'f'"])
        refused("{'descr': '<f4\n', 'fortran_order': False, 'shape': (2, 3)}", ["string at byte 20 is not closed on its line"])
        refused("{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2, 3)}", ["'fortran_order' Falsey", "not True or False"])
        refused("{'descr': '<f4', 'fortran_order': (False), 'shape': (2, 3)}", ["'fortran_order' (False)", "not True or False"])
        for (shape, why) in [("(2)", "a 1-tuple is written (N,)"), ("(0x2, 3)", "'x' at byte 62 continues a number"),
                             ("(2, 3.0)", "continues a number"), ("(2L, 3L)", "continues a number"),
                             ("(1_0, 3)", "continues a number"), ("(01, 3)", "leading zero"), ("(+2, 3)", "tuple of non-negative"),
                             ("(2, -3)", "tuple of non-negative"), ("((2, 3))", "tuple of non-negative"),
                             ("[2, 3]", "tuple of non-negative"), ("(2, , 3)", "tuple of non-negative"),
                             ("(,)", "tuple of non-negative"), ("(True, 3)", "tuple of non-negative"), ("(2, 3", "tuple of non-negative")] {
            refused("{'descr': '<f4', 'fortran_order': False, 'shape': \(shape)}", ["'shape' \(shape)", "not readable", why])
        }
        refused("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 1)}", ["'shape' number at byte 61 is too large"])
        // The header must end with its line end (numpy.save's padding ends with one).
        let unended = Array(base.utf8)
        assertRefused(Npy.magic + [1, 0, UInt8(unended.count), 0] + unended, mentioning: ["does not end with a line end"])
        assertRefused(Npy.magic + [1, 0, 0, 0], mentioning: ["does not end with a line end"])
    }

    /// What numpy accepts beyond what numpy.save writes, and read the same.
    func testLenientWhereNumpyIs() throws {
        let variants: [(String, [Int])] = [
            ("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 3)}", [2, 3]),
            ("{'shape': (2, 3,), 'descr': '<f4', 'fortran_order': True}", [2, 3]),
            ("\t {'descr':'<f4','fortran_order':False,'shape':(5,)}", [5]),
            ("{'descr': '<f4',\r\n\t'fortran_order': False,\u{0C}'shape': ( )}\t\u{0C}\r", []),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (00, 3)}", [0, 3]),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (\n2\n,\n3\n)\n,\n}\n\n", [2, 3]),
        ]
        for (dictionary, shape) in variants {
            XCTAssertEqual(try Npy.readHeader(Self.withHeader(dictionary), path: "x.npy").shape, shape, dictionary)
        }
        var three = LatentReaderTests.npy([[1, 2, 3]], version: 2)
        three[6] = 3
        XCTAssertEqual(try Npy.readHeader(three, path: "x.npy").shape, [1, 3])
    }

    /// Issue 15: Tests/Scripts/npy_header_variants.py writes over 100 .npy files with header variants and
    /// loads each with numpy.load; this reader must read exactly the ones numpy reads (with the same
    /// shape), except those the script marks as refused on purpose, which numpy must read and this must not.
    func testNumpyCrossCheck() throws {
        try QualityReferenceTests.requireNumPy()
        let directory = NSTemporaryDirectory() + "facewgan-npy-variants-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let script = QualityReferenceTests.repository.appendingPathComponent("Tests/Scripts/npy_header_variants.py").path
        let run = try QualityReferenceTests.python([script, directory])
        XCTAssertEqual(run.status, 0, run.error)
        struct Variant: Decodable {
            var file: String, name: String, numpy: Bool, shape: [Int]?, error: String?, stricter: String?
        }
        let variants = try run.output.split(separator: "\n").map { try JSONDecoder().decode(Variant.self, from: Data($0.utf8)) }
        XCTAssertGreaterThan(variants.count, 100)
        var counts = (both: 0, neither: 0, stricter: 0)
        for variant in variants {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: variant.file)))
            var ours: Npy.ArrayInfo?, refusal = ""
            do {
                let info = try Npy.readHeader(bytes, path: variant.file)
                if ["<f4", "|u1", "<u1"].contains(info.descr) { ours = info } else { refusal = "dtype \(info.descr)" }
            } catch { refusal = "\(error)" }
            if let reason = variant.stricter {
                XCTAssertTrue(variant.numpy, "\(variant.name): marked as read by numpy, but numpy refused it: \(variant.error ?? "")")
                XCTAssertNil(ours, "\(variant.name): meant to be refused (\(reason)), but read as \(ours?.shape ?? [])")
                counts.stricter += 1
            } else if variant.numpy {
                XCTAssertEqual(ours?.shape, variant.shape, "\(variant.name): numpy reads shape \(variant.shape ?? []), we: \(refusal)")
                counts.both += 1
            } else {
                XCTAssertNil(ours, "\(variant.name): numpy refuses it (\(variant.error ?? "")), we read \(ours?.shape ?? [])")
                counts.neither += 1
            }
        }
        print("npy cross-check: \(variants.count) variants, \(counts.both) read by both, \(counts.neither) refused by both, "
            + "\(counts.stricter) read by numpy and refused here on purpose")
    }
}
