import Foundation
import XCTest
@testable import FaceWGAN

final class AtomicFileTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("AtomicFileTests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(atPath: directory)
    }

    private func entries(of directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }

    private func contents(of path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Runs `body`, which must throw a FormatError, and returns that error.
    private func formatError(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> FormatError? {
        do {
            try body()
            XCTFail("expected a FormatError", file: file, line: line)
        } catch let error as FormatError {
            return error
        } catch {
            XCTFail("expected a FormatError, got \(error)", file: file, line: line)
        }
        return nil
    }

    func testWriteCreatesThenReplacesContentAndLeavesNoTemporaryFile() throws {
        let path = directory + "/weights.bin"
        try AtomicFile.write([1, 2, 3, 4, 5], to: path)
        XCTAssertEqual(try contents(of: path), [1, 2, 3, 4, 5])
        try AtomicFile.write([9, 8], to: path)
        XCTAssertEqual(try contents(of: path), [9, 8])
        try AtomicFile.write([UInt8](), to: path)
        XCTAssertEqual(try contents(of: path), [])
        XCTAssertEqual(try entries(of: directory), ["weights.bin"])
    }

    /// Every uncommitted temporary file is known to `TemporaryFiles` (which a tool ended by a signal
    /// removes), and forgotten once it is renamed into place or removed.
    func testTemporaryFilesAreRecordedUntilCommittedOrAbandoned() throws {
        func recorded(for path: String) -> [String] {
            let name = (path as NSString).lastPathComponent
            return TemporaryFiles.live.filter { ($0 as NSString).lastPathComponent.hasPrefix(".\(name).tmp-") }
        }
        let committed = directory + "/committed.bin"
        let file = try AtomicStreamFile(path: committed)
        XCTAssertEqual(recorded(for: committed).count, 1)
        XCTAssertTrue(FileManager.default.fileExists(atPath: recorded(for: committed)[0]))
        try file.write([1, 2, 3])
        try file.commit()
        XCTAssertEqual(recorded(for: committed), [])

        let abandoned = directory + "/abandoned.bin"
        let dropped = try AtomicStreamFile(path: abandoned)
        XCTAssertEqual(recorded(for: abandoned).count, 1)
        dropped.abandon()
        XCTAssertEqual(recorded(for: abandoned), [])

        let closedFirst = directory + "/closed.bin"
        let closed = try AtomicStreamFile(path: closedFirst)
        try closed.syncAndClose()
        XCTAssertEqual(recorded(for: closedFirst).count, 1, "synced and closed, but not yet in place")
        closed.abandon()
        XCTAssertEqual(recorded(for: closedFirst), [])

        // A rename that fails (onto a non-empty directory) removes and forgets the temporary file too.
        let blocked = directory + "/blocked"
        try FileManager.default.createDirectory(atPath: blocked + "/inside", withIntermediateDirectories: true)
        let failing = try AtomicStreamFile(path: blocked)
        XCTAssertThrowsError(try failing.commit())
        XCTAssertEqual(recorded(for: blocked), [])

        let unreferenced = directory + "/dropped.bin"
        do { _ = try AtomicStreamFile(path: unreferenced) }
        XCTAssertEqual(recorded(for: unreferenced), [], "a file dropped uncommitted is removed and forgotten")
        XCTAssertEqual(try entries(of: directory), ["blocked", "committed.bin"])
    }

    /// The tools' leftover checks read a temporary file's name through `temporaryNameParts`.
    func testTemporaryNamePartsSplitTheNamesItMakes() throws {
        let file = try AtomicStreamFile(path: directory + "/shard-00003.npy")
        let made = try entries(of: directory)
        file.abandon()
        XCTAssertEqual(made.count, 1)
        let parts = try XCTUnwrap(AtomicStreamFile.temporaryNameParts(made[0]))
        XCTAssertEqual(String(parts.target), "shard-00003.npy")
        XCTAssertFalse(parts.suffix.isEmpty)
        XCTAssertTrue(parts.suffix.allSatisfy(\.isHexDigit), "\(parts.suffix)")
        // No target before the marker, no leading dot, no marker: not one of its names.
        for name in [".tmp-x", ".tmp-", "shard.npy.tmp-x", ".shard.npy", "", "."] {
            XCTAssertNil(AtomicStreamFile.temporaryNameParts(name), name)
        }
    }

    func testDataAndTextOverloadsWriteTheSameBytes() throws {
        try AtomicFile.write(Data([0x68, 0xC3, 0xA9]), to: directory + "/data.txt")
        try AtomicFile.write("hé", to: directory + "/text.txt")
        XCTAssertEqual(try contents(of: directory + "/data.txt"), [0x68, 0xC3, 0xA9])
        XCTAssertEqual(try contents(of: directory + "/text.txt"), [0x68, 0xC3, 0xA9])
    }

    func testRelativePathWritesIntoTheCurrentDirectory() throws {
        let previous = FileManager.default.currentDirectoryPath
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(directory))
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
        try AtomicFile.write("relative", to: "plain.txt")
        XCTAssertEqual(try contents(of: directory + "/plain.txt"), Array("relative".utf8))
        XCTAssertEqual(try entries(of: directory), ["plain.txt"])
    }

    func testMissingDirectoryThrowsErrorNamingPathAndReason() throws {
        let path = directory + "/missing/weights.bin"
        let error = formatError { try AtomicFile.write([1], to: path) }
        XCTAssertEqual(error?.path, path)
        XCTAssertTrue(error?.message.contains("No such file or directory") ?? false, "\(String(describing: error))")
        XCTAssertEqual(try entries(of: directory), [])
    }

    func testPathUnderRegularFileThrowsAndLeavesThatFileIntact() throws {
        let regularFile = directory + "/checkpoint.safetensors"
        try AtomicFile.write([7, 7, 7], to: regularFile)
        let error = formatError { try AtomicFile.write([1], to: regularFile + "/inner.bin") }
        XCTAssertTrue(error?.message.contains("Not a directory") ?? false, "\(String(describing: error))")
        XCTAssertEqual(try contents(of: regularFile), [7, 7, 7])
        XCTAssertEqual(try entries(of: directory), ["checkpoint.safetensors"])
    }

    /// The temporary file is created and written, then the rename fails: it must be removed again.
    func testFailedRenameRemovesTemporaryFileAndKeepsOldContent() throws {
        let occupied = directory + "/occupied"
        try FileManager.default.createDirectory(atPath: occupied, withIntermediateDirectories: false)
        try AtomicFile.write([5], to: occupied + "/kept.bin")
        let error = formatError { try AtomicFile.write([1, 2, 3], to: occupied) }
        XCTAssertEqual(error?.path, occupied)
        XCTAssertTrue(error?.message.contains("rename") ?? false, "\(String(describing: error))")
        XCTAssertEqual(try entries(of: directory), ["occupied"])
        XCTAssertEqual(try contents(of: occupied + "/kept.bin"), [5])
    }

    /// A write that fails half way (here: over the file size limit, like a full disk) leaves the old
    /// file as it was and no temporary file.
    func testFailedWriteKeepsOldFileAndRemovesTemporaryFile() throws {
        let path = directory + "/weights.bin"
        try AtomicFile.write([UInt8](repeating: 1, count: 100), to: path)

        var previousLimit = rlimit()
        XCTAssertEqual(getrlimit(Int32(RLIMIT_FSIZE.rawValue), &previousLimit), 0)
        var smallLimit = previousLimit
        smallLimit.rlim_cur = 1000
        let previousHandler = signal(SIGXFSZ, SIG_IGN)  // write then fails with EFBIG instead of killing us
        XCTAssertEqual(setrlimit(Int32(RLIMIT_FSIZE.rawValue), &smallLimit), 0)
        let error = formatError { try AtomicFile.write([UInt8](repeating: 2, count: 5000), to: path) }
        XCTAssertEqual(setrlimit(Int32(RLIMIT_FSIZE.rawValue), &previousLimit), 0)
        signal(SIGXFSZ, previousHandler)

        XCTAssertTrue(error?.message.contains("cannot write") ?? false, "\(String(describing: error))")
        XCTAssertEqual(try contents(of: path), [UInt8](repeating: 1, count: 100))
        XCTAssertEqual(try entries(of: directory), ["weights.bin"])
    }

    func testEmptyPathAndDirectoryPathAreRefused() {
        XCTAssertNotNil(formatError { try AtomicFile.write([1], to: "") })
        XCTAssertEqual(formatError { try AtomicFile.write([1], to: directory + "/") }?.message, "names a directory, not a file")
    }

    func testReadFileBytesReturnsContentAndNamesFileOnError() throws {
        let path = directory + "/bytes.bin"
        let bytes = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }  // more than one read chunk
        try AtomicFile.write(bytes, to: path)
        XCTAssertEqual(try readFileBytes(atPath: path), bytes)

        let missing = directory + "/missing.bin"
        let missingError = formatError { _ = try readFileBytes(atPath: missing) }
        XCTAssertEqual(missingError, FormatError(path: missing, message: "cannot open: No such file or directory"))
        XCTAssertEqual(missingError?.description, "\(missing): cannot open: No such file or directory")

        let directoryError = formatError { _ = try readFileBytes(atPath: directory) }
        XCTAssertEqual(directoryError, FormatError(path: directory, message: "cannot read: Is a directory"))
    }
}
