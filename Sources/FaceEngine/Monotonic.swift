#if canImport(Glibc)
import Glibc
#endif

/// Seconds on the monotonic clock, for durations (immune to the wall clock being set).
public enum Monotonic {
    public static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }
}
