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

    /// Runs `create`, which makes a temporary file and returns its path (nil when it made none), and
    /// records the path in the same critical section: a cleanup never runs between the two.
    static func recording<T>(_ create: () throws -> (T, path: String?)) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        let (value, path) = try create()
        if let path { paths.insert(path) }
        return value
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
