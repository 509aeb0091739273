#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file written piece by piece that appears at its path all at once, or not at all: the pieces go
/// to ".<name>.<random>.tmp" in the same directory, `commit()` fsyncs it and renames it into place
/// (then fsyncs the directory). `abandon()`, or dropping the object uncommitted, removes the
/// temporary file, leaving whatever was at the path untouched. The streaming sibling of `AtomicFile`.
public final class AtomicStreamFile {
    public let path: String
    /// Where to write the content (with `write(2)` or a writer that takes a descriptor).
    public let descriptor: Int32
    private let temporaryPath: String
    private var finished = false

    public init(path: String) throws {
        self.path = path
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard !name.isEmpty else { throw FormatError(path: path, message: "names a directory, not a file") }
        var attemptsLeft = 8
        while true {
            let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            let candidate = (directory == "/" ? "" : directory) + "/.\(name).\(suffix).tmp"
            let opened = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            if opened >= 0 {
                descriptor = opened
                temporaryPath = candidate
                return
            }
            attemptsLeft -= 1
            guard errno == EEXIST && attemptsLeft > 0 else {
                throw FormatError.system(path: path, "cannot create a temporary file in '\(directory)'")
            }
        }
    }

    deinit { if !finished { abandon() } }

    /// Syncs, closes and renames the temporary file into place.
    public func commit() throws {
        precondition(!finished, "commit after commit or abandon")
        finished = true
        guard fsync(descriptor) == 0 else {
            let error = FormatError.system(path: path, "cannot sync '\(temporaryPath)'")
            close(descriptor); unlink(temporaryPath)
            throw error
        }
        guard close(descriptor) == 0 else {
            let error = FormatError.system(path: path, "cannot close '\(temporaryPath)'")
            unlink(temporaryPath)
            throw error
        }
        guard rename(temporaryPath, path) == 0 else {
            let error = FormatError.system(path: path, "cannot rename '\(temporaryPath)' to '\(path)'")
            unlink(temporaryPath)
            throw error
        }
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            _ = fsync(directoryDescriptor)  // best effort: the content itself is synced
            close(directoryDescriptor)
        }
    }

    /// Removes the temporary file; the path keeps its old content (or stays absent).
    public func abandon() {
        guard !finished else { return }
        finished = true
        close(descriptor)
        unlink(temporaryPath)
    }
}
