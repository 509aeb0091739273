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

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    func trimmingBlanks() -> SubSequence {
        var text = self[...]
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return text
    }
}
