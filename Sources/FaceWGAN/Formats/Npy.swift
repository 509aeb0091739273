/// NumPy .npy files, format 1.0 (what numpy.save writes), 2.0 or 3.0: the magic "\x93NUMPY", the version
/// major.minor, the header length (2 bytes little-endian in 1.0, 4 in 2.0 and 3.0), a Python dict literal
/// `{'descr': ..., 'fortran_order': ..., 'shape': (...), }` padded with spaces to a multiple of 64
/// bytes and ended by a newline, then the raw C-order data.
///
/// One reader for both kinds of .npy the tools exchange: uint8 image shards (N, S, S, 3) and float32
/// latents (N, Z). `readHeader` parses any header, checking every length before it reads; `checkImages`
/// and `checkLatents` then say whether it is the array expected. Every error is a FormatError naming
/// the file and the header field (or the part of the file) that is wrong.
public enum Npy {
    public static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"
    /// Longest header accepted: numpy.load's default `max_header_size` (it writes a few hundred bytes).
    static let maximumHeaderLength = 10_000

    /// The header (magic to newline) for an array of `descr` (e.g. "|u1", "<f4") and `shape`,
    /// as numpy.save writes it. `paddedFor` reserves room for a shape whose numbers may grow up to
    /// those values, so the header can be rewritten in place later with the same length.
    public static func header(descr: String, shape: [Int], paddedFor reserve: [Int]? = nil) -> [UInt8] {
        func dictionary(_ shape: [Int]) -> String {
            "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(tuple(shape)), }"
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

    /// A shape as Python writes the tuple: "(5,)", "(2, 64, 64, 3)".
    static func tuple(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    /// What a .npy header says.
    public struct ArrayInfo: Equatable, Sendable {
        /// The dtype as written, e.g. "|u1", "<f4".
        public var descr: String
        public var fortranOrder: Bool
        public var shape: [Int]
        /// Byte offset of the data: the header's length.
        public var dataOffset: Int
        public var elementCount: Int { shape.reduce(1, *) }
    }

    /// Reads a header through `read(n)`, which returns the next `n` bytes of the file, or nil when the
    /// file ends first. Reads exactly the header's bytes, so a stream is left at the data.
    public static func readHeader(path: String, read: (Int) throws -> [UInt8]?) throws -> ArrayInfo {
        func fail(_ message: String) -> FormatError { FormatError(path: path, message: message) }
        guard let prefix = try read(8) else { throw fail("truncated .npy header") }
        guard Array(prefix[0..<6]) == magic else { throw fail("not a .npy file (it does not start with \\x93NUMPY)") }
        let major = prefix[6], minor = prefix[7]
        // numpy's format.py reads exactly these (`_check_version`); 3.0 differs from 2.0 only in allowing
        // UTF-8 in the header, which no dtype read here needs.
        guard minor == 0, (1...3).contains(major) else {
            throw fail(".npy format version \(major).\(minor) is not supported (numpy reads 1.0, 2.0 and 3.0)")
        }
        let lengthBytes = major == 1 ? 2 : 4
        guard let lengthField = try read(lengthBytes) else { throw fail("truncated .npy header") }
        let headerLength = lengthField.enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        guard headerLength <= maximumHeaderLength else {
            throw fail(".npy header of \(headerLength) bytes is too long (numpy.load refuses more than \(maximumHeaderLength))")
        }
        guard let headerBytes = try read(headerLength) else { throw fail("truncated .npy header") }
        var info = try parse(headerBytes, path: path, fileOffset: 8 + lengthBytes)
        info.dataOffset = 8 + lengthBytes + headerLength
        return info
    }

    /// `readHeader` on the first bytes of a file (all of it, or at least its header).
    public static func readHeader(_ bytes: UnsafeRawBufferPointer, path: String) throws -> ArrayInfo {
        var offset = 0
        return try readHeader(path: path) { count in
            guard count <= bytes.count - offset else { return nil }
            defer { offset += count }
            return Array(bytes[offset..<(offset + count)])
        }
    }

    public static func readHeader(_ bytes: [UInt8], path: String) throws -> ArrayInfo {
        try bytes.withUnsafeBytes { try readHeader($0, path: path) }
    }

    /// Parses the dict literal (`HeaderParser`), e.g. "{'descr': '<f4', 'fortran_order': False, 'shape': (16, 128), }\n".
    /// `fileOffset` is where `header` starts in the file (for messages).
    static func parse(_ header: [UInt8], path: String, fileOffset: Int = 10) throws -> ArrayInfo {
        var parser = HeaderParser(header, path: path, fileOffset: fileOffset)
        return try parser.parse()
    }

    /// Checks a shard: uint8, C order, shape (`count`, `size`, `size`, 3) as index.json says, and the
    /// data exactly filling the rest of a file of `fileSize` bytes.
    public static func checkImages(_ info: ArrayInfo, count: Int, size: Int, fileSize: Int, path: String) throws {
        guard info.descr == "|u1" || info.descr == "<u1", !info.fortranOrder, info.shape == [count, size, size, 3] else {
            throw FormatError(path: path, message: "holds \(info.descr) \(info.shape)\(info.fortranOrder ? " in Fortran order" : ""), "
                + "index.json says |u1 [\(count), \(size), \(size), 3]")
        }
        let expected = info.dataOffset + info.elementCount
        guard expected == fileSize else {
            throw FormatError(path: path, message: "size \(fileSize) bytes, expected \(expected) (truncated or padded)")
        }
    }

    /// Checks a latent array: little-endian float32, C order, shape (N, Z) with Z >= 1. Returns N and Z.
    /// (Whether the data is all there shows as the rows are read.)
    public static func checkLatents(_ info: ArrayInfo, path: String) throws -> (rows: Int, columns: Int) {
        func fail(_ message: String) -> FormatError { FormatError(path: path, message: message) }
        guard info.descr == "<f4" else {
            throw fail(".npy dtype '\(info.descr)' is not supported: latents must be little-endian float32 ('<f4'), "
                + "e.g. numpy.save(path, z.astype(numpy.float32))")
        }
        guard !info.fortranOrder else {
            throw fail(".npy in Fortran order is not supported (save a C-order array, e.g. numpy.ascontiguousarray)")
        }
        let shape = tuple(info.shape)
        guard info.shape.count == 2 else {
            throw fail(".npy shape \(shape) has \(info.shape.count) dimension\(info.shape.count == 1 ? "" : "s"), expected 2: (N, Z)")
        }
        guard info.shape[1] >= 1 else { throw fail(".npy shape \(shape) is not usable") }
        return (info.shape[0], info.shape[1])
    }
}
