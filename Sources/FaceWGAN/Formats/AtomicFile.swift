#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Error for any file a user gives us (or that we write): names the file and what is wrong with it.
public struct FormatError: Error, CustomStringConvertible, Equatable {
    /// The file concerned, or "<memory>" for bytes that did not come from a file.
    public var path: String
    /// What is wrong, and where: "tensor 'critic.fc.weight': data_offsets [0, 12] hold 12 bytes ...".
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }

    /// The error for a failed system call: `message`, then the text of errno.
    /// `message` is an autoclosure so that errno is read before building the string can change it.
    static func system(path: String, _ message: @autoclosure () -> String) -> FormatError {
        let errorNumber = errno
        return FormatError(path: path, message: "\(message()): \(String(cString: strerror(errorNumber)))")
    }
}

/// Whole-file writes that a crash or a full disk cannot leave half done: readers see the old
/// content or the new one, never a mixture.
public enum AtomicFile {
    /// Writes `bytes` through an `AtomicStreamFile`: a temporary file in the same directory
    /// (".<name>.tmp-<random>"), fsynced, renamed over `path`, then the directory fsynced, so the
    /// rename itself survives a power cut. On failure the temporary file is removed, an existing file
    /// at `path` is left untouched, and a FormatError naming `path` and the system's reason is thrown.
    /// (Only when the final directory sync fails is the new content already in place; the error then
    /// says so.)
    public static func write(_ bytes: [UInt8], to path: String) throws {
        try bytes.withUnsafeBytes { try write(buffer: $0, to: path) }
    }

    public static func write(_ data: Data, to path: String) throws {
        try data.withUnsafeBytes { try write(buffer: $0, to: path) }
    }

    /// Writes `text` as UTF-8.
    public static func write(_ text: String, to path: String) throws {
        try write(Array(text.utf8), to: path)
    }

    static func write(buffer: UnsafeRawBufferPointer, to path: String) throws {
        let file = try AtomicStreamFile(path: path)
        do {
            try file.write(buffer)
        } catch {
            file.abandon()
            throw error
        }
        try file.commit(directorySync: .required)
    }
}

/// Reads a whole file into memory. Errors name `path` and give the system's reason.
func readFileBytes(atPath path: String) throws -> [UInt8] {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw FormatError.system(path: path, "cannot open") }
    defer { close(descriptor) }
    var contents: [UInt8] = []
    var status = stat()
    if fstat(descriptor, &status) == 0 && status.st_size > 0 {
        contents.reserveCapacity(Int(status.st_size))
    }
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { continue }
            throw FormatError.system(path: path, "cannot read")
        }
        if count == 0 { return contents }
        contents.append(contentsOf: chunk[..<count])
    }
}
