import FaceEngine
import XCTest

/// What a backend says about itself, and a kernel that cannot run: a thrown `BackendError`, not a crash.
final class BackendTests: XCTestCase {
    /// oneDNN, or a skip where the library cannot start (these tests are about its failures).
    func oneDNN() throws -> OneDNNBackend {
        do { return try OneDNNBackend() } catch { throw XCTSkip("oneDNN is not usable here: \(error)") }
    }

    func testBackendsDescribeThemselvesThroughProperties() throws {
        let blas: ComputeBackend = BLASBackend()
        XCTAssertEqual(blas.kind, .blas)
        XCTAssertEqual(blas.name, "blas")
        XCTAssertNil(blas.instructionSet)
        XCTAssertEqual(blas.implementations, [])

        let onednn: ComputeBackend = try oneDNN()
        XCTAssertEqual(onednn.kind, .onednn)
        XCTAssertEqual(onednn.name, "onednn")
        XCTAssertEqual(onednn.instructionSet, OneDNNBackend.instructionSet)
        XCTAssertEqual(onednn.implementations, [], "no operation created yet")
        var a: [Float] = [1, 2], b: [Float] = [3, 4], c: [Float] = [0]
        try onednn.matmul(transposeA: false, transposeB: false, m: 1, n: 1, k: 2, alpha: 1, a: &a, lda: 2, b: &b, ldb: 1,
                          beta: 0, c: &c, ldc: 1)
        XCTAssertEqual(c, [11])
        XCTAssertEqual(onednn.implementations.count, 1, "\(onednn.implementations)")
    }

    /// A kernel of 8 on a 1x1 input without padding has a negative output size: oneDNN refuses to create
    /// the primitive, before reading any operand.
    func testAnImpossibleConvolutionThrowsBackendError() throws {
        let backend = try oneDNN()
        let geometry = ConvolutionGeometry(inputChannels: 3, outputChannels: 4, inputHeight: 1, inputWidth: 1,
                                           kernelSize: 8, stride: 1, padding: 0)
        var input = [Float](repeating: 0, count: 3), weight = [Float](repeating: 0, count: 4 * 3 * 64)
        var output = [Float](repeating: 0, count: 4)
        XCTAssertThrowsError(try backend.convolutionForward(geometry, batch: 1, input: &input, weight: &weight, output: &output)) {
            XCTAssertTrue($0 is BackendError, "\($0)")
            XCTAssertTrue("\($0)".contains("forward convolution 3x1x1 -> 4x-6x-6, batch 1"), "\($0)")
        }
        XCTAssertThrowsError(try backend.convolutionBackwardWeights(geometry, batch: 1, outputGradient: &output, input: &input,
                                                                    weightGradient: &weight)) {
            XCTAssertTrue($0 is BackendError, "\($0)")
        }
        XCTAssertEqual(backend.implementations, [], "a failed operation is not kept")
    }

    func testAnImpossibleMatmulThrowsBackendError() throws {
        let backend = try oneDNN()
        var a: [Float] = [1], b: [Float] = [1], c: [Float] = [0]
        XCTAssertThrowsError(try backend.matmul(transposeA: false, transposeB: false, m: -1, n: 1, k: 1, alpha: 1, a: &a, lda: 1,
                                                b: &b, ldb: 1, beta: 0, c: &c, ldc: 1)) {
            XCTAssertTrue($0 is BackendError, "\($0)")
        }
        XCTAssertEqual(c, [0])
    }
}
