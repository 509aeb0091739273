#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The temporary files of the `AtomicStreamFile`s not yet committed or abandoned, so that a tool ended
/// by a signal can remove them before it dies (`removeAllBeforeExit`): Ctrl-C during `sample --out`
/// leaves the images written so far and no ".000123.png.tmp-*" beside them.
/// Process-wide because a signal is; besides the thread pool, the one piece of global state.
public enum TemporaryFiles {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var paths = Set<String>()

    /// Runs `create`, which opens a temporary file and returns its descriptor and path, and records the
    /// path in the same critical section: a cleanup never runs between the two.
    static func recording(_ create: () throws -> (descriptor: Int32, path: String)) rethrows -> (descriptor: Int32, path: String) {
        lock.lock()
        defer { lock.unlock() }
        let file = try create()
        paths.insert(file.path)
        return file
    }

    /// Forgets `path` once it is renamed into place or removed.
    static func forget(_ path: String) {
        lock.lock()
        paths.remove(path)
        lock.unlock()
    }

    /// The temporary files live now (for tests).
    static var live: Set<String> {
        lock.lock()
        defer { lock.unlock() }
        return paths
    }

    /// Removes every live temporary file and keeps the lock, so no new one appears while the process
    /// ends: call it only right before the process ends.
    public static func removeAllBeforeExit() {
        lock.lock()
        for path in paths { unlink(path) }
        paths.removeAll()
    }
}
