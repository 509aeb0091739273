import XCTest
@testable import FaceWGAN
final class ToolVersionTests: XCTestCase { func testVersion() { XCTAssertFalse(FaceWGANInfo.version.isEmpty) } }
