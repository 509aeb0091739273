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
    /// The dispositions the watcher replaced (SIG_DFL or SIG_IGN before it): what `restore` puts back.
    private var previous: [Int32: sighandler_t?] = [:]
    private var restored = false

    private struct Registration { weak var watcher: SignalWatcher? }
    private static let registryLock = NSLock()
    nonisolated(unsafe) private static var registered: [Registration] = []

    /// Hands `signal` to every watcher of it (a watcher keeps the first it gets); false when none
    /// watches it. A tool's `SignalEnding` calls this, so a signal that reached only its handler,
    /// before this watcher's own source was listening, still stops the run.
    public static func deliver(_ signal: Int32) -> Bool {
        registryLock.lock()
        let watchers = registered.compactMap(\.watcher).filter { $0.signals.contains(signal) }
        registryLock.unlock()
        for watcher in watchers { watcher.record(signal) }
        return !watchers.isEmpty
    }

    public init(signals: [Int32]) {
        self.signals = signals
        Self.registryLock.lock()
        Self.registered.append(Registration(watcher: self))
        Self.registryLock.unlock()
        for number in signals {
            // Ignored, the signal reaches only dispatch, which installs its own handler for the source.
            // A handler already there (a tool's `SignalEnding`) is dispatch's: replacing it, even for a
            // moment, would drop a signal arriving then.
            if !Self.hasHandler(number) { previous[number] = Glibc.signal(number, SIG_IGN) }
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in self?.record(number) }
            source.resume()
            sources.append(source)
        }
    }

    /// Whether a handler function (not SIG_DFL or SIG_IGN) is installed for `number`.
    private static func hasHandler(_ number: Int32) -> Bool {
        var current = sigaction()
        guard sigaction(number, nil, &current) == 0 else { return false }
        let handler = unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self)
        return handler != unsafeBitCast(SIG_DFL, to: Int.self) && handler != unsafeBitCast(SIG_IGN, to: Int.self)
    }

    private func record(_ number: Int32) {
        lock.lock()
        if signal == nil { signal = number }
        lock.unlock()
    }

    public var received: Int32? {
        lock.lock()
        defer { lock.unlock() }
        return signal
    }

    deinit { restore() }

    /// Stops watching: the signals get their earlier handling back (a tool's `SignalEnding`, which
    /// stays installed, or the disposition the watcher replaced).
    public func restore() {
        guard !restored else { return }
        restored = true
        Self.registryLock.lock()
        Self.registered.removeAll { $0.watcher == nil || $0.watcher === self }
        Self.registryLock.unlock()
        for source in sources { source.cancel() }
        for (number, disposition) in previous { _ = Glibc.signal(number, disposition) }
    }
}
