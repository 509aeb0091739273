import Foundation
import XCTest
@testable import FaceWGAN

/// Tests of the latent stream formats: text and float32 .npy in, text out.
final class LatentReaderTests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "facewgan-latents-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func file(_ name: String, _ bytes: [UInt8]) -> String {
        let path = directory + "/" + name
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        return path
    }

    func file(_ name: String, _ text: String) -> String { file(name, Array(text.utf8)) }

    func readAll(_ path: String, dimension: Int) throws -> [[Float]] {
        try LatentReader(path: path, dimension: dimension).readAll().map(\.latent)
    }

    /// A float32 .npy (N, Z) as numpy.save writes it (format 1.0 unless `version` 2).
    static func npy(_ latents: [[Float]], columns: Int? = nil, descr: String = "<f4", fortran: Bool = false,
                    shape: String? = nil, version: UInt8 = 1) -> [UInt8] {
        let z = columns ?? latents.first?.count ?? 0
        let shapeText = shape ?? "(\(latents.count), \(z))"
        var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shapeText), }"
        let prefixLength = version == 1 ? 10 : 12
        while (prefixLength + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
        let length = header.utf8.count
        if version == 1 {
            bytes += [UInt8(length & 0xFF), UInt8(length >> 8)]
        } else {
            bytes += [UInt8(length & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 24)]
        }
        bytes += Array(header.utf8)
        for latent in latents {
            for value in latent { bytes += withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
        }
        return bytes
    }

    /// Reading `path` must fail with a FormatError naming `path` and containing every word.
    func assertRefused(_ path: String, dimension: Int = 3, mentioning words: [String],
                       file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try readAll(path, dimension: dimension)
            XCTFail("expected an error", file: file, line: line)
        } catch let error as FormatError {
            XCTAssertEqual(error.path, path, file: file, line: line)
            for word in words {
                XCTAssertTrue(error.message.contains(word), "'\(error.message)' lacks '\(word)'", file: file, line: line)
            }
        } catch {
            XCTFail("expected a FormatError, got \(error)", file: file, line: line)
        }
    }

    func testTextSkipsCommentsAndBlankLinesAndAcceptsTabsAndCRLF() throws {
        let path = file("a.txt", "# header\n\n1 2 3\n  # indented comment\n4\t5  6\r\n   \n-7e-1 +8 0.5")
        let reader = try LatentReader(path: path, dimension: 3)
        let all = try reader.readAll()
        XCTAssertEqual(reader.format, .text)
        XCTAssertEqual(all.map(\.latent), [[1, 2, 3], [4, 5, 6], [-0.7, 8, 0.5]])
        XCTAssertEqual(all.map(\.position), [3, 5, 7], "positions are 1-based line numbers")
    }

    func testTextRoundTripIsExact() throws {
        var random = SystemRandomNumberGenerator()
        var latents = (0..<50).map { _ in (0..<7).map { _ in Float.random(in: -4...4, using: &random) } }
        latents.append([0, -0, .leastNonzeroMagnitude, -.leastNormalMagnitude, .greatestFiniteMagnitude, 1e-30, 0.1])
        let path = directory + "/round.txt"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: nil))
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        let writer = LatentTextWriter(descriptor: handle.fileDescriptor, name: path)
        for latent in latents { try writer.write(latent) }
        try writer.flush()
        try handle.close()
        let back = try readAll(path, dimension: 7)
        XCTAssertEqual(back.count, latents.count)
        for (a, b) in zip(latents, back) {
            XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "bit-exact, including -0")
        }
    }

    func testNpyMatchesText() throws {
        let latents: [[Float]] = [[1.5, -2, 0.25], [3, 1e-7, -0.125]]
        let text = file("a.txt", latents.map { $0.map(\.description).joined(separator: " ") }.joined(separator: "\n"))
        let version1 = file("a.npy", Self.npy(latents))
        let version2 = file("b.npy", Self.npy(latents, version: 2))
        XCTAssertEqual(try readAll(text, dimension: 3), latents)
        XCTAssertEqual(try readAll(version1, dimension: 3), latents)
        XCTAssertEqual(try readAll(version2, dimension: 3), latents)
        let reader = try LatentReader(path: version1, dimension: 3)
        XCTAssertEqual(reader.format, .npy)
        XCTAssertEqual(try reader.readAll().map(\.position), [1, 2])
    }

    func testWrongNumberCountNamesTheLine() {
        assertRefused(file("a.txt", "1 2 3\n# c\n1 2\n"), mentioning: ["line 3", "2 numbers", "expected 3"])
        assertRefused(file("b.txt", "1 2 3\n1 2 3 4\n"), mentioning: ["line 2", "more than 3"])
    }

    func testNonNumbersNaNAndInfinityNameLineAndField() {
        assertRefused(file("a.txt", "1 2 3\n1 x 3\n"), mentioning: ["line 2", "number 2", "'x'", "not a number"])
        assertRefused(file("b.txt", "1 2 3e\n"), mentioning: ["line 1", "number 3", "'3e'"])
        assertRefused(file("c.txt", "1 2 3\n\n1 nan 3\n"), mentioning: ["line 3", "number 2", "not a finite"])
        assertRefused(file("d.txt", "inf 2 3\n"), mentioning: ["line 1", "number 1", "not a finite"])
        assertRefused(file("e.txt", "1 2 1e50\n"), mentioning: ["line 1", "number 3", "not a finite"])
        assertRefused(file("f.txt", "1,2,3\n"), mentioning: ["line 1", "not a number"])
    }

    func testOverlongLineIsRefusedWithoutReadingItAll() {
        let long = String(repeating: "1", count: (1 << 20) + 10)
        assertRefused(file("long.txt", "1 2 3\n" + long + "\n"), mentioning: ["line 2 is longer than"])
    }

    func testEmptyStreamsAreErrors() {
        assertRefused(file("a.txt", ""), mentioning: ["no latents"])
        assertRefused(file("b.txt", "# only a comment\n\n"), mentioning: ["no latents"])
        assertRefused(file("c.npy", Self.npy([], columns: 3)), mentioning: ["no latents", "0 rows"])
    }

    func testNpyRefusals() {
        let latents: [[Float]] = [[1, 2, 3]]
        assertRefused(file("a.npy", Self.npy(latents, descr: "<f8")), mentioning: ["'<f8'", "float32"])
        assertRefused(file("b.npy", Self.npy(latents, descr: ">f4")), mentioning: ["'>f4'"])
        assertRefused(file("c.npy", Self.npy(latents, fortran: true)), mentioning: ["Fortran"])
        assertRefused(file("d.npy", Self.npy(latents, shape: "(3,)")), mentioning: ["1 dimension", "(N, Z)"])
        assertRefused(file("e.npy", Self.npy(latents, shape: "(1, 1, 3)")), mentioning: ["3 dimensions"])
        assertRefused(file("f.npy", Self.npy(latents)), dimension: 4, mentioning: ["3 numbers", "expected 4"])
        assertRefused(file("g.npy", Array(Self.npy([[1, 2, 3], [4, 5, 6]]).dropLast(2))), mentioning: ["row 2", "truncated"])
        assertRefused(file("h.npy", Self.npy(latents) + [0]), mentioning: ["data after the 1 rows"])
        assertRefused(file("i.npy", Self.npy([[1, .nan, 3]])), mentioning: ["row 1", "column 1", "not a finite"])
        var version4 = Self.npy(latents)
        version4[6] = 4
        assertRefused(file("j.npy", version4), mentioning: ["version 4.0"])
        assertRefused(file("k.npy", Array(Self.npy(latents).prefix(20))), mentioning: ["truncated .npy header"])
    }

    func testMissingFileAndDirectory() {
        assertRefused(directory + "/missing.txt", mentioning: ["cannot open"])
        assertRefused(directory, mentioning: ["directory"])
    }

    /// The first latent of a pipe is available before the writer has finished: sample decodes as
    /// latents arrive, in bounded memory, rather than reading the whole stream first.
    func testReadsAPipeLineByLine() throws {
        var descriptors: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&descriptors), 0)
        let (readEnd, writeEnd) = (descriptors[0], descriptors[1])
        let firstRead = DispatchSemaphore(value: 0)
        final class Flag: @unchecked Sendable { var timedOut = false }
        let flag = Flag()
        let writer = Thread {
            _ = "1 2 3\n".withCString { write(writeEnd, $0, 6) }
            if firstRead.wait(timeout: .now() + 10) == .timedOut { flag.timedOut = true }
            _ = "4 5 6\n".withCString { write(writeEnd, $0, 6) }
            close(writeEnd)
        }
        writer.start()
        let reader = try LatentReader(descriptor: readEnd, name: "<stdin>", dimension: 3, closeWhenDone: true)
        XCTAssertEqual(try reader.next(), [1, 2, 3])
        firstRead.signal()
        XCTAssertEqual(try reader.next(), [4, 5, 6])
        XCTAssertNil(try reader.next())
        XCTAssertFalse(flag.timedOut, "the reader waited for the end of the stream before returning a latent")
    }

    func testStdinNameInErrors() throws {
        var descriptors: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&descriptors), 0)
        _ = "1 2 3\n1 2\n".withCString { write(descriptors[1], $0, 10) }
        close(descriptors[1])
        let reader = try LatentReader(descriptor: descriptors[0], name: "<stdin>", dimension: 3, closeWhenDone: true)
        XCTAssertThrowsError(try reader.readAll()) { error in
            XCTAssertEqual((error as? FormatError)?.description, "<stdin>: line 2: 2 numbers, expected 3 (the generator's z-dim)")
        }
    }

    func testWriterReportsAClosedPipe() throws {
        var descriptors: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&descriptors), 0)
        close(descriptors[0])
        let previous = signal(SIGPIPE, SIG_IGN)
        defer { signal(SIGPIPE, previous); close(descriptors[1]) }
        let writer = LatentTextWriter(descriptor: descriptors[1], name: "<stdout>")
        try writer.write([1, 2, 3])
        XCTAssertThrowsError(try writer.flush()) { XCTAssertTrue($0 is OutputClosedError, "\($0)") }
    }

    func testGaussianLatentsDoNotDependOnHowTheyAreDrawn() {
        var one = GaussianLatents(dimension: 5, seed: 9)
        var other = GaussianLatents(dimension: 5, seed: 9)
        let first = (0..<4).map { _ in one.next() }
        var buffer = [Float](repeating: 0, count: 20)
        buffer.withUnsafeMutableBufferPointer { pointer in
            for index in 0..<4 { other.next(into: pointer.baseAddress! + 5 * index) }
        }
        XCTAssertEqual(first.flatMap { $0 }, buffer)
        XCTAssertNotEqual(first[0], first[1])
        var differentSeed = GaussianLatents(dimension: 5, seed: 10)
        XCTAssertNotEqual(differentSeed.next(), first[0])
    }
}
