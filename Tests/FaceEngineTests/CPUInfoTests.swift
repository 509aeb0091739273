import FaceEngine
import Foundation
import XCTest

final class CPUInfoTests: XCTestCase {
    /// Fields are matched by their whole name ("model" is not "model name"), values trimmed.
    func testFieldsAreReadByTheirWholeName() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: "/proc/cpuinfo"), "no /proc/cpuinfo here")
        let text = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let expected = text.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces) }
        XCTAssertEqual(CPUInfo.field("model name"), expected)
        XCTAssertEqual(CPUInfo.modelName, expected ?? "unknown CPU")
        XCTAssertNil(CPUInfo.field("no such field"))
        XCTAssertNil(CPUInfo.field("model na"), "a prefix is not a field")
    }
}
