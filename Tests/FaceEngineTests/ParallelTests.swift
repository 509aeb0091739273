@testable import FaceEngine
import Foundation
import XCTest

/// The worker loops: every index is handed out exactly once, whatever the count and thread count.
final class ParallelTests: XCTestCase {
    /// Runs `forRanges` and returns the ranges it handed out (sorted) and how often each index was visited.
    func coverage(_ count: Int, grain: Int) -> (ranges: [Range<Int>], visits: [Int]) {
        let lock = NSLock()
        var ranges: [Range<Int>] = []
        var visits = [Int](repeating: 0, count: count)
        visits.withUnsafeMutableBufferPointer { counters in
            Parallel.forRanges(count, grain: grain) { range in
                lock.lock()
                ranges.append(range)
                // Counted under the lock: overlapping ranges must show as double visits, not as a race.
                for index in range { counters[index] += 1 }
                lock.unlock()
            }
        }
        return (ranges.sorted { $0.lowerBound < $1.lowerBound }, visits)
    }

    func testForRangesCoversEachIndexExactlyOnce() {
        defer { Parallel.setThreadCount(System.coreCount) }
        for threads in 1...4 {
            Parallel.setThreadCount(threads)
            for count in [0, 1, 7, 10_000] {
                // The default grain, and grain 1 so that even 7 indices are split over the threads.
                for grain in [4096, 1] {
                    let label = "threads \(threads) count \(count) grain \(grain)"
                    let (ranges, visits) = coverage(count, grain: grain)
                    XCTAssertEqual(visits, [Int](repeating: 1, count: count), label)
                    XCTAssertFalse(ranges.contains { $0.isEmpty }, "\(label): empty range handed out")
                    XCTAssertEqual(ranges.first?.lowerBound ?? 0, 0, label)
                    XCTAssertEqual(ranges.last?.upperBound ?? 0, count, label)
                    XCTAssert(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound },
                              "\(label): ranges \(ranges) do not tile")
                    XCTAssertLessThanOrEqual(ranges.count, threads, label)
                    if threads == 1 { XCTAssertEqual(ranges.count, count == 0 ? 0 : 1, label) }
                }
            }
        }
    }

    func testForEachVisitsEachIndexOnce() {
        defer { Parallel.setThreadCount(System.coreCount) }
        for threads in 1...4 {
            Parallel.setThreadCount(threads)
            for count in [0, 1, 7, 1000] {
                let lock = NSLock()
                var visits = [Int](repeating: 0, count: count)
                visits.withUnsafeMutableBufferPointer { counters in
                    Parallel.forEach(count) { index in
                        lock.lock()
                        counters[index] += 1
                        lock.unlock()
                    }
                }
                XCTAssertEqual(visits, [Int](repeating: 1, count: count), "threads \(threads) count \(count)")
            }
        }
    }

    func testThreadCountIsAtLeastOne() {
        defer { Parallel.setThreadCount(System.coreCount) }
        Parallel.setThreadCount(0)
        XCTAssertEqual(Parallel.threadCount, 1)
        Parallel.setThreadCount(3)
        XCTAssertEqual(Parallel.threadCount, 3)
        XCTAssertGreaterThanOrEqual(System.coreCount, 1)
    }
}
