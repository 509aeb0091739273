@testable import FaceEngine
import XCTest

/// Shared by the tests that run a pass in NHWC against the same pass in NCHW on the same data.
enum LayoutComparison {
    /// Shapes (channels, plane, batch) for those tests: odd sizes, one channel and one position (where
    /// both layouts are the same memory), and sizes large enough that the element-wise loops split over
    /// two threads and the per-channel sums run over several pieces of rows (64 x 256 x 3: pieces of
    /// 256 rows; 512 x 16 x 5: pieces of 64 rows, the last one short).
    static let shapes: [(channels: Int, plane: Int, batch: Int)] = [
        (3, 4, 3), (5, 7, 3), (1, 9, 3), (6, 1, 4), (16, 16, 4), (64, 256, 3), (512, 16, 5),
    ]

    /// `values`, a batch of [channels, plane] items in layout `from`, converted to layout `to`.
    static func converted(_ values: [Float], from: ActivationLayout, to: ActivationLayout, batch: Int, channels: Int,
                          plane: Int) -> [Float] {
        precondition(values.count == batch * channels * plane)
        var result = [Float](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { source in
            result.withUnsafeMutableBufferPointer { destination in
                ActivationLayout.convert(source.baseAddress!, from: from, into: destination.baseAddress!, as: to,
                                         batch: batch, channels: channels, plane: plane)
            }
        }
        return result
    }

    /// `values`, a batch in NCHW, converted to `layout`.
    static func converted(_ values: [Float], to layout: ActivationLayout, batch: Int, channels: Int, plane: Int) -> [Float] {
        converted(values, from: .channelsFirst, to: layout, batch: batch, channels: channels, plane: plane)
    }

    /// `values`, a batch in `layout`, converted to NCHW.
    static func channelsFirst(_ values: [Float], from layout: ActivationLayout, batch: Int, channels: Int, plane: Int) -> [Float] {
        converted(values, from: layout, to: .channelsFirst, batch: batch, channels: channels, plane: plane)
    }

    /// The largest difference within `relative` of `scale`, by default the largest magnitude of
    /// `expected`: the two layouts add the same terms in other orders (and the NHWC sums in Double), so
    /// values near zero after a cancellation differ by the rounding of the terms, not of themselves.
    /// When the whole array is such a cancelled sum, `scale` is its terms' magnitude. One assertion per array.
    static func assertClose(_ actual: [Float], _ expected: [Float], relative: Double = 1e-6, scale: Double? = nil,
                            _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        assertClose(actual.map(Double.init), expected.map(Double.init), relative: relative, scale: scale, label,
                    file: file, line: line)
    }

    static func assertClose(_ actual: [Double], _ expected: [Double], relative: Double = 1e-6, scale: Double? = nil,
                            _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, "\(label): count", file: file, line: line)
        let scale = scale ?? expected.reduce(0.0) { max($0, abs($1)) }
        var worst = 0.0, worstIndex = 0
        for index in 0..<min(actual.count, expected.count) {
            let difference = abs(actual[index] - expected[index])
            // NaN compares false against everything: make it the worst.
            if !(difference <= worst) { worst = difference.isNaN ? .infinity : difference; worstIndex = index }
        }
        XCTAssertLessThanOrEqual(worst, relative * max(scale, 1e-30),
                                 "\(label): |difference| \(worst) at \(worstIndex) against a largest magnitude of \(scale)",
                                 file: file, line: line)
    }
}
