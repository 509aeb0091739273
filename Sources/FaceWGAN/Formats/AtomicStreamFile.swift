#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file written piece by piece that appears at its path all at once, or not at all: the pieces go
/// to ".<name>.tmp-<random>" in the same directory (a rename is only atomic within one file system),
/// `commit()` fsyncs it, renames it into place and fsyncs the directory. `abandon()`, or dropping the
/// object uncommitted, removes the temporary file, leaving whatever was at the path untouched.
/// Writes are buffered; the SHA-256 of the content can be computed as the bytes go out.
/// `AtomicFile.write` is the one-call form for content already in memory.
public final class AtomicStreamFile {
    /// When `commit` makes the rename itself durable by fsyncing the directory.
    public enum DirectorySync {
        /// Sync it; a failure is an error (the new content is then in place, and the error says so).
        case required
        /// Try to sync it, ignoring a failure: the content itself is synced.
        case bestEffort
        /// Leave it to the caller, who renames several files and syncs their directory once
        /// (`syncDirectory(_:for:)`).
        case byCaller
    }

    public let path: String
    /// Where the content goes until `commit`; writers that take a descriptor may write to it
    /// directly (after `flush()`, if `write` was used too).
    public let descriptor: Int32
    private let directory: String
    private let temporaryPath: String
    private var buffer: [UInt8] = []
    private let bufferCapacity = 1 << 20
    /// The running SHA-256 of everything written, when requested (and until `write(_:at:)`).
    private var hasher: SHA256?
    private var state = State.open

    private enum State { case open, closed, finished }

    /// Creates the temporary file next to `path`. With `hashing`, `sha256()` gives the content's
    /// digest without reading it back.
    public init(path: String, hashing: Bool = false) throws {
        self.path = path
        let name: String
        (directory, name) = try Self.splitDirectoryAndName(path)
        // O_EXCL makes a name clash with another writer fail instead of sharing a file; O_RDWR lets
        // `sha256()` read the content back. 0o666 minus the umask: what any new file would get.
        let directory = self.directory
        (descriptor, temporaryPath) = try TemporaryFiles.recording {
            var attemptsLeft = 8
            while true {
                let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
                let candidate = (directory == "/" ? "" : directory) + "/.\(name).tmp-\(suffix)"
                let opened = open(candidate, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
                if opened >= 0 { return (opened, candidate) }
                attemptsLeft -= 1
                guard errno == EEXIST && attemptsLeft > 0 else {
                    throw FormatError.system(path: path, "cannot create a temporary file in '\(directory)'")
                }
            }
        }
        if hashing { hasher = SHA256() }
    }

    deinit { abandon() }

    /// The parts of one of these temporary files' names, ".<target>.tmp-<suffix>", or nil for any other
    /// name (the target is never empty): what the tools match the leftovers of a killed run against.
    public static func temporaryNameParts(_ name: String) -> (target: Substring, suffix: Substring)? {
        guard name.hasPrefix(".") else { return nil }
        let rest = name.dropFirst()
        guard let marker = rest.firstRange(of: ".tmp-"), marker.lowerBound > rest.startIndex else { return nil }
        return (rest[..<marker.lowerBound], rest[marker.upperBound...])
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

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(state == .open, "write after syncAndClose, commit or abandon")
        hasher?.update(bytes)
        if buffer.count + bytes.count > bufferCapacity { try flush() }
        if bytes.count >= bufferCapacity {
            try writeAll(bytes, at: nil)
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    /// Writes `text` as UTF-8.
    public func write(_ text: String) throws { try write(Array(text.utf8)) }

    /// Overwrites bytes at `offset` (after flushing), e.g. a header whose counts are known only at
    /// the end. The running hash is dropped: `sha256()` then reads the content back.
    public func write(_ bytes: [UInt8], at offset: Int) throws {
        precondition(state == .open, "write after syncAndClose, commit or abandon")
        try flush()
        hasher = nil
        try bytes.withUnsafeBytes { try writeAll($0, at: offset) }
    }

    /// Writes out the buffered bytes.
    public func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try writeAll($0, at: nil) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// write(2) (or pwrite(2) at `offset`) until every byte is out: it may write less than asked,
    /// or be interrupted by a signal.
    private func writeAll(_ bytes: UnsafeRawBufferPointer, at offset: Int?) throws {
        var done = 0
        while done < bytes.count {
            let pointer = bytes.baseAddress! + done, count = bytes.count - done
            let written = offset.map { pwrite(descriptor, pointer, count, off_t($0 + done)) }
                ?? systemWrite(descriptor, pointer, count)
            if written < 0 {
                if errno == EINTR { continue }
                throw FormatError.system(path: path, offset.map { "cannot write at offset \($0)" } ?? "cannot write")
            }
            done += written
        }
    }

    /// The SHA-256 of the content, as lowercase hex: the running hash, or (after `write(_:at:)`, or
    /// without `hashing`) one computed by reading the temporary file back.
    public func sha256() throws -> String {
        precondition(state == .open, "sha256 after syncAndClose, commit or abandon")
        try flush()
        if var running = hasher { return running.finalizeHex() }
        var hasher = SHA256()
        var chunk = [UInt8](repeating: 0, count: bufferCapacity)
        var offset = 0
        while true {
            let count = chunk.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress!, $0.count, off_t(offset)) }
            if count < 0 {
                if errno == EINTR { continue }
                throw FormatError.system(path: path, "cannot read back '\(temporaryPath)'")
            }
            if count == 0 { break }
            chunk.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            offset += count
        }
        return hasher.finalizeHex()
    }

    /// Flushes, fsyncs and closes the temporary file: the content is durable, still under its
    /// temporary name (`BatchFileWriter` does this on worker threads, then commits in order).
    /// On failure the temporary file is removed.
    public func syncAndClose() throws {
        guard state == .open else { precondition(state == .closed, "syncAndClose after commit or abandon"); return }
        do {
            try flush()
            guard fsync(descriptor) == 0 else { throw FormatError.system(path: path, "cannot sync '\(temporaryPath)'") }
        } catch {
            abandon()
            throw error
        }
        state = .closed
        // close reports deferred write errors on some file systems (NFS), so it is checked too.
        guard close(descriptor) == 0 else {
            let error = FormatError.system(path: path, "cannot close '\(temporaryPath)'")
            abandon()
            throw error
        }
    }

    /// Closes the file (see `syncAndClose`), renames it into place and syncs the directory as `directorySync`
    /// says. On failure before the rename, the temporary file is removed and the path keeps its old
    /// content (or stays absent).
    public func commit(directorySync: DirectorySync = .required) throws {
        try syncAndClose()
        state = .finished
        guard rename(temporaryPath, path) == 0 else {
            let error = FormatError.system(path: path, "cannot rename '\(temporaryPath)' to '\(path)'")
            unlink(temporaryPath)
            TemporaryFiles.forget(temporaryPath)
            throw error
        }
        TemporaryFiles.forget(temporaryPath)
        // Past this point the new content is in place; a failure only means it may not survive a crash.
        switch directorySync {
        case .required: try Self.syncDirectory(directory, for: path)
        case .bestEffort: try? Self.syncDirectory(directory, for: path)
        case .byCaller: break
        }
    }

    /// Removes the temporary file; the path keeps its old content (or stays absent). Does nothing
    /// after `commit` or a failed one (which cleans up itself).
    public func abandon() {
        switch state {
        case .open: _ = close(descriptor); unlink(temporaryPath); TemporaryFiles.forget(temporaryPath)
        case .closed: unlink(temporaryPath); TemporaryFiles.forget(temporaryPath)
        case .finished: break
        }
        state = .finished
    }

    /// fsyncs `directory`, so that renames into it survive a power cut. Errors name `path`.
    public static func syncDirectory(_ directory: String, for path: String) throws {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw FormatError.system(path: path, "in place, but cannot open directory '\(directory)' to sync it")
        }
        defer { _ = close(descriptor) }
        // Some file systems cannot sync a directory (EINVAL); the data itself is already synced.
        guard fsync(descriptor) == 0 || errno == EINVAL else {
            throw FormatError.system(path: path, "in place, but cannot sync directory '\(directory)' to make that durable")
        }
    }
}

/// write(2), named apart from the methods called `write`.
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}
