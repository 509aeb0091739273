import Foundation

/// How every tool and the run report write a duration (elapsed time, ETA): "42.0 s", "3 min 05 s",
/// "2 h 07 min"; "-" for a negative or non-finite value.
public enum DurationText {
    public static func format(_ seconds: Double) -> String {
        guard seconds.isFinite && seconds >= 0 else { return "-" }
        let whole = Int(seconds.rounded())
        if whole < 60 { return String(format: "%.1f s", seconds) }
        if whole < 3600 { return String(format: "%d min %02d s", whole / 60, whole % 60) }
        return String(format: "%d h %02d min", whole / 3600, whole % 3600 / 60)
    }
}
