import XCTest
@testable import FaceEngine
final class TensorTests: XCTestCase { func testZeroed() { XCTAssertEqual(Tensor(shape: [2, 3]).array, [Float](repeating: 0, count: 6)) } }
