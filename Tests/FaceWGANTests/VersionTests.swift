import XCTest
@testable import FaceWGAN
final class VersionTests: XCTestCase { func testVersion() { XCTAssertFalse(FaceWGANInfo.version.isEmpty) } }
