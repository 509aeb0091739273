import Foundation

/// Progress on stderr (DESIGN.md): a line redrawn in place with count, rate and ETA when stderr is a
/// terminal, otherwise one line every `interval` seconds; nothing with --quiet.
public final class ProgressReporter {
    private let label: String
    private let unit: String
    private let quiet: Bool
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private let start = Date()
    private var lastReport = Date.distantPast
    private let interval: TimeInterval
    private var drewLine = false

    public init(label: String, unit: String, quiet: Bool, interval: TimeInterval = 5) {
        self.label = label
        self.unit = unit
        self.quiet = quiet
        self.interval = interval
    }

    public var elapsed: TimeInterval { Date().timeIntervalSince(start) }

    public func update(done: Int, total: Int?) {
        guard !quiet else { return }
        let now = Date()
        guard now.timeIntervalSince(lastReport) >= (isTerminal ? 0.2 : interval) else { return }
        lastReport = now
        let seconds = max(now.timeIntervalSince(start), 1e-9)
        let rate = Double(done) / seconds
        var text = "\(label): \(done)"
        if let total { text += "/\(total)" }
        text += " \(unit), \(String(format: "%.1f", rate)) \(unit)/s"
        if let total, rate > 0, done < total {
            text += ", ETA \(Self.duration(Double(total - done) / rate))"
        }
        if isTerminal {
            writeToStandardError("\r\u{1B}[K" + text)
            drewLine = true
        } else {
            writeToStandardError(text + "\n")
        }
    }

    /// The closing message (ends a redrawn line first).
    public func finish(_ message: String) {
        guard !quiet else { return }
        if drewLine { writeToStandardError("\r\u{1B}[K") }
        writeToStandardError(message + "\n")
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        if total < 60 { return "\(total)s" }
        if total < 3600 { return "\(total / 60)m\(String(format: "%02d", total % 60))s" }
        return "\(total / 3600)h\(String(format: "%02d", total / 60 % 60))m"
    }
}
