#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FaceEngine

/// Writes a batch of files into one directory the way `AtomicFile` writes one, with the durability
/// work shared: every file goes to ".<name>.<random>.tmp" and is fsynced (the files spread over the
/// threads), then all are renamed into place and the directory is fsynced once per batch instead of
/// once per file. A failure removes the batch's temporary files; files already renamed stay (each is
/// complete), and no half-written file ever carries a final name.
public enum BatchFileWriter {
    /// Writes `count` files: `name(i)` gets `contents(i)` (called on worker threads).
    public static func write(count: Int, directory: String, name: (Int) -> String,
                             contents: (Int) throws -> [UInt8]) throws {
        var temporaries = [String?](repeating: nil, count: count)
        var errors = [Error?](repeating: nil, count: count)
        temporaries.withUnsafeMutableBufferPointer { temporarySlots in
            errors.withUnsafeMutableBufferPointer { errorSlots in
                Parallel.forEach(count) { index in
                    let path = directory + "/" + name(index)
                    do {
                        let bytes = try contents(index)
                        temporarySlots[index] = try writeTemporary(bytes, directory: directory, name: name(index), for: path)
                    } catch {
                        errorSlots[index] = error
                    }
                }
            }
        }
        if let error = errors.lazy.compactMap({ $0 }).first {
            for case let temporary? in temporaries { unlink(temporary) }
            throw error
        }
        for index in 0..<count {
            let path = directory + "/" + name(index)
            guard rename(temporaries[index]!, path) == 0 else {
                let error = FormatError.system(path: path, "cannot rename '\(temporaries[index]!)' to '\(path)'")
                for case let temporary? in temporaries[index...] { unlink(temporary) }
                throw error
            }
        }
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FormatError.system(path: directory, "cannot open the directory to sync it") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 || errno == EINVAL else {
            throw FormatError.system(path: directory, "written, but cannot sync the directory to make that durable")
        }
    }

    /// Creates, fills, fsyncs and closes a temporary file next to `path`; returns its path.
    private static func writeTemporary(_ bytes: [UInt8], directory: String, name: String, for path: String) throws -> String {
        var attemptsLeft = 8
        var descriptor: Int32 = -1
        var temporary = ""
        while descriptor < 0 {
            temporary = directory + "/.\(name).\(String(UInt64.random(in: 0...UInt64.max), radix: 16)).tmp"
            descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            if descriptor < 0 {
                attemptsLeft -= 1
                guard errno == EEXIST && attemptsLeft > 0 else {
                    throw FormatError.system(path: path, "cannot create a temporary file in '\(directory)'")
                }
            }
        }
        do {
            try bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = writeSome(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw FormatError.system(path: path, "cannot write")
                    }
                    offset += written
                }
            }
            guard fsync(descriptor) == 0 else { throw FormatError.system(path: path, "cannot sync '\(temporary)'") }
        } catch {
            close(descriptor)
            unlink(temporary)
            throw error
        }
        guard close(descriptor) == 0 else {
            let error = FormatError.system(path: path, "cannot close '\(temporary)'")
            unlink(temporary)
            throw error
        }
        return temporary
    }
}

/// write(2), named apart from `BatchFileWriter.write`.
private func writeSome(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}
