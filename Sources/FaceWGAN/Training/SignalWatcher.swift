import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Turns SIGINT / SIGTERM into a flag the training loop polls between steps, so a signal finishes
/// the current step and the checkpoint instead of killing the process mid-write. `train` makes one
/// as soon as the engine has started, so a signal during start-up also waits for a safe point.
/// While one watches a signal, a tool's `SignalEnding` leaves that signal to it.
public final class SignalWatcher {
    private let lock = NSLock()
    private var signal: Int32?
    private var sources: [DispatchSourceSignal] = []
    private let signals: [Int32]
    /// Each signal's disposition before the watcher: what `restore` puts back.
    private var previous: [Int32: sighandler_t?] = [:]
    private var restored = false

    private static let watchingLock = NSLock()
    nonisolated(unsafe) private static var watchers: [Int32: Int] = [:]

    /// Whether a watcher is handling `signal` now.
    public static func isWatching(_ signal: Int32) -> Bool {
        watchingLock.lock()
        defer { watchingLock.unlock() }
        return watchers[signal, default: 0] > 0
    }

    public init(signals: [Int32]) {
        self.signals = signals
        Self.watchingLock.lock()
        for number in signals { Self.watchers[number, default: 0] += 1 }
        Self.watchingLock.unlock()
        for number in signals {
            previous[number] = Glibc.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in
                guard let self else { return }
                self.lock.lock()
                if self.signal == nil { self.signal = number }
                self.lock.unlock()
            }
            source.resume()
            sources.append(source)
        }
    }

    public var received: Int32? {
        lock.lock()
        defer { lock.unlock() }
        return signal
    }

    deinit { restore() }

    /// Stops watching: the signals get their earlier handling back (a tool's `SignalEnding`, or the
    /// default action).
    public func restore() {
        guard !restored else { return }
        restored = true
        for source in sources { source.cancel() }
        for number in signals { _ = Glibc.signal(number, previous[number] ?? SIG_DFL) }
        Self.watchingLock.lock()
        for number in signals { Self.watchers[number, default: 1] -= 1 }
        Self.watchingLock.unlock()
    }
}
