extension Dictionary where Key == String, Value == String {
    /// The integer stored as text under `key` in a file's string metadata (a safetensors
    /// `__metadata__` map: checkpoints, probe inputs). Blanks around the number are allowed.
    /// Throws a FormatError naming `path` and the key when the key is missing or not an integer.
    public func integer(_ key: String, path: String) throws -> Int {
        guard let text = self[key] else { throw FormatError(path: path, message: "metadata '\(key)' is missing") }
        guard let value = Int(text.trimmingBlanks()) else {
            throw FormatError(path: path, message: "metadata '\(key)' = '\(text)' is not an integer")
        }
        return value
    }
}

extension Dictionary where Key == String, Value == String {
    /// `integer(key, path:)` that must also lie in `range` (a step, an offset into the data):
    /// a value outside it is a FormatError naming the key, the value and the range.
    public func integer(_ key: String, path: String, in range: ClosedRange<Int>) throws -> Int {
        let value = try integer(key, path: path)
        guard range.contains(value) else {
            let bounds = range.upperBound == Int.max ? "at least \(range.lowerBound)" : "in \(range.lowerBound)...\(range.upperBound)"
            throw FormatError(path: path, message: "metadata '\(key)' = '\(self[key]!)' must be \(bounds)")
        }
        return value
    }

    /// The unsigned 64-bit integer (a seed) stored under `key`, or a FormatError naming the key.
    public func unsigned(_ key: String, path: String) throws -> UInt64 {
        guard let text = self[key] else { throw FormatError(path: path, message: "metadata '\(key)' is missing") }
        guard let value = UInt64(text.trimmingBlanks()) else {
            throw FormatError(path: path, message: "metadata '\(key)' = '\(text)' is not an unsigned integer")
        }
        return value
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    func trimmingBlanks() -> SubSequence {
        var text = self[...]
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return text
    }
}
