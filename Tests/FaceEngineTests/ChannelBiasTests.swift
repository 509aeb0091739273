@testable import FaceEngine
import TestSupport
import XCTest

/// The conv layers' per-channel bias in NHWC against NCHW on the same data, and the NHWC per-channel
/// sums' independence from the thread count.
final class ChannelBiasTests: XCTestCase {
    func testChannelsLastMatchesChannelsFirst() {
        defer { Parallel.setThreadCount(System.coreCount) }
        var random = RandomGenerator(seed: 41)
        for (channels, plane, batch) in LayoutComparison.shapes {
            for threads in [1, 2] {
                Parallel.setThreadCount(threads)
                let label = "C \(channels) P \(plane) N \(batch) threads \(threads)"
                let count = batch * channels * plane
                let bias = GradientCheck.randomArray(channels, random: &random)
                let values = GradientCheck.randomArray(count, random: &random)
                let outputGradient = GradientCheck.randomArray(count, random: &random)
                // Accumulation onto values already there.
                let start = GradientCheck.randomArray(channels, random: &random)
                func run(_ layout: ActivationLayout) -> (output: [Float], gradient: [Float]) {
                    var output = LayoutComparison.converted(values, to: layout, batch: batch, channels: channels, plane: plane)
                    let dy = LayoutComparison.converted(outputGradient, to: layout, batch: batch, channels: channels, plane: plane)
                    var gradient = start
                    output.withUnsafeMutableBufferPointer { output in
                        ChannelBias.add(bias, to: output.baseAddress!, batch: batch, channels: channels, plane: plane, layout: layout)
                    }
                    gradient.withUnsafeMutableBufferPointer { gradient in
                        ChannelBias.accumulateGradient(dy, into: gradient.baseAddress!, batch: batch, channels: channels,
                                                       plane: plane, layout: layout)
                    }
                    return (LayoutComparison.channelsFirst(output, from: layout, batch: batch, channels: channels, plane: plane),
                            gradient)
                }
                let first = run(.channelsFirst), last = run(.channelsLast)
                // The same single addition per value.
                XCTAssertEqual(last.output, first.output, "\(label) add")
                LayoutComparison.assertClose(last.gradient, first.gradient, "\(label) gradient")
                // Against the definition, in Double.
                for c in 0..<channels {
                    var sum = Double(start[c])
                    for n in 0..<batch { for p in 0..<plane { sum += Double(outputGradient[(n * channels + c) * plane + p]) } }
                    XCTAssertEqual(Double(last.gradient[c]), sum, accuracy: 1e-5 * max(1, abs(sum)), "\(label) gradient[\(c)]")
                }
            }
        }
    }

    /// The NHWC sums run over fixed pieces of rows added in order, not one piece per worker: the same
    /// bits at any thread count, over several pieces (64 channels: 256 rows a piece, 5 pieces here).
    func testChannelsLastSumsDoNotDependOnTheThreadCount() {
        defer { Parallel.setThreadCount(System.coreCount) }
        var random = RandomGenerator(seed: 42)
        let channels = 64, plane = 200, batch = 6
        let outputGradient = GradientCheck.randomArray(batch * channels * plane, random: &random)
        XCTAssertGreaterThan(batch * plane, 4 * ChannelsLastRows.pieceRows(channels: channels))
        var results: [[Float]] = []
        for threads in [1, 2, 3] {
            Parallel.setThreadCount(threads)
            var gradient = [Float](repeating: 0, count: channels)
            gradient.withUnsafeMutableBufferPointer { gradient in
                ChannelBias.accumulateGradient(outputGradient, into: gradient.baseAddress!, batch: batch, channels: channels,
                                               plane: plane, layout: .channelsLast)
            }
            results.append(gradient)
        }
        XCTAssertEqual(results[1], results[0])
        XCTAssertEqual(results[2], results[0])
    }
}
