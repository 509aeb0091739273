import Foundation
import XCTest
@testable import FaceWGAN

final class SafetensorsTests: XCTestCase {
    /// A file in the reference layout: little-endian header length, header text, data buffer.
    /// `declaredLength` overrides the length field to build truncated or hostile files.
    private func file(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
        let headerBytes = Array(header.utf8)
        let length = declaredLength ?? UInt64(headerBytes.count)
        return withUnsafeBytes(of: length.littleEndian) { Array($0) } + headerBytes + data
    }

    private func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        values.flatMap { value in withUnsafeBytes(of: value.littleEndian) { Array($0) } }
    }

    private func decodeError(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> FormatError? {
        do {
            _ = try Safetensors.decode(bytes, path: "probe.safetensors")
            XCTFail("expected a FormatError", file: file, line: line)
        } catch let error as FormatError {
            XCTAssertEqual(error.path, "probe.safetensors", file: file, line: line)
            return error
        } catch {
            XCTFail("expected a FormatError, got \(error)", file: file, line: line)
        }
        return nil
    }

    /// Decoding must fail with a message containing every one of `words`.
    private func assertRefused(_ bytes: [UInt8], mentioning words: [String], file: StaticString = #filePath, line: UInt = #line) {
        guard let error = decodeError(bytes, file: file, line: line) else { return }
        for word in words {
            XCTAssertTrue(error.message.contains(word), "'\(error.message)' does not mention '\(word)'", file: file, line: line)
        }
    }

    /// One tensor entry of a header with the given JSON fragments.
    private func header(name: String = "w", dtype: String = "\"F32\"", shape: String = "[2]", offsets: String = "[0, 8]") -> String {
        #"{"\#(name)": {"dtype": \#(dtype), "shape": \#(shape), "data_offsets": \#(offsets)}}"#
    }

    private func assertBitIdentical(_ actual: [Float], _ expected: [Float], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.map(\.bitPattern), expected.map(\.bitPattern), file: file, line: line)
    }

    private let sample = Safetensors(
        metadata: [
            "format": "facewgan-checkpoint",
            "step": "1200",
            "odd \"text\"": "back\\slash, new\nline, tab\t, control \u{01}, é, 😀",
        ],
        tensors: [
            "critic.fc.weight": SafetensorsTensor(shape: [2, 3], values: [1, -2, 3.5, 0, -0.0, .leastNonzeroMagnitude]),
            "generator.bias": SafetensorsTensor(shape: [5], values: [.nan, .infinity, -.infinity, .greatestFiniteMagnitude, .leastNormalMagnitude]),
            "loss.critic": SafetensorsTensor(shape: [], values: [0.25]),
            "empty": SafetensorsTensor(shape: [0, 4], values: []),
            "Ünïcode \"name\"": SafetensorsTensor(shape: [1, 1, 1], values: [42]),
        ])

    // MARK: Writing and reading back

    func testRoundTripKeepsMetadataShapesAndBitExactValues() throws {
        let bytes = sample.encoded()
        let decoded = try Safetensors.decode(bytes, path: "<memory>")
        XCTAssertEqual(decoded.metadata, sample.metadata)
        XCTAssertEqual(Set(decoded.tensors.keys), Set(sample.tensors.keys))
        for (name, tensor) in sample.tensors {
            XCTAssertEqual(decoded.tensors[name]?.shape, tensor.shape, name)
            XCTAssertEqual(decoded.tensors[name]?.sourceDType, "F32", name)
            assertBitIdentical(decoded.tensors[name]?.values ?? [], tensor.values)
        }
        XCTAssertEqual(decoded.encoded(), bytes, "re-encoding must give the same bytes")
    }

    func testEncodedLayoutAlignsDataAndSortsTensorsContiguously() throws {
        let bytes = sample.encoded()
        let headerLength = Int(bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        XCTAssertEqual((8 + headerLength) % 8, 0, "the data buffer starts 8-byte aligned")
        let header = try XCTUnwrap(String(bytes: bytes[8..<(8 + headerLength)], encoding: .utf8))
        XCTAssertTrue(header.hasPrefix(#"{"__metadata__":{"#), header)
        XCTAssertTrue(header.hasSuffix("}") || header.hasSuffix(" "))

        // Byte-order sorted names, each starting where the one before ends.
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(header.utf8)) as? [String: Any])
        let expectedOrder = ["critic.fc.weight", "empty", "generator.bias", "loss.critic", "Ünïcode \"name\""]
        var expectedBegin = 0
        for name in expectedOrder {
            let entry = try XCTUnwrap(json[name] as? [String: Any], name)
            let offsets = try XCTUnwrap(entry["data_offsets"] as? [Int], name)
            XCTAssertEqual(offsets.first, expectedBegin, name)
            XCTAssertEqual(entry["dtype"] as? String, "F32")
            expectedBegin = offsets[1]
        }
        XCTAssertEqual(8 + headerLength + expectedBegin, bytes.count, "no bytes after the last tensor")
        let positions = expectedOrder.map { header.range(of: "\"\($0.replacingOccurrences(of: "\"", with: "\\\""))\":")!.lowerBound }
        XCTAssertEqual(positions, positions.sorted(), "entries appear in the header in name order")
    }

    /// The exact bytes for a small file, as the reference writer lays them out.
    func testEncodedBytesOfSmallFile() {
        let small = Safetensors(metadata: ["format": "pt"], tensors: [
            "b": SafetensorsTensor(shape: [], values: [2]),
            "a": SafetensorsTensor(shape: [2], values: [1, -1]),
        ])
        let header = #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[],"data_offsets":[8,12]}}"#
        let padding = String(repeating: " ", count: (8 - header.utf8.count % 8) % 8)
        let data = littleEndianBytes([Float(1).bitPattern, Float(-1).bitPattern, Float(2).bitPattern])
        XCTAssertEqual(small.encoded(), file(header: header + padding, data: data))
    }

    /// The bytes the reference implementation (safetensors 0.8.0, Python, numpy float32 arrays) writes
    /// for this file: we read them and write them back identically.
    func testReencodesReferenceWriterOutputByteForByte() throws {
        let header = #"{"__metadata__":{"format":"pt"},"a.first":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"m.empty":{"dtype":"F32","shape":[0,4],"data_offsets":[4,4]},"z.last":{"dtype":"F32","shape":[2,3],"data_offsets":[4,28]}}    "#
        let reference = file(header: header, data: littleEndianBytes([0.5, 0, 1, 2, 3, 4, 5].map { Float($0).bitPattern }))
        XCTAssertEqual(reference.count, 8 + 0xD8 + 28)
        let decoded = try Safetensors.decode(reference, path: "<memory>")
        XCTAssertEqual(decoded, Safetensors(metadata: ["format": "pt"], tensors: [
            "a.first": SafetensorsTensor(shape: [], values: [0.5]),
            "m.empty": SafetensorsTensor(shape: [0, 4], values: []),
            "z.last": SafetensorsTensor(shape: [2, 3], values: [0, 1, 2, 3, 4, 5]),
        ]))
        XCTAssertEqual(decoded.encoded(), reference)
    }

    func testEmptyFileHasNoMetadataKeyAndDecodes() throws {
        XCTAssertEqual(Safetensors().encoded(), file(header: "{}      "))
        XCTAssertEqual(try Safetensors.decode(Safetensors().encoded(), path: "<memory>"), Safetensors())
        XCTAssertEqual(try Safetensors.decode(file(header: #"{"__metadata__": {}}"#), path: "<memory>"), Safetensors())
    }

    func testWriteAndReadThroughFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("SafetensorsTests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/checkpoint.safetensors"
        let small = Safetensors(metadata: ["step": "3"], tensors: ["x": SafetensorsTensor(shape: [3], values: [1, 2, 3])])
        try small.write(path: path)
        XCTAssertEqual(try Safetensors.read(path: path), small)

        // A checkpoint cut short names the file and says what no longer fits.
        let bytes = small.encoded()
        try AtomicFile.write(Array(bytes.dropLast(4)), to: path)
        XCTAssertThrowsError(try Safetensors.read(path: path)) { error in
            XCTAssertEqual((error as? FormatError)?.path, path)
            XCTAssertTrue("\(error)".contains("tensor 'x'") && "\(error)".contains("beyond the data buffer"), "\(error)")
        }

        let missing = directory + "/missing.safetensors"
        XCTAssertThrowsError(try Safetensors.read(path: missing)) { error in
            XCTAssertEqual(error as? FormatError, FormatError(path: missing, message: "cannot open: No such file or directory"))
        }
    }

    // MARK: Reading files written by others

    /// A file written by hand in the reference layout, entries out of order, with every dtype we convert.
    func testDecodesHandWrittenFileWithF64F16BF16AndF32() throws {
        let f64 = littleEndianBytes([0.1, -3.0, 1e-50, 1e300].map(\.bitPattern))                  // 32 bytes
        let f16 = littleEndianBytes([0x3C00, 0xC100, 0x7BFF, 0x0001, 0xFC00, 0x8000] as [UInt16])  // 12 bytes
        let bf16 = littleEndianBytes([0x3F80, 0xBF00, 0x4049, 0x0001] as [UInt16])                // 8 bytes
        let f32 = littleEndianBytes([Float(7.5).bitPattern])                                        // 4 bytes
        let header = """
            {"half":{"dtype":"F16","shape":[2,3],"data_offsets":[32,44]},
             "__metadata__":{"format":"pt","note":"written by hand"},
             "brain":{"dtype":"BF16","shape":[4],"data_offsets":[44,52]},
             "double":{"dtype":"F64","shape":[2,2],"data_offsets":[0,32]},
             "single":{"dtype":"F32","shape":[],"data_offsets":[52,56]},
             "none":{"dtype":"F16","shape":[3,0],"data_offsets":[56,56]}}
            """
        let decoded = try Safetensors.decode(file(header: header, data: f64 + f16 + bf16 + f32), path: "<memory>")

        XCTAssertEqual(decoded.metadata, ["format": "pt", "note": "written by hand"])
        XCTAssertEqual(decoded.tensors["double"]?.shape, [2, 2])
        XCTAssertEqual(decoded.tensors["double"]?.sourceDType, "F64")
        // F64 rounds to the nearest float; too large becomes infinity.
        assertBitIdentical(decoded.tensors["double"]?.values ?? [], [Float(0.1), -3, 0, .infinity])
        XCTAssertEqual(decoded.tensors["half"]?.shape, [2, 3])
        XCTAssertEqual(decoded.tensors["half"]?.sourceDType, "F16")
        // 1, -2.5, largest half, smallest subnormal half 2^-24, -infinity, -0.
        assertBitIdentical(decoded.tensors["half"]?.values ?? [], [1, -2.5, 65504, 0x1p-24, -.infinity, -0.0])
        XCTAssertEqual(decoded.tensors["brain"]?.sourceDType, "BF16")
        // 1, -0.5, 3.140625, and a subnormal float32 bfloat16 keeps.
        assertBitIdentical(decoded.tensors["brain"]?.values ?? [], [1, -0.5, 3.140625, Float(bitPattern: 0x0001_0000)])
        XCTAssertEqual(decoded.tensors["single"], SafetensorsTensor(shape: [], values: [7.5]))
        XCTAssertEqual(decoded.tensors["none"]?.shape, [3, 0])
        XCTAssertEqual(decoded.tensors["none"]?.values, [])
    }

    func testHalfConversionMatchesFloat16ForEveryBitPattern() {
        #if !(os(macOS) && arch(x86_64))
        for bits in UInt16.min...UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            let actual = floatFromHalfBits(bits)
            if expected.isNaN {
                XCTAssertTrue(actual.isNaN, "0x\(String(bits, radix: 16))")
            } else {
                XCTAssertEqual(actual.bitPattern, expected.bitPattern, "0x\(String(bits, radix: 16))")
            }
        }
        #endif
    }

    func testZeroSizeTensorsMaySitAnywhereAndGapsAreAllowed() throws {
        let header = """
            {"a":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},
             "b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
             "c":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]},
             "d":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}
            """
        let data = littleEndianBytes([1, 2, 0xFFFF_FFFF, 3].map { Float($0).bitPattern })
        let decoded = try Safetensors.decode(file(header: header, data: data), path: "<memory>")
        XCTAssertEqual(decoded.tensors["b"]?.values, [1, 2])
        XCTAssertEqual(decoded.tensors["d"]?.values, [3])
        XCTAssertEqual(decoded.tensors["a"]?.values, [])
    }

    // MARK: Refusing malformed files

    func testRefusesBadHeaderLengths() {
        assertRefused([1, 2, 3], mentioning: ["8-byte", "header length", "3 bytes"])
        assertRefused(file(header: "{}", declaredLength: 100), mentioning: ["header length 100", "past the end"])
        // Both far beyond the file; the limit is checked first, before anything is set aside for them.
        assertRefused(file(header: "{}", declaredLength: 1 << 63), mentioning: ["header length 9223372036854775808", "limit"])
        assertRefused(file(header: "{}", declaredLength: UInt64.max), mentioning: ["header length", "limit"])
        assertRefused(file(header: "{}", declaredLength: 200_000_000), mentioning: ["header length 200000000", "limit"])
        assertRefused(file(header: "{}", declaredLength: UInt64(Safetensors.maximumHeaderBytes) + 1), mentioning: ["limit"])
    }

    func testRefusesHeaderThatIsNotUTF8JSONObject() {
        var invalidUTF8 = file(header: "{\"w\":1}")
        invalidUTF8[10] = 0xFF
        assertRefused(invalidUTF8, mentioning: ["header", "UTF-8"])
        assertRefused(file(header: "{not json"), mentioning: ["header", "JSON"])
        assertRefused(file(header: ""), mentioning: ["header", "JSON"])
        assertRefused(file(header: String(repeating: "[", count: 100_000)), mentioning: ["header", "JSON"])
        assertRefused(file(header: "[1, 2]"), mentioning: ["header", "object"])
    }

    func testRefusesBadMetadata() {
        assertRefused(file(header: #"{"__metadata__": ["a"]}"#), mentioning: ["__metadata__"])
        assertRefused(file(header: #"{"__metadata__": {"step": 12}}"#), mentioning: ["__metadata__", "'step'", "string"])
        assertRefused(file(header: #"{"__metadata__": {"ok": "yes", "flag": true}}"#), mentioning: ["__metadata__", "'flag'"])
    }

    func testRefusesBadEntries() {
        assertRefused(file(header: #"{"critic.w": [1, 2]}"#), mentioning: ["tensor 'critic.w'", "not an object"])
        assertRefused(file(header: #"{"w": {"shape": [1], "data_offsets": [0, 4]}}"#), mentioning: ["tensor 'w'", "'dtype'"])
        assertRefused(file(header: #"{"w": {"dtype": "F32", "data_offsets": [0, 4]}}"#), mentioning: ["tensor 'w'", "'shape'"])
        assertRefused(file(header: #"{"w": {"dtype": "F32", "shape": [1]}}"#), mentioning: ["tensor 'w'", "'data_offsets'"])
    }

    func testRefusesUnknownAndUnsupportedDTypes() {
        let data = [UInt8](repeating: 0, count: 8)
        assertRefused(file(header: header(dtype: "\"F33\""), data: data), mentioning: ["tensor 'w'", "unknown dtype 'F33'"])
        assertRefused(file(header: header(dtype: "\"f32\""), data: data), mentioning: ["unknown dtype 'f32'"])
        assertRefused(file(header: header(dtype: "32"), data: data), mentioning: ["tensor 'w'", "dtype"])
        for dtype in ["I64", "U8", "BOOL", "F8_E4M3", "F8_E5M2"] {
            let error = decodeError(file(header: header(dtype: "\"\(dtype)\""), data: data))
            XCTAssertEqual(error?.message, "tensor 'w': unsupported dtype '\(dtype)' (FaceWGAN reads F32, F64, F16, BF16)")
        }
    }

    func testRefusesBadShapes() {
        let data = [UInt8](repeating: 0, count: 8)
        for shape in ["[-2]", "[2.0]", "[1.5]", "[true]", "[\"2\"]", "2", "null", "[18446744073709551615]", "[1e3]"] {
            assertRefused(file(header: header(shape: shape), data: data), mentioning: ["tensor 'w'", "shape"])
        }
        // Element count, then byte count, beyond Int: refused before any multiplication can wrap.
        assertRefused(file(header: header(shape: "[4294967296, 4294967296]"), data: data), mentioning: ["tensor 'w'", "shape", "elements"])
        assertRefused(file(header: header(shape: "[4611686018427387904]"), data: data), mentioning: ["tensor 'w'", "shape", "elements"])
        assertRefused(file(header: header(shape: "[0, 4294967296, 4294967296]"), data: data), mentioning: ["tensor 'w'", "shape"])
    }

    func testRefusesBadDataOffsets() {
        let data = [UInt8](repeating: 0, count: 8)
        for offsets in ["[0]", "[0, 8, 8]", "[-1, 8]", "[0, 8.0]", "[false, 8]", "\"0-8\"", "[0, 18446744073709551615]"] {
            assertRefused(file(header: header(offsets: offsets), data: data), mentioning: ["tensor 'w'", "data_offsets"])
        }
        assertRefused(file(header: header(offsets: "[8, 0]"), data: data), mentioning: ["tensor 'w'", "data_offsets [8, 0]", "begin after"])
        assertRefused(file(header: header(offsets: "[0, 16]"), data: data), mentioning: ["tensor 'w'", "data_offsets [0, 16]", "beyond the data buffer of 8 bytes"])
        assertRefused(file(header: header(offsets: "[9223372036854775800, 9223372036854775807]"), data: data),
                      mentioning: ["tensor 'w'", "beyond the data buffer"])

        let mismatch = decodeError(file(header: header(name: "critic.fc.weight", shape: "[2, 3]", offsets: "[0, 12]"), data: [UInt8](repeating: 0, count: 24)))
        XCTAssertEqual(mismatch?.message, "tensor 'critic.fc.weight': data_offsets [0, 12] hold 12 bytes but shape [2, 3] of F32 needs 24")
        XCTAssertEqual(mismatch?.description, "probe.safetensors: tensor 'critic.fc.weight': data_offsets [0, 12] hold 12 bytes but shape [2, 3] of F32 needs 24")
    }

    func testRefusesOverlappingTensors() {
        let header = """
            {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
             "b":{"dtype":"F16","shape":[4],"data_offsets":[4,12]}}
            """
        assertRefused(file(header: header, data: [UInt8](repeating: 0, count: 12)), mentioning: ["'a'", "'b'", "overlap", "data_offsets"])
        let sameRange = """
            {"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},
             "b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}
            """
        assertRefused(file(header: sameRange, data: [UInt8](repeating: 0, count: 4)), mentioning: ["overlap"])
    }

    /// Every prefix of a valid file and every single-byte corruption decodes or throws a FormatError:
    /// nothing traps.
    func testTruncatedAndCorruptedFilesNeverCrash() {
        let bytes = Safetensors(metadata: ["k": "v"], tensors: [
            "a": SafetensorsTensor(shape: [2], values: [1, 2]),
            "b": SafetensorsTensor(shape: [1, 1], values: [3]),
        ]).encoded()
        for length in 0..<bytes.count {
            XCTAssertThrowsError(try Safetensors.decode(Array(bytes[..<length]), path: "<memory>"), "prefix of \(length) bytes")
        }
        for position in bytes.indices {
            for replacement: UInt8 in [0x00, 0x22, 0x2C, 0x2D, 0x39, 0x5B, 0x7B, 0x7D, 0xFF] {
                var corrupted = bytes
                corrupted[position] = replacement
                do {
                    _ = try Safetensors.decode(corrupted, path: "<memory>")
                } catch {
                    XCTAssertTrue(error is FormatError, "byte \(position) = \(replacement): \(error)")
                }
            }
        }
    }
}
