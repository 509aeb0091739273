import Foundation
import TestSupport
import XCTest

/// Every input `make fuzz` kept (Tests/Fixtures/fuzz-regressions/<target>/: inputs that once crashed a
/// parser, hung it or exhausted its memory) goes again through the entry point of its target
/// (FuzzEntryPoints), so a fixed crash stays fixed. Errors are the expected outcome; a crash fails the
/// whole test run.
final class FuzzRegressionTests: XCTestCase {
    static let fixtures = QualityReferenceTests.repository.appendingPathComponent("Tests/Fixtures/fuzz-regressions")

    func testEveryKeptInputIsHandled() throws {
        let manager = FileManager.default
        var replayed = 0
        for target in (try? manager.contentsOfDirectory(atPath: Self.fixtures.path)) ?? [] where !target.hasPrefix(".") {
            let entry = try XCTUnwrap(FuzzEntryPoints.targets[target], "Tests/Fixtures/fuzz-regressions/\(target): no such fuzz target")
            let directory = Self.fixtures.appendingPathComponent(target)
            for name in try manager.contentsOfDirectory(atPath: directory.path).sorted() where !name.hasPrefix(".") {
                entry(try [UInt8](Data(contentsOf: directory.appendingPathComponent(name))))
                replayed += 1
            }
        }
        print("fuzz regressions: \(replayed) inputs replayed")
    }

    /// The entry points themselves on trivial inputs (so they keep working where nothing is kept yet).
    func testEntryPointsTakeAnyBytes() {
        for (_, entry) in FuzzEntryPoints.targets.sorted(by: { $0.key < $1.key }) {
            for bytes: [UInt8] in [[], [0], Array("\u{93}NUMPY".utf8), [0xFF, 0xD8, 0xFF], [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A],
                                   Array("{\"format\": 1}\n\t1 2 3\n".utf8)] {
                entry(bytes)
            }
        }
    }
}
