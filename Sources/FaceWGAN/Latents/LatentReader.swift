#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A latent stream (DESIGN.md, "Latent streams"), read one latent at a time so that a million
/// latents on stdin take bounded memory. Two formats, told apart by the first bytes (so both work
/// on stdin too):
/// - text: one latent per line, Z numbers separated by spaces or tabs; blank lines and lines whose
///   first non-blank character is `#` are skipped; CRLF line ends are accepted;
/// - NumPy .npy (format 1.0, 2.0 or 3.0), dtype `<f4`, C order, shape (N, Z) (read by `Npy`).
///
/// Every error is a FormatError naming the stream ("<stdin>" or the path) and the line (text) or
/// row (.npy): a wrong count of numbers, a non-number, NaN or infinity, an empty stream, a
/// truncated or unsupported .npy.
public final class LatentReader {
    public enum Format: Equatable { case text, npy }

    /// The stream's name in messages: the path, or "<stdin>".
    public let name: String
    /// Z, the numbers per latent.
    public let dimension: Int
    public private(set) var format: Format = .text
    /// Latents returned so far.
    public private(set) var count = 0
    /// Where the latent last returned came from: its 1-based line (text) or row (.npy) number.
    public private(set) var position = 0

    private let input: ByteInput
    /// .npy only: rows the header declares.
    private var declaredRows = 0
    private var row: [UInt8] = []

    /// Opens `path` ("-" is stdin).
    public convenience init(path: String, dimension: Int) throws {
        if path == "-" {
            try self.init(descriptor: STDIN_FILENO, name: "<stdin>", dimension: dimension, closeWhenDone: false)
        } else {
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw FormatError.system(path: path, "cannot open latents") }
            var status = stat()
            if fstat(descriptor, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR {
                close(descriptor)
                throw FormatError(path: path, message: "is a directory, not a latent file")
            }
            try self.init(descriptor: descriptor, name: path, dimension: dimension, closeWhenDone: true)
        }
    }

    /// Reads from an open descriptor (closed at deinit when `closeWhenDone`).
    public init(descriptor: Int32, name: String, dimension: Int, closeWhenDone: Bool) throws {
        precondition(dimension >= 1)
        self.name = name
        self.dimension = dimension
        input = ByteInput(descriptor: descriptor, name: name, closeWhenDone: closeWhenDone)
        if try input.startsWith(Npy.magic) {
            format = .npy
            let header = try Npy.checkLatents(Npy.readHeader(path: name, read: input.readBytes), path: name)
            guard header.columns == dimension else {
                throw FormatError(path: name, message: ".npy shape (\(header.rows), \(header.columns)): latents have "
                    + "\(header.columns) numbers, expected \(dimension) (the generator's z-dim)")
            }
            declaredRows = header.rows
            row = [UInt8](repeating: 0, count: dimension * 4)
        }
    }

    /// Reads the next latent into `destination` (`dimension` values). False at the end of the stream;
    /// an empty stream (no latent at all) is an error.
    public func next(into destination: UnsafeMutablePointer<Float>) throws -> Bool {
        let found = try format == .text ? nextText(into: destination) : nextRow(into: destination)
        if found {
            count += 1
        } else if count == 0 {
            throw FormatError(path: name, message: format == .text
                ? "no latents (the stream is empty or holds only comments and blank lines)"
                : "no latents (the .npy has 0 rows)")
        }
        return found
    }

    /// The next latent as an array, nil at the end of the stream.
    public func next() throws -> [Float]? {
        var latent = [Float](repeating: 0, count: dimension)
        let found = try latent.withUnsafeMutableBufferPointer { try next(into: $0.baseAddress!) }
        return found ? latent : nil
    }

    /// Every latent with its line (text) or row (.npy) number, 1-based.
    public func readAll() throws -> [(position: Int, latent: [Float])] {
        var result: [(Int, [Float])] = []
        while let latent = try next() { result.append((position, latent)) }
        return result
    }

    // MARK: text

    private func nextText(into destination: UnsafeMutablePointer<Float>) throws -> Bool {
        // A line of Z numbers needs at most ~16 bytes each ("-1.23456789e-05 "); leave plenty of room.
        let longest = max(1 << 20, dimension * 64)
        while try input.readLine(maximumLength: longest, lineNumber: position + 1) {
            position += 1
            if try input.line.withUnsafeMutableBufferPointer({ try parse($0, into: destination) }) { return true }
        }
        return false
    }

    /// Parses one line (without its "\n", NUL-terminated scratch copy); false for a blank or comment line.
    private func parse(_ line: UnsafeMutableBufferPointer<UInt8>, into destination: UnsafeMutablePointer<Float>) throws -> Bool {
        func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0B || byte == 0x0C }
        let bytes = line.baseAddress!
        let length = line.count - 1  // the last byte is the NUL terminator
        var index = 0
        while index < length && isBlank(bytes[index]) { index += 1 }
        if index == length || bytes[index] == UInt8(ascii: "#") { return false }
        var field = 0
        while index < length {
            let start = index
            while index < length && !isBlank(bytes[index]) { index += 1 }
            field += 1
            guard field <= dimension else {
                throw FormatError(path: name, message: "line \(position): more than \(dimension) numbers "
                    + "(a latent has \(dimension), the generator's z-dim)")
            }
            let value = try parseNumber(bytes + start, length: index - start, field: field)
            destination[field - 1] = value
            while index < length && isBlank(bytes[index]) { index += 1 }
        }
        guard field == dimension else {
            throw FormatError(path: name, message: "line \(position): \(field) number\(field == 1 ? "" : "s"), "
                + "expected \(dimension) (the generator's z-dim)")
        }
        return true
    }

    private func parseNumber(_ start: UnsafeMutablePointer<UInt8>, length: Int, field: Int) throws -> Float {
        var end: UnsafeMutablePointer<CChar>? = nil
        let text = UnsafeMutableRawPointer(start).assumingMemoryBound(to: CChar.self)
        // strtof stops at the blank (or NUL) after the token; anything left inside the token is an error.
        let value = strtof(text, &end)
        let token = String(decoding: UnsafeBufferPointer(start: start, count: min(length, 32)), as: UTF8.self)
            + (length > 32 ? "..." : "")
        guard let end, end == text + length, length > 0 else {
            throw FormatError(path: name, message: "line \(position), number \(field): '\(token)' is not a number")
        }
        guard value.isFinite else {
            throw FormatError(path: name, message: "line \(position), number \(field): '\(token)' is not a finite "
                + "float32 number")
        }
        return value
    }

    // MARK: npy

    private func nextRow(into destination: UnsafeMutablePointer<Float>) throws -> Bool {
        guard position < declaredRows else {
            if try input.hasMoreBytes() {
                throw FormatError(path: name, message: "has data after the \(declaredRows) rows its .npy header declares")
            }
            return false
        }
        position += 1
        let complete = try row.withUnsafeMutableBytes { try input.readExactly(into: $0) }
        guard complete else {
            throw FormatError(path: name, message: "ends inside row \(position) of \(declaredRows) "
                + "(truncated .npy file?)")
        }
        for column in 0..<dimension {
            let bits = UInt32(row[column * 4]) | UInt32(row[column * 4 + 1]) << 8
                | UInt32(row[column * 4 + 2]) << 16 | UInt32(row[column * 4 + 3]) << 24
            let value = Float(bitPattern: bits)
            guard value.isFinite else {
                throw FormatError(path: name, message: "row \(position) (index \(position - 1)), column \(column): "
                    + "\(value) is not a finite number")
            }
            destination[column] = value
        }
        return true
    }
}

/// Buffered reads from a file descriptor: whole lines (into a NUL-terminated scratch buffer) or
/// exact byte counts, with memory bounded by the longest line allowed.
final class ByteInput {
    private let descriptor: Int32
    private let name: String
    private let closeWhenDone: Bool
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    private var start = 0, end = 0
    private var atEnd = false

    init(descriptor: Int32, name: String, closeWhenDone: Bool) {
        self.descriptor = descriptor
        self.name = name
        self.closeWhenDone = closeWhenDone
    }

    deinit { if closeWhenDone { close(descriptor) } }

    /// Reads more bytes after `end`, compacting first; false at the end of input.
    private func fill() throws -> Bool {
        if atEnd { return false }
        if start > 0 {
            buffer.withUnsafeMutableBufferPointer { pointer in
                let base = pointer.baseAddress!
                (base).update(from: base + start, count: end - start)
            }
            end -= start
            start = 0
        }
        if end == buffer.count { buffer.append(contentsOf: [UInt8](repeating: 0, count: buffer.count)) }
        while true {
            let received = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + end, $0.count - end) }
            if received < 0 {
                if errno == EINTR { continue }
                throw FormatError.system(path: name, "cannot read")
            }
            if received == 0 { atEnd = true; return false }
            end += received
            return true
        }
    }

    func startsWith(_ prefix: [UInt8]) throws -> Bool {
        while end - start < prefix.count { if try !fill() { break } }
        guard end - start >= prefix.count else { return false }
        return Array(buffer[start..<(start + prefix.count)]) == prefix
    }

    func hasMoreBytes() throws -> Bool {
        if end > start { return true }
        return try fill()
    }

    /// The current line after `readLine`: its bytes without the "\n", then a NUL terminator.
    var line = [UInt8]()

    /// Reads the next line into `line`; false at the end. A line longer than `maximumLength` is an
    /// error that names it by `lineNumber`.
    func readLine(maximumLength: Int, lineNumber: Int) throws -> Bool {
        var scanned = 0  // bytes after `start` known to hold no newline
        while true {
            let newline = buffer[(start + scanned)..<end].firstIndex(of: 0x0A)
            scanned = (newline ?? end) - start
            if scanned > maximumLength {
                throw FormatError(path: name, message: "line \(lineNumber) is longer than \(maximumLength) bytes (not a latent stream?)")
            }
            if let newline {
                takeLine(upTo: newline, skip: 1)
                return true
            }
            if try !fill() {
                guard end > start else { return false }
                takeLine(upTo: end, skip: 0)
                return true
            }
        }
    }

    private func takeLine(upTo lineEnd: Int, skip: Int) {
        line.removeAll(keepingCapacity: true)
        line.append(contentsOf: buffer[start..<lineEnd])
        line.append(0)
        start = lineEnd + skip
    }

    /// The next `count` bytes; nil when the input ends first.
    func readBytes(_ count: Int) throws -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        return try bytes.withUnsafeMutableBytes { try readExactly(into: $0) } ? bytes : nil
    }

    /// Fills `destination` completely; false when the input ends first.
    func readExactly(into destination: UnsafeMutableRawBufferPointer) throws -> Bool {
        var copied = 0
        while copied < destination.count {
            if start == end, try !fill() { return false }
            let take = min(end - start, destination.count - copied)
            buffer.withUnsafeBytes { source in
                (destination.baseAddress! + copied).copyMemory(from: source.baseAddress! + start, byteCount: take)
            }
            start += take
            copied += take
        }
        return true
    }
}
