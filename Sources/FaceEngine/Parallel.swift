import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// The engine's worker threads: element-wise loops split their range into one chunk per thread.
/// The thread count is the only global mutable state of the engine (set once from `--threads`).
public enum Parallel {
    nonisolated(unsafe) private static var configuredThreads = System.coreCount

    public static var threadCount: Int { configuredThreads }

    /// Sets the thread count of our loops. BLAS stays single-threaded: the backends call it from each
    /// of these workers on their own share of the work (see `BLASBackend`).
    public static func setThreadCount(_ count: Int) {
        configuredThreads = max(1, count)
    }

    /// Calls `body(range)` on disjoint ranges covering 0..<count, in parallel when worthwhile.
    /// `grain` is the smallest range worth a thread.
    @inline(__always)
    public static func forRanges(_ count: Int, grain: Int = 4096, _ body: (Range<Int>) -> Void) {
        let chunks = min(configuredThreads, max(1, count / max(grain, 1)))
        if chunks <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let start = count * chunk / chunks
            let end = count * (chunk + 1) / chunks
            if start < end { body(start..<end) }
        }
    }

    /// Calls `body(i)` for every i in 0..<count, spreading the indices over the threads.
    @inline(__always)
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        forRanges(count, grain: 1) { range in
            for index in range { body(index) }
        }
    }
}

public enum System {
    public static var coreCount: Int {
        let online = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return online > 0 ? online : 1
    }
}
