import FaceWGAN
import Foundation

/// Progress on stderr (DESIGN.md), the one renderer every tool uses: when stderr is a terminal, a
/// status line redrawn in place ("\r", clear to the end of the line) with a bar, count, rate and ETA,
/// at most every 0.2 s and at the last item; otherwise one plain line every `interval` seconds; nothing
/// with --quiet. Durations are written by `DurationText.format`, as in the run report.
///
/// Calls must come from one thread at a time (the preprocess writer thread, then the main thread).
public final class ProgressReporter: @unchecked Sendable {
    private let label: String
    private let unit: String
    private let quiet: Bool
    private let isTerminal: Bool
    private let output: (String) -> Void
    private let interval: TimeInterval
    /// The count when the reporter started (a resumed run's step): the rate counts only what came after.
    private let initial: Int
    private let start = Date()
    private var lastReport = Date.distantPast
    private var drewLine = false

    public init(label: String, unit: String, quiet: Bool, interval: TimeInterval = 5, startingAt initial: Int = 0,
                isTerminal: Bool = isatty(STDERR_FILENO) != 0,
                output: @escaping (String) -> Void = { writeToStandardError($0) }) {
        self.label = label
        self.unit = unit
        self.quiet = quiet
        self.interval = interval
        self.initial = initial
        self.isTerminal = isTerminal
        self.output = output
    }

    public var elapsed: TimeInterval { Date().timeIntervalSince(start) }

    /// Reports `done` of `total` items (nil: unknown).
    public func update(done: Int, total: Int?) { update(done: done, total: total, detail: nil) }

    /// Reports `done` of `total` items (nil: unknown), with `detail` appended to the line.
    public func update(done: Int, total: Int?, detail: String?) {
        guard !quiet else { return }
        let now = Date()
        let last = isTerminal && total == done
        guard last || now.timeIntervalSince(lastReport) >= (isTerminal ? 0.2 : interval) else { return }
        lastReport = now
        let rate = Double(done - initial) / max(now.timeIntervalSince(start), 1e-9)
        let text = Self.line(label: label, unit: unit, done: done, total: total, rate: rate, detail: detail, bar: isTerminal)
        if isTerminal {
            output("\r\u{1B}[K" + text)
            drewLine = true
        } else {
            output(text + "\n")
        }
    }

    /// A message line (a skipped input, a warning) that leaves the status line intact: a drawn line is
    /// cleared first and redrawn by the next update. Printed even with --quiet: the caller decides.
    public func message(_ text: String) {
        output((drewLine ? "\r\u{1B}[K" : "") + text + "\n")
        drewLine = false
        lastReport = .distantPast
    }

    /// Ends the progress: with a `message`, it replaces a drawn line; without one, a drawn line stays
    /// on screen and the cursor moves below it.
    public func finish(_ message: String? = nil) {
        guard !quiet else { return }
        if let message {
            self.message(message)
        } else if drewLine {
            output("\n")
            drewLine = false
        }
    }

    /// "label: [####......]  40.0% 4/10 unit, 2.0 unit/s, ETA 3.0 s, detail" (the bar only when asked
    /// for and the total is known; the ETA only while something remains).
    public static func line(label: String, unit: String, done: Int, total: Int?, rate: Double, detail: String? = nil,
                            bar: Bool) -> String {
        var text = "\(label): "
        if bar, let total, total > 0 {
            let width = 24, filled = max(0, min(width, width * done / total))
            text += "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            text += String(format: "%5.1f%% ", 100 * Double(done) / Double(total))
        }
        text += "\(done)"
        if let total { text += "/\(total)" }
        text += " \(unit), \(String(format: "%.1f", rate)) \(unit)/s"
        if let total, rate > 0, done < total {
            text += ", ETA \(DurationText.format(Double(total - done) / rate))"
        }
        if let detail { text += ", " + detail }
        return text
    }
}
