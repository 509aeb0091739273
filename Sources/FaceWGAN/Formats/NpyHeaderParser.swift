extension Npy {
    /// Reads a .npy header's dict literal as numpy's format.py does (`ast.literal_eval`, then exactly the
    /// keys 'descr', 'fortran_order', 'shape'), for the subset of Python literal syntax that .npy writers
    /// produce:
    ///
    ///     header := (' ' | '\t')* '{' space* [entry (space* ',' space* entry)* [space* ',']] space* '}' space*
    ///     entry  := string space* ':' space* (string | 'True' | 'False' | tuple)
    ///     tuple  := '(' space* ')' | '(' space* int space* ',' space* ')'
    ///             | '(' space* int (space* ',' space* int)+ [space* ','] space* ')'
    ///     int    := '0'+ | [1-9][0-9]*                         (Python refuses other leading zeros)
    ///     string := "'" chars "'" | '"' chars '"'              (no backslash, no line end inside)
    ///     space  := ' ' | '\t' | '\f' | '\n' | '\r'
    ///
    /// Before the '{' only what `ast.literal_eval` strips is read (Python would also skip blank lines
    /// there, unless the '{' is indented after one). `space` is what Python's tokenizer skips between
    /// tokens inside brackets; it refuses '\v' (and NUL, and non-ASCII such as U+00A0) as "invalid
    /// non-printable character", so this does too. Everything numpy refuses is refused; Python literal
    /// syntax numpy would also take but no writer produces (comments, backslash continuations, escapes
    /// and prefixes in strings, concatenated strings, hex or underscored integers, unary signs, extra
    /// parentheses, Python 2's `1L`, duplicate keys where the last one wins, line ends before the '{') is
    /// refused too, saying what was found and where. The header must also end with '\n', as the
    /// format's specification says (numpy does not check it). Tests/Scripts/npy_header_variants.py
    /// lists both kinds, and NpyTests.testNumpyCrossCheck holds this reader to numpy.load on them.
    struct HeaderParser {
        let bytes: [UInt8]
        let path: String
        /// Offset of `bytes[0]` in the file, for messages.
        let fileOffset: Int
        var position = 0

        static let keys = ["descr", "fortran_order", "shape"]

        init(_ bytes: [UInt8], path: String, fileOffset: Int) {
            self.bytes = bytes
            self.path = path
            self.fileOffset = fileOffset
        }

        func fail(_ message: String) -> FormatError { FormatError(path: path, message: ".npy header " + message) }

        /// "at byte 23" (of the file).
        func place(_ index: Int) -> String { "at byte \(fileOffset + index)" }

        /// What stands at `index`, for messages: "'x'", "byte 0x0B", "the end of the header".
        func found(_ index: Int) -> String {
            guard index < bytes.count else { return "the end of the header" }
            let byte = bytes[index]
            if byte == 0x0A { return "a line end" }
            if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
            return "byte 0x" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
        }

        /// The value starting at `start`, for messages: through its closing bracket when it opens one,
        /// else up to a ',', '}' or line end; at most 40 bytes.
        func excerpt(from start: Int) -> String {
            var end = start, depth = 0
            while end < bytes.count, end - start < 40 {
                let byte = bytes[end]
                if byte == UInt8(ascii: "(") || byte == UInt8(ascii: "[") { depth += 1 }
                if byte == UInt8(ascii: ")") || byte == UInt8(ascii: "]") { depth -= 1 }
                if depth == 0 && (byte == UInt8(ascii: ",") || byte == UInt8(ascii: "}")) || byte == 0x0A { break }
                end += 1
                if depth <= 0 && (byte == UInt8(ascii: ")") || byte == UInt8(ascii: "]")) { break }
            }
            return String(decoding: bytes[start..<end], as: UTF8.self)
        }

        static func isSpace(_ byte: UInt8) -> Bool {
            byte == 0x20 || byte == 0x09 || byte == 0x0C || byte == 0x0A || byte == 0x0D
        }

        /// A byte that would continue a Python name or number (`True1`, `3L`, `0x10`).
        static func continuesToken(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }

        var current: UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func skipSpaces() {
            while let byte = current, Self.isSpace(byte) { position += 1 }
        }

        mutating func parse() throws -> ArrayInfo {
            guard bytes.last == 0x0A else {
                throw fail("does not end with a line end ('\\n'), as numpy.save writes it (truncated?)")
            }
            if let index = bytes.firstIndex(where: { $0 >= 0x80 || $0 == 0 }) {
                throw fail("has \(found(index)) \(place(index)): a header numpy reads is ASCII text")
            }
            while current == 0x20 || current == 0x09 { position += 1 }
            guard current == UInt8(ascii: "{") else {
                throw fail("is not a dict literal: expected '{' \(place(position)), found \(found(position))")
            }
            position += 1
            var descr: String?, fortranOrder: Bool?, shape: [Int]?
            while true {
                skipSpaces()
                if current == UInt8(ascii: "}") { break }
                let keyStart = position
                guard let key = try string() else {
                    throw fail("expected a quoted key or '}' \(place(position)), found \(found(position))")
                }
                guard Self.keys.contains(key) else {
                    throw fail("has the key '\(key)' \(place(keyStart)): numpy's header has exactly 'descr', 'fortran_order' and 'shape'")
                }
                guard (key == "descr" ? descr == nil : key == "shape" ? shape == nil : fortranOrder == nil) else {
                    throw fail("has '\(key)' twice (again \(place(keyStart)))")
                }
                skipSpaces()
                guard current == UInt8(ascii: ":") else {
                    throw fail("expected ':' after '\(key)' \(place(position)), found \(found(position))")
                }
                position += 1
                skipSpaces()
                switch key {
                case "descr": descr = try descrValue()
                case "fortran_order": fortranOrder = try boolValue(key)
                default: shape = try tupleValue(key)
                }
                skipSpaces()
                if current == UInt8(ascii: ",") {
                    position += 1
                    continue
                }
                guard current == UInt8(ascii: "}") else {
                    throw fail("expected ',' or '}' after the value of '\(key)' \(place(position)), found \(found(position))")
                }
                break
            }
            position += 1
            skipSpaces()
            guard position == bytes.count else {
                throw fail("has text after the dict \(place(position)): \(found(position)) (only spaces may follow the '}')")
            }
            guard let descr else { throw fail("has no 'descr'") }
            guard let fortranOrder else { throw fail("has no 'fortran_order'") }
            guard let shape else { throw fail("has no 'shape'") }
            return ArrayInfo(descr: descr, fortranOrder: fortranOrder, shape: shape, dataOffset: 0)
        }

        /// A quoted string at the position (nil when none starts there).
        mutating func string() throws -> String? {
            guard let quote = current, quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"") else { return nil }
            let start = position
            position += 1
            while let byte = current, byte != quote {
                if byte == UInt8(ascii: "\\") {
                    throw fail("string \(place(start)) has a backslash \(place(position)): escapes are not read")
                }
                if byte == 0x0A || byte == 0x0D { break }
                position += 1
            }
            guard current == quote else { throw fail("string \(place(start)) is not closed on its line") }
            position += 1
            var next = position
            while next < bytes.count, Self.isSpace(bytes[next]) { next += 1 }
            if next < bytes.count, bytes[next] == UInt8(ascii: "'") || bytes[next] == UInt8(ascii: "\"") {
                throw fail("has two strings in a row \(place(start)) (Python would join them; numpy never writes that)")
            }
            return String(decoding: bytes[(start + 1)..<(position - 1)], as: UTF8.self)
        }

        mutating func descrValue() throws -> String {
            let start = position
            guard let descr = try string() else {
                throw fail("'descr' \(excerpt(from: start)) \(place(start)) is not a quoted dtype string such as '<f4' "
                    + "(structured dtypes are not supported)")
            }
            return descr
        }

        mutating func boolValue(_ key: String) throws -> Bool {
            let start = position
            for (word, value) in [("True", true), ("False", false)] {
                let end = start + word.utf8.count
                if end <= bytes.count, bytes[start..<end].elementsEqual(word.utf8),
                   end == bytes.count || !Self.continuesToken(bytes[end]) {
                    position = end
                    return value
                }
            }
            throw fail("'\(key)' \(excerpt(from: start)) \(place(start)) is not True or False")
        }

        /// A tuple of non-negative integers, with the element count checked for overflow.
        mutating func tupleValue(_ key: String) throws -> [Int] {
            let start = position
            func unreadable(_ why: String) -> FormatError { self.unreadable(key, start, why) }
            let expected = "expected a tuple of non-negative integers such as (16, 128) or (5,)"
            guard current == UInt8(ascii: "(") else { throw unreadable(expected) }
            position += 1
            var values: [Int] = []
            var trailingComma = false
            while true {
                skipSpaces()
                if current == UInt8(ascii: ")") {
                    guard values.count != 1 || trailingComma else { throw unreadable("(N) is a number, a 1-tuple is written (N,)") }
                    position += 1
                    break
                }
                guard let value = try integer(key, tupleStart: start) else { throw unreadable(expected) }
                values.append(value)
                skipSpaces()
                if current == UInt8(ascii: ",") {
                    position += 1
                    trailingComma = true
                } else if current == UInt8(ascii: ")") {
                    trailingComma = false
                } else {
                    throw unreadable(expected)
                }
            }
            var count = 1
            for value in values {
                let (product, overflow) = count.multipliedReportingOverflow(by: value)
                guard !overflow, product <= 1 << 50 else { throw fail("'\(key)' \(tuple(values)) has too many elements") }
                count = product
            }
            return values
        }

        func unreadable(_ key: String, _ start: Int, _ why: String) -> FormatError {
            fail("'\(key)' \(excerpt(from: start)) \(place(start)) is not readable: \(why)")
        }

        /// A decimal integer as Python writes one (nil when no digit is at the position), in the tuple of
        /// `key` that starts at `tupleStart`.
        mutating func integer(_ key: String, tupleStart: Int) throws -> Int? {
            func unreadable(_ why: String) -> FormatError { self.unreadable(key, tupleStart, why) }
            let start = position
            while let byte = current, byte >= 0x30 && byte <= 0x39 { position += 1 }
            guard position > start else { return nil }
            if let byte = current, Self.continuesToken(byte) {
                throw unreadable("\(found(position)) \(place(position)) continues a number (only plain decimal integers are read)")
            }
            let digits = bytes[start..<position]
            if digits.first == 0x30, digits.contains(where: { $0 != 0x30 }) {
                throw unreadable("a number with a leading zero \(place(start)) (Python refuses it)")
            }
            var value = 0
            for digit in digits {
                let (times, overflow) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflowSum) = times.addingReportingOverflow(Int(digit - 0x30))
                guard !overflow, !overflowSum else { throw fail("'\(key)' number \(place(start)) is too large") }
                value = sum
            }
            return value
        }
    }
}

fileprivate extension String {
    /// The string with leading "0"s up to `length` characters.
    func leftPadded(to length: Int) -> String { String(repeating: "0", count: max(0, length - count)) + self }
}
