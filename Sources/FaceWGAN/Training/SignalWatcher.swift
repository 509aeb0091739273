import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Turns SIGINT / SIGTERM into a flag the training loop polls between steps, so a signal finishes
/// the current step and the checkpoint instead of killing the process mid-write. `train` makes one
/// as soon as the engine has started, so a signal during start-up also waits for a safe point.
public final class SignalWatcher {
    private let lock = NSLock()
    private var signal: Int32?
    private var sources: [DispatchSourceSignal] = []
    private let signals: [Int32]

    public init(signals: [Int32]) {
        self.signals = signals
        for number in signals {
            Glibc.signal(number, SIG_IGN)
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

    deinit { stopWatchingAndResetToDefault() }

    /// Stops watching and gives each watched signal its default action (SIG_DFL), whatever its
    /// disposition was before the watcher: a version that put the earlier ones back raced with a
    /// tool's own handler and lost a start-up signal (commits 0872b4f, 279e351).
    public func stopWatchingAndResetToDefault() {
        for source in sources { source.cancel() }
        for number in signals { Glibc.signal(number, SIG_DFL) }
    }
}
