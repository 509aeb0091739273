import FaceEngine

/// Writes a batch of files into one directory the way `AtomicFile` writes one, with the durability
/// work shared: every file goes to an `AtomicStreamFile` and is fsynced (the files spread over the
/// threads), then all are renamed into place and the directory is fsynced once per batch instead of
/// once per file. A failure removes the batch's temporary files; files already renamed stay (each is
/// complete), and no half-written file ever carries a final name.
public enum BatchFileWriter {
    /// Writes `count` files: `name(i)` gets `contents(i)` (called on worker threads).
    public static func write(count: Int, directory: String, name: (Int) -> String,
                             contents: (Int) throws -> [UInt8]) throws {
        var files = [AtomicStreamFile?](repeating: nil, count: count)
        var errors = [Error?](repeating: nil, count: count)
        files.withUnsafeMutableBufferPointer { fileSlots in
            errors.withUnsafeMutableBufferPointer { errorSlots in
                Parallel.forEach(count) { index in
                    do {
                        let bytes = try contents(index)
                        let file = try AtomicStreamFile(path: directory + "/" + name(index))
                        do {
                            try file.write(bytes)
                            try file.syncAndClose()
                        } catch {
                            file.abandon()
                            throw error
                        }
                        fileSlots[index] = file
                    } catch {
                        errorSlots[index] = error
                    }
                }
            }
        }
        if let error = errors.lazy.compactMap({ $0 }).first {
            for case let file? in files { file.abandon() }
            throw error
        }
        for index in 0..<count {
            do {
                try files[index]!.commit(directorySync: .byCaller)
            } catch {
                for case let file? in files[index...] { file.abandon() }
                throw error
            }
        }
        try AtomicStreamFile.syncDirectory(directory, for: directory)
    }
}
