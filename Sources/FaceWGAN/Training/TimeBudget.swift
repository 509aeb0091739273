import Foundation

/// A wall-clock duration as a user writes it: "90m", "1h30m", "3600s", "1.5h", or plain seconds
/// ("3600"). Units go from hours to seconds, each at most once.
public struct TimeBudget: TrainingSettingValue, CustomStringConvertible {
    public var seconds: Double

    public init(seconds: Double) { self.seconds = seconds }

    public init?(settingText: String) {
        let text = String(settingText.trimmingBlanks()).lowercased()
        if let plain = Double(text) {
            guard plain.isFinite else { return nil }
            seconds = plain
            return
        }
        var total = 0.0, number = "", units = ["h": 3600.0, "m": 60.0, "s": 1.0], order = ["h", "m", "s"]
        for character in text {
            if character.isNumber || character == "." {
                number.append(character)
                continue
            }
            let unit = String(character)
            guard let scale = units[unit], let value = Double(number), let place = order.firstIndex(of: unit) else { return nil }
            total += value * scale
            order.removeFirst(place + 1)
            units[unit] = nil
            number = ""
        }
        guard number.isEmpty, text.last.map({ !$0.isNumber }) ?? false, total.isFinite else { return nil }
        seconds = total
    }

    /// "1h30m", "45m", "1m30.5s": the shortest form `init(settingText:)` reads back to the same seconds.
    public var settingText: String {
        guard seconds.isFinite, seconds > 0 else { return "\(seconds)s" }
        let hours = (seconds / 3600).rounded(.down), minutes = ((seconds - hours * 3600) / 60).rounded(.down)
        let rest = seconds - hours * 3600 - minutes * 60
        var text = ""
        if hours > 0 { text += "\(Int(hours))h" }
        if minutes > 0 { text += "\(Int(minutes))m" }
        if rest > 0 { text += rest == rest.rounded() ? "\(Int(rest))s" : "\(rest)s" }
        return text
    }

    public var description: String { settingText }

    public init?(json: JSONValue) {
        guard case .string(let text) = json else { return nil }
        self.init(settingText: text)
    }

    public var json: JSONValue { .string(settingText) }
}
