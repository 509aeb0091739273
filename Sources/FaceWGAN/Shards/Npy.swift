import Foundation

/// NumPy .npy files (format 1.0): a magic string, a little-endian header length and a Python dict
/// literal `{'descr': ..., 'fortran_order': ..., 'shape': (...), }` padded with spaces to a multiple
/// of 64 bytes and ended by a newline, then the raw C-order data.
public enum Npy {
    public static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

    /// The header (magic to newline) for an array of `descr` (e.g. "|u1", "<f4") and `shape`,
    /// as numpy.save writes it. `paddedFor` reserves room for a shape whose numbers may grow up to
    /// those values, so the header can be rewritten in place later with the same length.
    public static func header(descr: String, shape: [Int], paddedFor reserve: [Int]? = nil) -> [UInt8] {
        func dictionary(_ shape: [Int]) -> String {
            let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
            return "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dims), }"
        }
        let text = dictionary(shape)
        let longest = max(text.utf8.count, reserve.map { dictionary($0).utf8.count } ?? 0)
        // magic(6) + version(2) + length(2) + dict + padding + "\n", a multiple of 64.
        let total = (10 + longest + 1 + 63) / 64 * 64
        let headerLength = total - 10
        var bytes = magic + [1, 0, UInt8(headerLength & 0xFF), UInt8(headerLength >> 8)]
        bytes += Array(text.utf8)
        bytes += [UInt8](repeating: 0x20, count: total - bytes.count - 1)
        bytes.append(0x0A)
        return bytes
    }

    /// What a .npy header says, checked against the file size.
    public struct ArrayInfo: Equatable, Sendable {
        public var descr: String
        public var fortranOrder: Bool
        public var shape: [Int]
        /// Byte offset of the data.
        public var dataOffset: Int
        public var itemSize: Int
        public var elementCount: Int { shape.reduce(1, *) }
        public var dataSize: Int { elementCount * itemSize }
    }

    /// Why a .npy header was refused: `field` names the part, `message` what is wrong.
    public struct FormatError: Error, Equatable, CustomStringConvertible {
        public var field: String
        public var message: String
        public var description: String { "\(field): \(message)" }
    }

    /// Parses the header at the start of `prefix` (at least the header's bytes; 4096 are always
    /// enough for 1.0) of a file of `fileSize` bytes. Every length is checked; data of the size the
    /// shape implies must fit in the file.
    public static func parseHeader(_ prefix: [UInt8], fileSize: Int) throws -> ArrayInfo {
        func fail(_ field: String, _ message: String) -> FormatError { FormatError(field: field, message: message) }
        guard prefix.count >= 10, Array(prefix[0..<6]) == magic else { throw fail("magic", "not a .npy file") }
        let major = prefix[6]
        let headerLength: Int
        let start: Int
        switch major {
        case 1:
            headerLength = Int(prefix[8]) | Int(prefix[9]) << 8
            start = 10
        case 2, 3:
            guard prefix.count >= 12 else { throw fail("header", "file too short") }
            headerLength = Int(prefix[8]) | Int(prefix[9]) << 8 | Int(prefix[10]) << 16 | Int(prefix[11]) << 24
            start = 12
        default:
            throw fail("version", "unsupported version \(major).\(prefix[7])")
        }
        guard headerLength <= 1 << 20, start + headerLength <= fileSize else {
            throw fail("header", "length \(headerLength) runs past the end of the file")
        }
        guard start + headerLength <= prefix.count else { throw fail("header", "length \(headerLength) exceeds what was read") }
        let text = String(decoding: prefix[start..<start + headerLength], as: UTF8.self)
        guard !text.contains("\u{FFFD}") else { throw fail("header", "not UTF-8 text") }
        func value(_ key: String) throws -> Substring {
            guard let keyRange = text.range(of: "'\(key)'") else { throw fail(key, "missing") }
            var rest = text[keyRange.upperBound...].drop { $0 == " " }
            guard rest.first == ":" else { throw fail(key, "no ':' after the key") }
            rest = rest.dropFirst().drop { $0 == " " }
            return rest
        }
        // descr
        var rest = try value("descr")
        guard let quote = rest.first, quote == "'" || quote == "\"" else { throw fail("descr", "not a string") }
        rest = rest.dropFirst()
        guard let close = rest.firstIndex(of: quote) else { throw fail("descr", "unterminated string") }
        let descr = String(rest[..<close])
        let itemSize: Int
        switch descr {
        case "|u1", "|i1", "|b1", "<u1", "<i1": itemSize = 1
        case "<u2", "<i2", "<f2": itemSize = 2
        case "<f4", "<i4", "<u4": itemSize = 4
        case "<f8", "<i8", "<u8": itemSize = 8
        default: throw fail("descr", "unsupported dtype '\(descr)'")
        }
        // fortran_order
        let order = try value("fortran_order")
        let fortran: Bool
        if order.hasPrefix("False") { fortran = false } else if order.hasPrefix("True") { fortran = true } else {
            throw fail("fortran_order", "not True or False")
        }
        // shape
        let shapeText = try value("shape")
        guard shapeText.first == "(", let end = shapeText.firstIndex(of: ")") else { throw fail("shape", "not a tuple") }
        let inner = shapeText[shapeText.index(after: shapeText.startIndex)..<end]
        var shape: [Int] = []
        for part in inner.split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: " ")
            if trimmed.isEmpty { continue }
            guard let n = Int(trimmed), n >= 0, n <= 1 << 40 else { throw fail("shape", "bad dimension '\(trimmed)'") }
            shape.append(n)
        }
        var count = 1
        for n in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: n)
            guard !overflow, product <= 1 << 50 else { throw fail("shape", "too many elements") }
            count = product
        }
        let info = ArrayInfo(descr: descr, fortranOrder: fortran, shape: shape, dataOffset: start + headerLength,
                             itemSize: itemSize)
        guard info.dataOffset + info.dataSize <= fileSize else {
            throw fail("data", "shape \(shape) needs \(info.dataSize) bytes after offset \(info.dataOffset), file has \(fileSize)")
        }
        return info
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> Substring {
        var result = self
        while result.first == set { result = result.dropFirst() }
        while result.last == set { result = result.dropLast() }
        return result
    }
}
