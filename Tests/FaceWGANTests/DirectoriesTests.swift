import Foundation
import XCTest
@testable import FaceWGAN

final class DirectoriesTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("DirectoriesTests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
    }

    override func tearDownWithError() throws {
        _ = chmod(directory, 0o755)
        try FileManager.default.removeItem(atPath: directory)
    }

    private func isDirectory(_ path: String) -> Bool {
        var flag: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &flag) && flag.boolValue
    }

    func testCreatesIntermediatesAndAcceptsAnExistingDirectory() throws {
        try Directories.create(directory + "/a/b/c")
        XCTAssertTrue(isDirectory(directory + "/a/b/c"))
        try Directories.create(directory + "/a/b/c/")
        try Directories.create(directory + "/a")
    }

    func testAFileInTheWayIsNamed() throws {
        XCTAssertTrue(FileManager.default.createFile(atPath: directory + "/file", contents: Data([1])))
        for path in [directory + "/file", directory + "/file/below"] {
            XCTAssertThrowsError(try Directories.create(path)) {
                XCTAssertEqual("\($0)", "\(directory)/file: exists and is not a directory", path)
            }
        }
    }

    func testPermissionDeniedNamesTheDirectory() throws {
        guard getuid() != 0 else {
            // root creates directories whatever the mode; a missing parent under /proc fails the same way.
            XCTAssertThrowsError(try Directories.create("/proc/facewgan-test/x")) {
                XCTAssertTrue("\($0)".hasPrefix("/proc/facewgan-test: cannot create the directory: "), "\($0)")
            }
            return
        }
        XCTAssertEqual(chmod(directory, 0o555), 0)
        XCTAssertThrowsError(try Directories.create(directory + "/new/x")) {
            XCTAssertEqual("\($0)", "\(directory)/new: cannot create the directory: Permission denied")
        }
    }
}
