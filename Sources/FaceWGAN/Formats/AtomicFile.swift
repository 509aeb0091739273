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
    /// Writes `bytes` to a temporary file in the same directory (".<name>.<random>.tmp"), fsyncs it,
    /// renames it over `path` and fsyncs the directory, so the rename itself survives a power cut.
    /// On failure the temporary file is removed, an existing file at `path` is left untouched, and a
    /// FormatError naming `path` and the system's reason is thrown. (Only when the final directory
    /// sync fails is the new content already in place; the error then says so.)
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
        let (directory, name) = try splitDirectoryAndName(path)
        let (descriptor, temporaryPath) = try createTemporaryFile(directory: directory, name: name, for: path)
        var descriptorIsOpen = true
        do {
            try writeAll(buffer, to: descriptor, path: path)
            guard fsync(descriptor) == 0 else { throw FormatError.system(path: path, "cannot sync '\(temporaryPath)'") }
            descriptorIsOpen = false
            // close reports deferred write errors on some file systems (NFS), so it is checked too.
            guard close(descriptor) == 0 else { throw FormatError.system(path: path, "cannot close '\(temporaryPath)'") }
            guard rename(temporaryPath, path) == 0 else {
                throw FormatError.system(path: path, "cannot rename '\(temporaryPath)' to '\(path)'")
            }
        } catch {
            if descriptorIsOpen { close(descriptor) }
            unlink(temporaryPath)
            throw error
        }
        // Past this point the new content is in place; a failure only means it may not survive a crash.
        try syncDirectory(directory, for: path)
    }

    /// Splits "a/b/c.bin" into ("a/b", "c.bin"); a bare name lives in ".".
    private static func splitDirectoryAndName(_ path: String) throws -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else {
            guard !path.isEmpty else { throw FormatError(path: path, message: "empty file name") }
            return (".", path)
        }
        let name = String(path[path.index(after: slash)...])
        guard !name.isEmpty else { throw FormatError(path: path, message: "names a directory, not a file") }
        let directory = slash == path.startIndex ? "/" : String(path[..<slash])
        return (directory, name)
    }

    /// Creates ".<name>.<random>.tmp" next to the destination (a rename is only atomic within one
    /// file system). O_EXCL makes a name clash with another writer fail instead of sharing a file.
    private static func createTemporaryFile(directory: String, name: String, for path: String) throws
        -> (descriptor: Int32, path: String)
    {
        var attemptsLeft = 8
        while true {
            let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            let temporaryPath = (directory == "/" ? "" : directory) + "/.\(name).\(suffix).tmp"
            // 0o666 minus the umask: the permissions any newly created file would get.
            let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            if descriptor >= 0 { return (descriptor, temporaryPath) }
            attemptsLeft -= 1
            guard errno == EEXIST && attemptsLeft > 0 else {
                throw FormatError.system(path: path, "cannot create a temporary file in '\(directory)'")
            }
        }
    }

    private static func syncDirectory(_ directory: String, for path: String) throws {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FormatError.system(path: path, "replaced, but cannot open directory '\(directory)' to sync it") }
        defer { close(descriptor) }
        // Some file systems cannot sync a directory (EINVAL); the data itself is already synced.
        guard fsync(descriptor) == 0 || errno == EINVAL else {
            throw FormatError.system(path: path, "replaced, but cannot sync directory '\(directory)' to make that durable")
        }
    }
}

/// write(2) until every byte is out: it may write less than asked, or be interrupted by a signal.
private func writeAll(_ buffer: UnsafeRawBufferPointer, to descriptor: Int32, path: String) throws {
    var offset = 0
    while offset < buffer.count {
        let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
        if written < 0 {
            if errno == EINTR { continue }
            throw FormatError.system(path: path, "cannot write")
        }
        offset += written
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
